"""Group commit on the way in (issue 14): concurrent messages share one transaction.

Each ``POST /api/v1/messages`` validates its message itself (a bad one is
answered 4xx at once) and then hands it to the process's :class:`GroupCommitter`.
There is no background thread: the first caller to find nobody committing
becomes the *leader*. When the group before it had more than one message (others
are sending), it waits up to ``HUB_INGEST_GROUP_MS`` for them (or until
``HUB_INGEST_GROUP_SIZE`` are waiting); after a group of one it does not wait
(nobody else is sending, so waiting would only delay). It builds the group's rows
(ids, sealed payloads: :func:`hub.core.ingest.message_rows`) before the transaction
opens, stores them with bulk statements (:func:`hub.core.ingest.store_rows`) in one
transaction, lets the plugins check each new message (``wijkhub_message_received``), commits once,
and then wakes every member with its receipt. Whoever queued meanwhile forms
the next group; the leader hands the lead to the first of them before it
returns.

The plugins' check is optimistic: refusals are rare, so the whole group is
checked without savepoints (no ``SAVEPOINT``/``RELEASE`` round trips, no nested
transaction per message). Only when some plugin raises is the group's
transaction rolled back and the group stored again, each message's check then
in a savepoint of its own, so that a refusal removes that message only. In that
second pass a plugin sees the other messages of the group a second time; what
it wrote in the first pass was rolled back with it.

The API awaits :meth:`GroupCommitter.accept_async` on its event loop: a request
whose message joins a group waits on a future, not in a thread of the pool, and
the members of a group on one loop are woken with one call. A request that
finds nobody committing starts a leader on a thread of the loop's executor, which commits groups
for as long as messages wait, and answers each request as its group commits.
(:meth:`GroupCommitter.accept` is the same for threads: a thread that leads
commits its own group, then hands the lead to the next waiting caller.)

A caller may hand over the snapshot of the partner key it was let in with
(:class:`~hub.core.partner_keys.VerifiedKey`, ``POST /api/v1/messages`` does):
the group's transaction then first re-checks every key of the group with one
statement (:func:`~hub.core.partner_keys.stale_keys`), and a message whose key is
revoked, expired or of an inactive partner is not stored; its caller gets
:class:`~hub.core.partner_keys.KeyRefused`. One whose key hash or partner's pins
changed is not stored either; its caller gets
:class:`~hub.core.partner_keys.KeyChanged` (check the key in full, send again).
The key is thus checked in the very transaction that stores the message.

What each caller is promised is what a transaction of its own promised:

- its receipt comes only after the commit that made its message durable;
- the same ``source_ref`` twice, in one group or across groups, is stored once
  and both receipts carry the first id;
- a plugin's refusal (a :class:`HubProblem`) removes that message only, and
  that caller gets the problem;
- when the group's transaction fails, every caller in it gets
  :class:`Unavailable` (the API answers 503), and nothing of the group is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import delete

from hub.core import correlation
from hub.core.context import HubContext
from hub.core.errors import HubProblem
from hub.core.ingest import (
    Accepted,
    ValidMessage,
    count_rejected,
    log_accepted,
    message_rows,
    store_rows,
)
from hub.core.models import Message, OutboxEntry
from hub.core.partner_keys import VerifiedKey, stale_keys
from hub.core.types import ReceivedMessage

log = logging.getLogger(__name__)


class Unavailable(RuntimeError):
    """The group's transaction failed: nothing of this message was stored; send it again."""


@dataclass(eq=False)
class _Waiting:
    """One caller's message and, once its group committed, its receipt or error."""

    partner: Any
    valid: ValidMessage
    body: Any
    now: datetime
    cid: str
    key: VerifiedKey | None = None
    # An awaiting caller's loop and future; a thread's caller waits on ``done`` (made
    # only for it: an Event is a Condition and a lock, a cost per request for nothing).
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future | None = None
    done: threading.Event | None = None
    lead: bool = False
    # Its ``messages`` row, built before the group's transaction (message_rows).
    row: dict | None = None
    result: Accepted | None = None
    error: BaseException | None = None

    def outcome(self) -> Accepted:
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


