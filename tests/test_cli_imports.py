"""A ``hub`` command loads what it uses (issue 18): every README, demo and CLI test, and
every operator, pays a command's start-up, and most of it was the web stack.

Checked in a fresh interpreter by what ends up in ``sys.modules``, never by a time.
"""

from __future__ import annotations

import json
import subprocess
import sys

WEB_AND_FHIR = ("fastapi", "starlette.routing", "fhir.resources", "hub.api.deps",
                "notifications_python_client")
# httpx imports click and rich for its own command line (~0.15 s): loaded by the processes
# that deliver or discover an issuer (ctx.http, oidc), not by every command.
HTTP_CLIENT = ("httpx", "click")
# What a few code paths need and every command paid for at start-up (about 0.2 s):
# contact validation (phone, e-mail), token signing, and PostgreSQL's SQL dialect.
LOADED_WHEN_USED = ("phonenumbers", "email_validator", "jwt", "sqlalchemy.dialects.postgresql")


def _modules_after(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; which modules it loaded, and what it printed."""
    script = (f"import sys\n{code}\n"
              "import json; print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, check=True)
    *printed, modules = out.stdout.strip().splitlines()
    return {"modules": set(json.loads(modules)), "printed": printed}


def test_loading_every_plugin_loads_no_web_framework_and_no_fhir_models():
    run = _modules_after("from hub.core.plugins import load_plugins\n"
                         "plugins = load_plugins()\n"
                         "print(sorted(plugins.catalog.types))")
    assert "plugins.huisarts" in run["modules"] and "plugins.veiligthuis" in run["modules"]
    assert "referral.gp" in run["printed"][0] and "safety.report" in run["printed"][0]
    assert [m for m in (*WEB_AND_FHIR, *HTTP_CLIENT) if m in run["modules"]] == []


def _command(data_dir, *argv: str) -> dict:
    """``hub ARGV`` run by ``main`` in a fresh interpreter on ``data_dir``; as _modules_after."""
    return _modules_after("import contextlib, io, os\n"
                          f"os.environ['HUB_DATA_DIR'] = {str(data_dir)!r}\n"
                          "from hub.cli import main\n"
                          "with contextlib.redirect_stdout(io.StringIO()):\n"
                          f"    code = main({list(argv)!r})\n"
                          "print(code)")


def test_a_command_on_sqlite_loads_no_validator_token_library_or_postgres_dialect(tmp_path):
    assert _command(tmp_path, "db", "upgrade")["printed"] == ["0"]  # migrating loads Alembic
    run = _command(tmp_path, "partner", "list")
    assert run["printed"] == ["0"]
    assert "hub.core.arrears" in run["modules"] and "hub.core.identity" in run["modules"]
    assert [m for m in LOADED_WHEN_USED if m in run["modules"]] == []


def test_the_plugins_routes_are_still_served():
    run = _modules_after("import json\n"
                         "from hub.core.plugins import load_plugins\n"
                         "paths = [r.path for router in load_plugins().routers()\n"
                         "         for r in router.routes]\n"
                         "print(json.dumps(paths))")
    paths = json.loads(run["printed"][0])
    assert "/api/v1/veiligthuis/reports" in paths
    assert any(p.startswith("/fhir/r4") for p in paths)


def test_a_core_command_is_parsed_without_loading_the_plugins():
    run = _modules_after("from hub.cli import build_parser\n"
                         "args = build_parser(['residents', 'import', 'x.csv'])"
                         ".parse_args(['residents', 'import', 'x.csv'])\n"
                         "print(args.func.__name__)")
    assert run["printed"] == ["cmd_residents_import"]
    assert not any(m.startswith("plugins.") for m in run["modules"])
    assert [m for m in WEB_AND_FHIR if m in run["modules"]] == []


def test_help_and_a_plugins_command_still_see_every_command_group():
    run = _modules_after("from hub.cli import build_parser\n"
                         "for argv in (['--help'], ['wmo', 'x']):\n"
                         "    sub = build_parser(argv)._subparsers._group_actions[0]\n"
                         "    print(' '.join(sorted(sub.choices)))")
    for line in run["printed"]:
        assert {"residents", "serve", "wmo"} <= set(line.split())
