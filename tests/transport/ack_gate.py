"""``hub worker`` whose first batch ack is held: committed, never acknowledged.

``python -m tests.transport.ack_gate worker`` runs the real CLI with one change:
the first ``basic_ack(multiple=True)`` (the ack of a routed window, sent after
its commit) writes the file named by ``WIJKHUB_ACK_GATE`` and then blocks until
the process is killed. ``test_faults.py`` SIGKILLs it there, between the commit
and the ack of a batch (issue 14).
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from pika.adapters.blocking_connection import BlockingChannel

_ack = BlockingChannel.basic_ack


def _held(self, delivery_tag=0, multiple=False):
    if multiple:
        Path(os.environ["WIJKHUB_ACK_GATE"]).write_text(str(delivery_tag))
        threading.Event().wait()  # until SIGKILL: the ack is never sent
    return _ack(self, delivery_tag, multiple)


BlockingChannel.basic_ack = _held

if __name__ == "__main__":
    from hub.cli import main

    sys.exit(main())
