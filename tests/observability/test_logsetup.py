"""Log format: JSON lines in production (python-json-logger), readable text elsewhere."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.core import correlation
from hub.core.logsetup import configure_logging, effective_format
from hub.settings import Settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def restore_root_logging() -> Iterator[None]:
    """configure_logging changes the root logger: put it back for the other tests."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.mark.parametrize(("env", "given", "expected"), [
    ({"env": "production"}, None, "json"),
    ({"env": "development"}, None, "text"),
    ({"env": "production"}, "text", "text"),
    ({"env": "development"}, "json", "json"),
])
def test_json_in_production_unless_told_otherwise(env, given, expected):
    assert effective_format(Settings(**env, log_format=given)) == expected


def test_a_bad_log_format_is_refused_by_name():
    with pytest.raises(ValueError, match="log_format"):
        Settings(log_format="xml")


def test_json_lines_carry_level_logger_message_and_correlation_id(restore_root_logging):
    out = io.StringIO()
    configure_logging(Settings(log_format="json"), stream=out)
    configure_logging(Settings(log_format="json"), stream=out)  # again: still one handler
    log = logging.getLogger("hub.test")
    with correlation.bound("corr-42"):
        log.info("message %s accepted", "m-1")
    log.warning("no id bound here")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert {k: first[k] for k in ("level", "logger", "message", "correlation_id")} == {
        "level": "INFO", "logger": "hub.test", "message": "message m-1 accepted",
        "correlation_id": "corr-42"}
    assert "time" in first
    assert second["correlation_id"] is None and second["level"] == "WARNING"


def test_text_lines_name_the_correlation_id_when_bound(restore_root_logging):
    out = io.StringIO()
    configure_logging(Settings(log_format="text", log_level="WARNING"), stream=out)
    log = logging.getLogger("hub.test")
    log.info("below the level")
    with correlation.bound("corr-7"):
        log.warning("retrying")
    log.warning("plain")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("WARNING hub.test retrying [corr-7]")
    assert lines[1].endswith("WARNING hub.test plain")


def test_the_cli_logs_json_in_production(tmp_path):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    environ.update({"HUB_DATA_DIR": str(tmp_path / "data"), "HUB_ENV": "production",
                    "HUB_LOG_LEVEL": "DEBUG"})
    # Alembic logs each migration it runs: those lines must come out as JSON too.
    result = subprocess.run([sys.executable, "-m", "hub.cli", "db", "upgrade"],
                            capture_output=True, text=True, env=environ, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert lines and all({"time", "level", "logger", "message"} <= set(rec) for rec in lines)
