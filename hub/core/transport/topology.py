"""The hub's exchanges and queues, declared idempotently by every process that starts.

* ``<prefix>.tasks`` (topic, durable) → one quorum queue per task (consumer role),
  ``<prefix>.task.<task>``, bound to ``task.<task>``.
* ``<prefix>.retry`` (direct) → per task and delay a quorum queue with that message
  TTL, which dead-letters back into ``<prefix>.tasks``: delayed retry with
  exponential backoff (``HUB_RETRY_BASE_SECONDS`` × 2ⁿ, up to ``HUB_MAX_ATTEMPTS``).
* ``<prefix>.dlx`` (fanout) → ``<prefix>.dead`` (quorum), which the workers empty
  into the dead-letter store.
* ``<prefix>.consent`` (fanout): each worker binds its own exclusive queue.

Queue arguments hold only what the hub's guarantees rest on: the quorum type,
the dead-letter exchange, at-least-once dead-lettering and the
``reject-publish`` overflow it needs. What an operator may tune (delivery limit,
length limits) belongs in a policy (see README), because a queue's arguments
cannot change once it exists.
"""

from __future__ import annotations

from hub.core.transport.broker import Broker
from hub.core.transport.tasks import HANDLERS
from hub.settings import Settings


def delay_ms(settings: Settings, attempts: int) -> int:
    """The wait after the ``attempts``-th failure, in milliseconds (as the embedded queue)."""
    return max(1, round(settings.retry_base_seconds * 2 ** (attempts - 1) * 1000))


def retry_delays_ms(settings: Settings) -> list[int]:
    """The wait after each failed attempt that is retried, in milliseconds."""
    return [delay_ms(settings, n) for n in range(1, settings.max_attempts)]


def _quorum(dead_letter_exchange: str, **extra) -> dict:
    return {"x-queue-type": "quorum", "x-dead-letter-exchange": dead_letter_exchange,
            "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish",
            **extra}


def declare(channel, broker: Broker, settings: Settings) -> None:
    """Declare every exchange, queue and binding; a no-op when they exist already."""
    channel.exchange_declare(broker.tasks_exchange, exchange_type="topic", durable=True)
    channel.exchange_declare(broker.retry_exchange, exchange_type="direct", durable=True)
    channel.exchange_declare(broker.dead_exchange, exchange_type="fanout", durable=True)
    channel.exchange_declare(broker.consent_exchange, exchange_type="fanout", durable=True)
    channel.queue_declare(broker.dead_queue, durable=True,
                          arguments={"x-queue-type": "quorum"})
    channel.queue_bind(broker.dead_queue, broker.dead_exchange)
    for task in sorted(HANDLERS):
        queue = broker.task_queue(task)
        channel.queue_declare(queue, durable=True, arguments=_quorum(broker.dead_exchange))
        channel.queue_bind(queue, broker.tasks_exchange, routing_key=f"task.{task}")
        for delay in retry_delays_ms(settings):
            retry = broker.retry_queue(task, delay)
            # Expired messages go back to the task's queue under its own routing key.
            channel.queue_declare(retry, durable=True, arguments=_quorum(
                broker.tasks_exchange, **{"x-message-ttl": delay,
                                          "x-dead-letter-routing-key": f"task.{task}"}))
            channel.queue_bind(retry, broker.retry_exchange, routing_key=f"{task}.{delay}")
