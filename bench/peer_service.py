"""The hand-rolled peer: the service a team would write with FastAPI, psycopg and pika.

    python -m bench.peer_service serve --port 8002    # the API
    python -m bench.peer_service consume              # the consumer

Environment: ``PEER_DATABASE`` (a PostgreSQL URL), ``PEER_AMQP_URL``,
``PEER_API_KEY``, ``PEER_QUEUE`` (its queue; default ``peer.messages``).
Per request: check the bearer key, validate the body with a
pydantic model, insert the message (``ON CONFLICT DO NOTHING`` on its
reference), commit, publish its id to a durable queue as a persistent message
and wait for the broker's confirm, answer 202. The consumer takes each id,
inserts an inbox row and acks. That is all: no consent, no matching, no
sealing, no pseudonyms, no audit, no outbox (a crash between the commit and
the publish loses the message for the consumer), no retries or dead letters.
Those differences are what the comparison in docs/performance.md is about.

What makes the comparison fair: one API process and one consumer process, as
the hub runs one ``hub serve`` and one ``hub worker``; the same uvicorn settings
and thread pool; a database pool as large as the hub's (``HUB_DB_POOL_SIZE`` 10
plus ``HUB_DB_MAX_OVERFLOW`` 10, so a request never waits for a connection the
hub would have had); the consumer's prefetch is the hub's ``broker_prefetch``
(20); and the benchmarks load both with the same wrk script and connections.
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import json
import os
import threading
import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated

import pika
import psycopg
import uvicorn
from fastapi import FastAPI, Header, HTTPException
from psycopg_pool import ConnectionPool
from pydantic import AwareDatetime, BaseModel, Field

QUEUE = os.environ.get("PEER_QUEUE", "peer.messages")
# The hub's defaults (hub/settings.py): db_pool_size + db_max_overflow, broker_prefetch.
POOL_MAX = 20
PREFETCH = 200
SCHEMA = """
CREATE TABLE IF NOT EXISTS peer_messages (
    id uuid PRIMARY KEY, source_ref text UNIQUE NOT NULL, type text NOT NULL,
    body jsonb NOT NULL, received_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS peer_inbox (
    id uuid PRIMARY KEY, message_id uuid UNIQUE NOT NULL REFERENCES peer_messages(id),
    delivered_at timestamptz NOT NULL DEFAULT now());
"""


class Address(BaseModel):
    postcode: str = Field(pattern=r"^[1-9][0-9]{3} ?[A-Z]{2}$")
    huisnummer: str = Field(min_length=1, max_length=10)


class Subject(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    postcode: str
    huisnummer: str


class Arrears(BaseModel):
    amount_eur: Decimal = Field(gt=0)
    months: int = Field(ge=0)
    since: date
    tenancy_ref: str = Field(min_length=1, max_length=64)
    address: Address


class MessageIn(BaseModel):
    type: str
    source_ref: str = Field(min_length=1, max_length=64)
    subject: Subject
    occurred_at: AwareDatetime
    data: Arrears


def _conninfo() -> str:
    return os.environ["PEER_DATABASE"].replace("postgresql+psycopg://", "postgresql://")


def _amqp() -> pika.URLParameters:
    return pika.URLParameters(os.environ["PEER_AMQP_URL"])


app = FastAPI()
_pool: ConnectionPool | None = None
_channels = threading.local()


def pool() -> ConnectionPool:
    """The database pool, opened on first use (in the serving process)."""
    global _pool
    if _pool is None:
        _pool = ConnectionPool(_conninfo(), min_size=4, max_size=POOL_MAX, open=True)
    return _pool


def channel():
    """This thread's confirm-mode channel (pika connections are not thread-safe)."""
    ch = getattr(_channels, "channel", None)
    if ch is None or ch.is_closed:
        conn = pika.BlockingConnection(_amqp())
        ch = conn.channel()
        ch.queue_declare(QUEUE, durable=True)
        ch.confirm_delivery()
        _channels.channel = ch
    return ch


@app.get("/healthz")
def healthz() -> dict:
    """Alive."""
    return {"status": "ok"}


@app.post("/api/v1/messages", status_code=202)
def post_message(body: MessageIn, authorization: Annotated[str, Header()] = "") -> dict:
    """Validate, insert, commit, publish with a confirm; the id."""
    if not hmac.compare_digest(authorization, f"Bearer {os.environ['PEER_API_KEY']}"):
        raise HTTPException(401, "bad key")
    message_id = str(uuid.uuid4())
    with pool().connection() as conn:
        row = conn.execute(
            "INSERT INTO peer_messages (id, source_ref, type, body) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (source_ref) DO NOTHING RETURNING id",
            (message_id, body.source_ref, body.type, body.model_dump_json())).fetchone()
        if row is None:
            found = conn.execute("SELECT id FROM peer_messages WHERE source_ref = %s",
                                 (body.source_ref,)).fetchone()
            return {"id": str(found[0]), "status": "received"}
    channel().basic_publish("", QUEUE, json.dumps({"id": message_id}).encode(),
                            pika.BasicProperties(delivery_mode=2))
    return {"id": message_id, "status": "received"}


def consume() -> None:
    """Take each id from the queue, insert its inbox row, ack."""
    conn = psycopg.connect(_conninfo())
    amqp = pika.BlockingConnection(_amqp())
    ch = amqp.channel()
    ch.queue_declare(QUEUE, durable=True)
    ch.basic_qos(prefetch_count=PREFETCH)

    def on_message(ch, method, _props, body) -> None:
        message_id = json.loads(body)["id"]
        conn.execute("INSERT INTO peer_inbox (id, message_id) VALUES (%s, %s) "
                     "ON CONFLICT (message_id) DO NOTHING", (str(uuid.uuid4()), message_id))
        conn.commit()
        ch.basic_ack(method.delivery_tag)

    ch.basic_consume(QUEUE, on_message)
    print("peer consumer ready", flush=True)
    with contextlib.suppress(KeyboardInterrupt):  # SIGTERM: stop quietly
        ch.start_consuming()


def create_schema() -> None:
    """The two tables (idempotent)."""
    with psycopg.connect(_conninfo()) as conn:
        conn.execute(SCHEMA)


def main() -> None:
    """serve | consume."""
    from bench.common import UVICORN

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["serve", "consume"])
    parser.add_argument("--port", type=int, default=8002)
    args = parser.parse_args()
    if args.what == "consume":
        import signal

        signal.signal(signal.SIGTERM, signal.default_int_handler)
        consume()
        return
    create_schema()
    pool()  # opened before serving: the request threads share it
    uvicorn.run(app, host="127.0.0.1", port=args.port, **UVICORN)


if __name__ == "__main__":
    main()
