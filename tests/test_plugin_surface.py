"""The plugin public surface (issue 16): plugins build on ``hub.plugin`` and nothing else.

``lint-imports`` checks the contracts in ``[tool.importlinter]`` (``pyproject.toml``):
no plugin imports the app's internals or another plugin. What import-linter cannot
say — that ``from hub import hookimpl`` goes through ``hub.plugin`` too — is checked
here on the source.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import hub.plugin
from hub.core.plugins import load_plugins

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_the_plugin_contracts_hold():
    run = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Plugins import the hub only through hub.plugin KEPT" in run.stdout
    assert "A plugin never imports another plugin KEPT" in run.stdout


def _hub_imports(path: Path) -> list[str]:
    """Every module of the hub or the consent registry that ``path`` imports."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return [m for m in found if m.split(".")[0] in ("hub", "consent")]


def test_plugins_import_the_hub_only_as_hub_plugin():
    files = sorted((ROOT / "plugins").rglob("*.py"))
    assert files
    wrong = {str(f.relative_to(ROOT)): m for f in files for m in _hub_imports(f)
             if m != "hub.plugin"}
    assert wrong == {}


def test_every_name_the_surface_promises_is_there():
    missing = [name for name in hub.plugin.__all__ if not hasattr(hub.plugin, name)]
    assert missing == []
    assert hub.plugin.hookimpl is __import__("hub").hookimpl


def test_the_quick_start_plugin_in_the_docstring_loads_and_serves_its_type():
    doc = hub.plugin.__doc__
    code = doc.split("an arrears partner in three lines::", 1)[1].split("Any other partner")[0]
    module = ModuleType("mypartner_plugin")
    exec(textwrap.dedent(code), module.__dict__)
    plugins = load_plugins(extra=(module,), entry_points=False)
    mt = plugins.catalog.type("signal.arrears.phone")
    assert mt is not None and mt.partner_kinds == ("mypartner",)
    assert mt.summary({"amount_eur": "10.00"}) == "Achterstand telefoonrekening van € 10,00"