class GroupCommitter:
    """Collects the validated messages of concurrent requests and commits them together."""

    def __init__(self, ctx: HubContext) -> None:
        self.ctx = ctx
        self._lock = threading.Lock()
        self._queue: list[_Waiting] = []
        self._leading = False
        self._full = threading.Event()
        # Whether the last group had company: only then does a leader wait for others.
        self._crowded = True
        # Leaders started by awaiting callers, kept so they are not collected early.
        self._leaders: set[asyncio.Future] = set()

    @property
    def window(self) -> float:
        """Seconds a leader waits for others before it commits."""
        return self.ctx.settings.ingest_group_ms / 1000

    @property
    def size(self) -> int:
        """The most messages one transaction takes."""
        return self.ctx.settings.ingest_group_size

    def accept(self, *, partner: Any, valid: ValidMessage, body: Any,
               now: datetime, key: VerifiedKey | None = None) -> Accepted:
        """Store ``valid`` durably (with others); returns its receipt after the commit.

        Blocks the calling thread until then. Raises the plugin's :class:`HubProblem`
        when a plugin refused it, :class:`KeyRefused` when ``key`` (the snapshot the
        caller was let in with) is refused in the group's transaction,
        :class:`KeyChanged` when it is good but changed since (check it again),
        :class:`Unavailable` when the commit failed.
        """
        me = self._waiting(partner, valid, body, now, key)
        me.done = threading.Event()
        if not self._enqueue(me):
            me.done.wait()
            if not me.lead:
                return me.outcome()
            me.done.clear()  # handed the lead: its own receipt comes with its group
        self._lead(me)
        return me.outcome()

    async def accept_async(self, *, partner: Any, valid: ValidMessage, body: Any,
                           now: datetime, key: VerifiedKey | None = None) -> Accepted:
        """:meth:`accept` for a caller on an event loop: the same promises, awaited.

        The caller holds no thread while it waits. When nobody is committing, a leader
        starts on the loop's default executor and commits groups while messages wait.
        """
        loop = asyncio.get_running_loop()
        me = self._waiting(partner, valid, body, now, key)
        me.loop, me.future = loop, loop.create_future()
        if self._enqueue(me):
            self._start_leader(loop)
        await me.future
        return me.outcome()

    def _waiting(self, partner: Any, valid: ValidMessage, body: Any, now: datetime,
                 key: VerifiedKey | None) -> _Waiting:
        # A snapshot: the request's session may expire its partner object meanwhile.
        who = SimpleNamespace(id=partner.id, name=partner.name, kind=partner.kind)
        return _Waiting(partner=who, valid=valid, body=body, now=now, key=key,
                        cid=correlation.current() or correlation.new_id())

    def _enqueue(self, me: _Waiting) -> bool:
        """Queue ``me``; True when its caller must lead (nobody was committing)."""
        with self._lock:
            self._queue.append(me)
            if len(self._queue) >= self.size:
                self._full.set()
            lead = not self._leading
            self._leading = True
        return lead

    def _start_leader(self, loop: asyncio.AbstractEventLoop) -> None:
        """On ``loop``: a leader on the loop's default executor, until nobody waits."""
        # The default executor, not the request threadpool: the leader never takes a
        # place that a request's own blocking work (argon2 on a key miss) waits for.
        leader = loop.run_in_executor(None, self._lead, None)
        self._leaders.add(leader)
        leader.add_done_callback(self._leaders.discard)

    def _lead(self, me: _Waiting | None) -> None:
        """Commit groups. A thread's caller (``me``) leads its own group, then hands the
        lead on; a leader of its own (``me`` None) goes on until nobody waits."""
        while True:
            if self.window > 0 and self._crowded:
                # Others are sending: wait for them, so that one commit serves them all.
                # A lone sender (the last group was its message alone) is not kept
                # waiting for company that does not come: on a quiet hub, and that is
                # most hours of most hubs, the window was a message's largest delay.
                self._full.wait(self.window)
            with self._lock:
                group, self._queue = self._queue[:self.size], self._queue[self.size:]
                if len(self._queue) < self.size:
                    self._full.clear()
            self._crowded = len(group) > 1
            try:
                self._commit(group)
            finally:
                stop = self._next_lead(me)
            if stop:
                return

    def _next_lead(self, me: _Waiting | None) -> bool:
        """After a group: True when this leader stops (the lead handed on, or nobody waits)."""
        with self._lock:
            if not self._queue:
                self._leading = False
                return True
            if me is None:
                return False
            nxt = self._queue[0]
            if nxt.loop is None:
                nxt.lead = True
                nxt.done.set()
                return True
        try:
            nxt.loop.call_soon_threadsafe(self._start_leader, nxt.loop)
        except RuntimeError:
            # That caller's loop is closed: lead on here rather than leave the queue stuck.
            return False
        return True

    def _commit(self, group: list[_Waiting]) -> None:
        ctx = self.ctx
        try:
            # Ids, keyed references and sealed payloads before the transaction opens:
            # none of it needs the database, and on SQLite the transaction holds the
            # one write lock that the routing process waits for (issue 14).
            rows = message_rows(ctx, [(w.partner, w.valid) for w in group],
                                [w.now for w in group], [w.cid for w in group])
            for waiting, row in zip(group, rows, strict=True):
                waiting.row = row
            try:
                self._store(group, careful=False)
            except _Redo:
                # A plugin raised in the optimistic pass; that transaction is rolled
                # back. Again, each message's check in a savepoint of its own (the same
                # rows: nothing of them was stored).
                self._store(group, careful=True)
        except Exception as exc:
            # The type only: the error's text may quote SQL parameters (message data).
            log.error("ingest group of %s failed to commit: %s", len(group),
                      type(exc).__name__)
            for waiting in group:
                waiting.result = None
                waiting.error = Unavailable(type(exc).__name__)
        else:
            ctx.work_available.set()
            for waiting in group:
                if waiting.result is not None:
                    log_accepted(accepted=waiting.result, type_=waiting.valid.incoming.type,
                                 partner_id=waiting.partner.id, cid=waiting.cid)
        finally:
            _wake(group)

    def _store(self, group: list[_Waiting], *, careful: bool) -> None:
        """Store the group in one transaction and let the plugins check it.

        Not ``careful``: one pass without savepoints; raises :class:`_Redo` (the
        transaction rolled back, nothing stored) when any plugin raised. ``careful``:
        each check in a savepoint; the refused messages are removed.
        """
        ctx = self.ctx
        with ctx.sessions() as session, session.begin():
            stale = stale_keys(session=session, now=ctx.clock(),
                               keys=[w.key for w in group if w.key is not None])
            for waiting in group:
                # Set afresh in each pass: the careful pass reads the keys again.
                waiting.error = stale.get(waiting.key)
            group = [w for w in group if w.error is None]
            if not group:
                return
            receipts = store_rows(session=session, rows=[w.row for w in group])
            if not careful:
                self._check_all(session, group, receipts)
                refused: dict[str, Exception] = {}
            else:
                refused = self._check_each(session, group, receipts)
            if refused:
                # Refused by a plugin: the message and its outbox row go, nothing else.
                session.execute(delete(OutboxEntry).where(
                    OutboxEntry.message_id.in_(refused)))
                session.execute(delete(Message).where(Message.id.in_(refused)))
            for waiting, receipt in zip(group, receipts, strict=True):
                if waiting.error is None and receipt.id in refused:
                    # The same message twice in one group, its first refused.
                    waiting.error = refused[receipt.id]
                if waiting.error is not None:
                    continue
                waiting.result = receipt
                ctx.metrics.message_in(
                    partner=waiting.partner.name, type=waiting.valid.incoming.type,
                    outcome="accepted" if receipt.created else "duplicate",
                    session=session)

    def _received(self, waiting: _Waiting, receipt: Accepted) -> ReceivedMessage:
        valid = waiting.valid
        return ReceivedMessage(
            id=receipt.id, type=valid.incoming.type, source_ref=valid.incoming.source_ref,
            partner_id=waiting.partner.id, partner_kind=waiting.partner.kind,
            subject=valid.subject, data=valid.data, received_at=waiting.now)

    def _check_all(self, session, group: list[_Waiting], receipts: list[Accepted]) -> None:
        """Let the plugins check every new message, no savepoints; :class:`_Redo` if any
        raised (leaving the session's transaction to the caller's rollback)."""
        hook = self.ctx.plugins.message_received
        for waiting, receipt in zip(group, receipts, strict=True):
            if not receipt.created:
                continue
            try:
                with correlation.bound(waiting.cid):
                    hook(session=session, ctx=self.ctx, message=self._received(waiting, receipt))
            except Exception:
                # Neither counted nor logged here: the careful pass meets it again and
                # answers it (a plugin's check sees the same message and state).
                raise _Redo from None
        try:
            # What the plugins added is written now, as each savepoint's release would:
            # a write that fails is a plugin's failure, answered by the careful pass.
            session.flush()
        except Exception:
            raise _Redo from None

    def _check_each(self, session, group: list[_Waiting],
                    receipts: list[Accepted]) -> dict[str, Exception]:
        """Let the plugins check each new message in a savepoint; returns the refused."""
        refused: dict[str, Exception] = {}
        for waiting, receipt in zip(group, receipts, strict=True):
            if not receipt.created:
                continue
            try:
                with session.begin_nested(), correlation.bound(waiting.cid):
                    self.ctx.plugins.message_received(
                        session=session, ctx=self.ctx, message=self._received(waiting, receipt))
            except HubProblem as problem:
                refused[receipt.id] = waiting.error = problem
                count_rejected(ctx=self.ctx, partner=waiting.partner, body=waiting.body)
            except Exception as exc:
                # A plugin's bug fails its own message (as it did alone), not the group.
                log.error("plugin failed on message %s: %s", receipt.id, type(exc).__name__)
                refused[receipt.id] = waiting.error = exc
        return refused


class _Redo(Exception):
    """A plugin raised in the optimistic pass: store the group again, carefully."""


def _wake(group: list[_Waiting]) -> None:
    """Wake every member of a committed (or failed) group: one call per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future]] = {}
    for waiting in group:
        if waiting.loop is None:
            waiting.done.set()
        else:
            by_loop.setdefault(waiting.loop, []).append(waiting.future)
    for loop, futures in by_loop.items():
        # A closed loop: nobody awaits these any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_resolve, futures)


def _resolve(futures: list[asyncio.Future]) -> None:
    for future in futures:
        if not future.done():  # a caller that went away cancelled its own
            future.set_result(None)
