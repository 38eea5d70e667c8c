"""Architecture contracts, with the suite (issue 13): the layers, and one read path.

``lint-imports`` checks the contracts in pyproject.toml's ``[tool.importlinter]``
(plugins -> hub -> consent; no plugin imports another; the core imports no
face; screens, commands and plugins do not import hub.core.inbox). What
import-linter cannot say at module level, which modules may touch the inbox
item, household and outbound message tables at all, is checked here on the
syntax tree: only the read path (hub.core.reads) and the named write paths.
A page that queried a table itself is how a Veilig Thuis report reached a whole
wijk; a new one fails this test.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The household plan (issue 17) is read through hub.core.plan.read_plan alone, the same way.
GUARDED = frozenset({"InboxItem", "OutboundMessageRow", "Household", "PlanVersion",
                     "PlanResponse", "PlanProgress"})
TABLES = re.compile(r"\b(from|join|update|into)\s+(inbox_items|outbound_messages|households"
                    r"|plan_versions|plan_responses|plan_progress)\b",
                    re.IGNORECASE)
# Module -> why it may use the guarded tables. Everything else reads through hub.core.reads.
ALLOWED = {
    "hub/core/models.py": "defines the tables",
    "hub/core/reads.py": "THE read path: re-check, visibility, audit",
    "hub/core/plan.py": "THE read path of the plan (read_plan: wijk, role, capacity, audit) "
                        "and its versioned writes",
    "hub/core/caseload.py": "the read path's caseload: households and items, via reads' rules",
    "hub/core/inbox.py": "the re-check, one item's view, take up and close, the sender's status",
    "hub/core/router.py": "write path: creates the items",
    "hub/core/outbound.py": "write path: stores and delivers outbound messages",
    "hub/core/households.py": "write path: designation; the household of a subject",
    "hub/core/confidential.py": "write path: addresses new items; the visibility condition",
    "hub/core/residents.py": "write path: the resident registry creates households",
    "hub/core/retention.py": "write path: removes statute-based data past its limit",
    "hub/core/withholding.py": "write path: withholds a report on delivery",
    "hub/core/reencrypt.py": "key rotation re-seals the sealed columns",
    "hub/core/transparency.py": "the resident's own overview of their disclosures",
    # Issue 16: its reads of linked items go through reads.get_items.
    "hub/core/outreach.py": "write path: joins a routed item to its household's case (locking "
                            "the household row); takes up and closes the linked items",
    "hub/core/triage.py": "write path: attaches a triage item to a resident's household",
    "hub/core/questions.py": "write path: the resident's question becomes an inbox item",
    "hub/core/plan_sharing.py": "write path: sends plan agreements, decides a queued one again",
    # Counts of outbound messages per partner for the operator; no message is shown.
    "hub/web/beheer.py": "operator counts per partner (no message, no resident)",
}


def direct_uses(source: str) -> list[str]:
    """Where ``source`` names a guarded table: imports of its class, ``models.<Class>``,
    or SQL text naming it. Returns one line per use."""
    found = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            # By name, from any module: a re-export (say, a public surface for plugins)
            # must not become a way around the read path.
            found += [f"{node.lineno}: imports {a.name}" for a in node.names
                      if a.name in GUARDED or (a.name == "*" and node.module
                                               and node.module.startswith("hub.core.models"))]
        elif isinstance(node, ast.Attribute) and node.attr in GUARDED:
            found.append(f"{node.lineno}: uses .{node.attr}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and TABLES.search(node.value):
            found.append(f"{node.lineno}: SQL text on {TABLES.search(node.value).group(2)}")
    return found


def _modules() -> list[Path]:
    files = [*(ROOT / "hub").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")]
    return sorted(p for p in files if "migrations" not in p.parts)


def test_only_the_read_path_and_the_write_paths_touch_items_households_and_outbound():
    offenders = {}
    for path in _modules():
        name = path.relative_to(ROOT).as_posix()
        if name in ALLOWED:
            continue
        uses = direct_uses(path.read_text(encoding="utf-8"))
        if uses:
            offenders[name] = uses
    assert not offenders, (
        "read inbox items, households and outbound messages through hub.core.reads "
        f"(or add a write path to ALLOWED, with why): {offenders}")


def test_every_allowed_module_exists_and_still_needs_it():
    # An allowance that is no longer used is a hole waiting for the next page.
    for name in set(ALLOWED) - {"hub/core/models.py"}:
        path = ROOT / name
        assert path.exists(), name
        assert direct_uses(path.read_text(encoding="utf-8")), f"{name} no longer needs it"


@pytest.mark.parametrize("source", [
    "from hub.core.models import InboxItem\nrows = select(InboxItem)",
    "from hub.core import models\nrow = session.get(models.Household, key)",
    "from hub.core.models import *",
    "from hub.plugin import Household, outbound",
    "session.execute(text('SELECT * FROM outbound_messages WHERE id = :id'))",
])
def test_the_checker_sees_a_direct_query(source):
    assert direct_uses(source)


def test_the_checker_lets_other_tables_and_route_paths_pass():
    assert not direct_uses("from hub.core.models import Partner, Resident\n"
                           "url = '/api/v1/households/{household_id}'")


def test_the_import_contracts_hold():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    assert lint_imports.exists(), "import-linter is in the test extra: pip install -e '.[test]'"
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout
