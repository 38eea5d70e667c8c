"""``hub batch import FILE --partner NAME``: a partner's CSV file, imported from disk.

The same core path as ``POST /api/v1/messages/batch`` (hub.core.batch): the file
is streamed, committed in chunks, and each line is idempotent. The batch is
keyed by the partner and the file's SHA-256, so running the same command again
after a crash or Ctrl-C continues after the last committed chunk; a file that
was imported completely is reported, not imported again. A progress bar (tqdm)
goes to stderr, counts only; the summary is one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import codecs
import hashlib
import json
import logging
import shutil
import sys
from pathlib import Path

from hub.cli.common import CommandError, add_command, add_group, hub_context

_BLOCK = 1024 * 1024
_ERRORS_SHOWN = 20


def scan_file(path: Path) -> tuple[str, int]:
    """The file's SHA-256 and its number of lines, read in blocks; refuses non-UTF-8.

    Checked before anything is stored, so a bad byte in line 90,000 refuses the
    file rather than leaving it half imported.
    """
    digest, decoder = hashlib.sha256(), codecs.getincrementaldecoder("utf-8")()
    lines, last = 0, b"\n"
    try:
        with open(path, "rb") as fh:
            while block := fh.read(_BLOCK):
                digest.update(block)
                decoder.decode(block)
                lines += block.count(b"\n")
                last = block[-1:]
            decoder.decode(b"", final=True)
    except OSError as exc:
        raise CommandError(f"{path}: {exc.strerror or type(exc).__name__}") from None
    except UnicodeDecodeError:
        raise CommandError(f"{path}: must be UTF-8 encoded CSV; nothing imported") from None
    return digest.hexdigest(), lines + (last != b"\n")


def _partner(session, name: str):
    from sqlalchemy import select

    from hub.core.models import Partner

    partner = session.scalar(select(Partner).where(Partner.name == name))
    if partner is None:
        raise CommandError(f"no partner named {name!r}")
    session.expunge(partner)
    return partner


def cmd_batch_import(args: argparse.Namespace) -> int:
    """Import a CSV batch for a partner with a progress bar; resumable (see module doc)."""
    checksum, physical_lines = scan_file(args.file)
    ctx = hub_context()
    with ctx.sessions() as session:
        partner = _partner(session, args.partner)
    ingest_log = logging.getLogger("hub.core.ingest")
    level = ingest_log.level
    if not args.verbose:
        # One INFO line per accepted message would bury the progress bar; the batch's
        # own summary line stays. --verbose keeps them.
        ingest_log.setLevel(logging.WARNING)
    try:
        return _import(args, ctx, partner, checksum, physical_lines)
    finally:
        ingest_log.setLevel(level)


def _import(args: argparse.Namespace, ctx, partner, checksum: str, physical_lines: int) -> int:
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    from hub.core import correlation
    from hub.core.audit import cli_actor, record_event
    from hub.core.batch import BatchConflict, open_batch, run_batch
    from hub.core.errors import HubProblem

    with open(args.file, encoding="utf-8-sig", newline="") as fh, \
            correlation.bound(correlation.new_id()):
        try:
            opened = open_batch(ctx=ctx, partner=partner, lines=fh, now=ctx.clock(),
                                checksum=checksum, lines_total=physical_lines)
        except HubProblem as problem:
            raise CommandError(f"{args.file}: {problem.detail}") from None
        data_lines = max(physical_lines - 1, 0)
        done_before = max(opened.resumed_from - 1, 0)
        imported_before = opened.batch.status == "done"
        if imported_before:
            print(f"{args.file} was imported before (batch {opened.id}); nothing to do",
                  file=sys.stderr)
        elif done_before:
            print(f"continuing batch {opened.id} after line {opened.resumed_from}",
                  file=sys.stderr)
        # Counts only: nothing of a line's contents is ever shown. On a terminal the bar
        # redraws in place; elsewhere (a log, a pipe) tqdm writes a new state now and then.
        # A terminal that reports no size (some ptys say 0x0) would make tqdm hide the
        # bar: its size comes from shutil, which falls back to 100x24.
        size = shutil.get_terminal_size((100, 24))
        bar = tqdm(total=data_lines, initial=min(done_before, data_lines), unit=" lines",
                   desc=opened.fmt.message_type, file=sys.stderr, mininterval=0.5,
                   ncols=size.columns, nrows=size.lines, disable=args.no_progress)

        def progress(p) -> None:
            bar.update(min(max(p.lines_done - 1, 0), data_lines) - bar.n)
            bar.set_postfix_str(f"accepted={p.accepted} duplicates={p.duplicates} "
                                f"rejected={p.rejected}", refresh=False)

        try:
            # Log lines (the batch's summary, a warning) go above the bar, not through it.
            with logging_redirect_tqdm():
                batch = run_batch(ctx=ctx, opened=opened, progress=progress)
        except BatchConflict as exc:
            raise CommandError(f"{exc}; it is being imported elsewhere") from None
        except KeyboardInterrupt:
            bar.close()
            print(f"interrupted: run the same command again to continue batch {opened.id}",
                  file=sys.stderr)
            return 130
        bar.update(data_lines - bar.n)
        bar.close()
    with ctx.sessions() as session, session.begin():
        record_event(session, ctx=ctx, action="admin.batch.import", **cli_actor(),
                     data={"batch_id": batch.id, "partner_id": partner.id,
                           "message_type": batch.message_type, "accepted": batch.accepted,
                           "duplicates": batch.duplicates, "rejected": batch.rejected,
                           "resumed_from": opened.resumed_from})
    _print_errors(ctx, batch.id)
    print(json.dumps({"batch_id": batch.id, "status": batch.status, "total": batch.total,
                      "accepted": batch.accepted, "duplicates": batch.duplicates,
                      "rejected": batch.rejected,
                      "imported_before": imported_before,
                      "resumed_after_line": opened.resumed_from
                      if done_before and not imported_before else None}))
    return 0 if batch.rejected == 0 else 1


def _print_errors(ctx, batch_id: str) -> None:
    from sqlalchemy import func, select

    from hub.core.models import BatchError

    with ctx.sessions() as session:
        where = BatchError.batch_id == batch_id
        count = session.scalar(select(func.count()).select_from(BatchError).where(where))
        for e in session.scalars(select(BatchError).where(where)
                                 .order_by(BatchError.line, BatchError.id).limit(_ERRORS_SHOWN)):
            print(f"line {e.line}: {e.field} {e.reason}", file=sys.stderr)
    if count > _ERRORS_SHOWN:
        print(f"... and {count - _ERRORS_SHOWN} more (GET /api/v1/batches/{batch_id})",
              file=sys.stderr)


def register(sub) -> None:
    """Add this module's commands to the ``hub`` grammar."""
    batch = add_group(sub, "batch", "CSV batches of partners")
    imp = add_command(batch, "import", cmd_batch_import,
                      "import a partner's CSV batch (resumable: run it again to continue)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--partner", required=True, help="the partner's registered name")
    imp.add_argument("--no-progress", action="store_true", help="no progress bar")
    imp.add_argument("--verbose", action="store_true",
                     help="log every accepted message, not only the summary")
