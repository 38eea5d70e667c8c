"""The fixtures that keep one test's process-wide changes from reaching the next."""

from __future__ import annotations

import io
import logging

from hub.core.logsetup import configure_logging
from tests.utils.isolation import logging_restored


def test_a_handler_on_a_test_stream_does_not_outlive_the_test():
    root = logging.getLogger()
    before = list(root.handlers), root.level
    stream = io.StringIO()
    with logging_restored():
        configure_logging(None, stream=stream)  # what an in-process CLI run does
        assert any(getattr(h, "stream", None) is stream for h in root.handlers)
    stream.close()  # as capsys closes its stream after the test
    assert (list(root.handlers), root.level) == before
    assert not any(getattr(h, "stream", None) is stream for h in root.handlers)
