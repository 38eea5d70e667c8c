"""The README's "Running the hub" section, walked line by line in a fresh shell (issue 15).

Every ``sh`` block of the section runs, in order, in one ``bash`` without a
profile, without the virtual environment on the PATH and without any ``HUB_*``
setting, in a temporary directory that holds only the repository's ``.venv`` and
``examples/`` (so ``HUB_DATA_DIR=./var`` is temporary too). The one change the
test makes is to the long-running server: each line in ``SERVER_COMMANDS`` is
started in the background on a free port (``8000`` becomes that port in every
line) and stopped at the end.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hub.core.mode import SAFE_MODE_WARNING

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Running the hub"
# Lines that do not return until stopped: the test runs them in the background.
SERVER_COMMANDS = ("hub serve --host 127.0.0.1 --port 8000",)


def _section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"\n{SECTION}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def _blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", _section(), re.S)


def _command(line: str) -> str:
    """A line without its trailing comment (two spaces and #, as the README writes them)."""
    return re.split(r"\s{2,}#", line, maxsplit=1)[0].strip()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _script(port: int) -> tuple[str, list[str]]:
    """The section as one bash script, servers in the background; and the servers found."""
    lines, servers = ["set -euo pipefail", "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT"], []
    for block in _blocks():
        for line in block.splitlines():
            if _command(line) in SERVER_COMMANDS:
                servers.append(_command(line))
                command = _command(line).replace("8000", str(port))
                lines += [f"{command} > serve.log 2>&1 &",
                          # Wait for the condition (ready), not for a fixed time.
                          f"for _ in $(seq 600); do curl -sf 127.0.0.1:{port}/readyz >/dev/null"
                          " && break; kill -0 $! || exit 9; sleep 0.1; done"]
            else:
                lines.append(line.replace("localhost:8000", f"localhost:{port}"))
    return "\n".join(lines) + "\n", servers


def test_the_section_has_commands_and_the_server_exceptions_are_servers():
    commands = [_command(line) for block in _blocks() for line in block.splitlines()]
    assert commands[0] == ". .venv/bin/activate"  # "command not found" otherwise
    for server in SERVER_COMMANDS:
        assert server in commands and server.startswith("hub serve")


def _venv(tmp: Path) -> None:
    """``tmp/.venv``: the virtual environment these tests run in (as the README made it)."""
    if sys.prefix != sys.base_prefix:
        (tmp / ".venv").symlink_to(Path(sys.prefix))
        return
    # Not in a virtual environment: an activate script that does what venv's does.
    bin_dir = tmp / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "activate").write_text(f'export PATH="{Path(sys.executable).parent}:$PATH"\n')


def test_every_command_of_the_section_works_pasted_in_order(tmp_path):
    _venv(tmp_path)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    port = _free_port()
    script, servers = _script(port)
    assert servers == list(SERVER_COMMANDS)
    (tmp_path / "walk.sh").write_text(script)
    env = {"HOME": str(tmp_path), "PATH": "/usr/local/bin:/usr/bin:/bin",
           "LANG": "C.UTF-8", "PS4": "+ README: "}
    ran = subprocess.run(["bash", "--noprofile", "--norc", "-x", "walk.sh"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=600, check=False)
    trace = ran.stderr[-4000:]
    assert ran.returncode == 0, f"a README line failed:\n{trace}\n{ran.stdout[-2000:]}"
    out = [line for line in ran.stdout.splitlines() if line.strip()]
    parsed = [json.loads(line) for line in out if line.startswith("{")]
    assert {"file": "examples/gemeente.toml", "ok": True}.items() <= parsed[0].items()
    assert any(p.get("imported") == 3 and p.get("rejected") == 0 for p in parsed), out
    assert any(p.get("accepted") == 2 and p.get("rejected") == 0 for p in parsed), out
    assert any(set(p) == {"id", "status"} and p["status"] == "received" for p in parsed), out
    assert (tmp_path / "var" / "hub.sqlite3").exists()
    assert SAFE_MODE_WARNING in (tmp_path / "serve.log").read_text()
    tokens = [line for line in out if re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+", line)]
    assert len(tokens) == 4  # the development block: regisseur, team lead, resident, operator
    assert "100000411" not in "\n".join(out[:-4])  # a BSN is never printed
