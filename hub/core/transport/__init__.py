"""How work travels from the outbox to the workers (issue 3): one interface, two transports.

* embedded (the default): the outbox table is the queue; ``hub serve`` drains it
  in a child process (:mod:`.worker_process`) or a thread, woken by each commit
  that queues work (:mod:`hub.core.worker`, :mod:`hub.core.wakeup`).
* RabbitMQ (``HUB_BROKER_URL=amqp://…``, through pika): ``hub serve`` runs the
  API and the outbox relay (:mod:`.relay`), ``hub worker`` the consumers
  (:mod:`.consumer`) on the topology of :mod:`.topology`.

Both run the same unit of work (:mod:`.tasks`): route one message in one
transaction, idempotent by the outbox row, failures retried with exponential
backoff and, in the end, put in one dead-letter store (:mod:`hub.core.deadletters`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from hub.core.context import HubContext

log = logging.getLogger(__name__)


class Transport(Protocol):
    """What a serving process needs of its transport."""

    name: str

    def start(self) -> None:
        """Start this process's background part (embedded worker, or the relay)."""

    def stop(self) -> None:
        """Stop it, finishing what is in flight."""

    def health(self) -> dict[str, str]:
        """Readiness of what the transport depends on beyond the database, e.g. the broker."""

    def consent_changed(self, subject: str) -> None:
        """Tell every worker that ``subject``'s consent changed (after the commit)."""


def build_transport(ctx: HubContext, *, run_worker: bool,
                    worker_process: bool = False) -> Transport:
    """The transport the settings ask for; ``run_worker`` starts the embedded worker, in a
    child process with ``worker_process`` (:mod:`.worker_process`), else in a thread."""
    if ctx.settings.broker_url:
        from hub.core.transport.rabbitmq import RabbitTransport

        return RabbitTransport(ctx)
    from hub.core.transport.embedded import EmbeddedTransport

    return EmbeddedTransport(ctx, run_worker=run_worker, worker_process=worker_process)


def quiet_pika() -> None:
    """Keep pika's own tracebacks out of the log: the hub logs each broker failure once,
    as one line with the error type (a lost broker is an expected event, not a crash)."""
    logging.getLogger("pika").setLevel(logging.CRITICAL)


def call_consent_listeners(ctx: HubContext, subject: str) -> None:
    """Run every listener registered on the context; one failing listener stops none else."""
    for listener in list(ctx.consent_listeners):
        try:
            listener(subject)
        except Exception as exc:
            log.warning("consent listener failed: %s", type(exc).__name__)


def consent_changed(ctx: HubContext, subject: str) -> None:
    """After a consent change committed: let every worker (and this process) drop caches.

    Only the pseudonym travels, never a BSN. The decision itself reads consent
    from the database in the routing transaction, so this is an eager hint,
    never what correctness rests on.
    """
    transport = ctx.transport
    if transport is None:
        call_consent_listeners(ctx, subject)
    else:
        transport.consent_changed(subject)
