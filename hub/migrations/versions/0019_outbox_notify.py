"""outbox: NOTIFY wijkhub_outbox when rows are inserted (PostgreSQL)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 05:00:00

Issue 14: the relay and the embedded worker of every process hear of new
outbox rows at the commit that made them, instead of at their next poll. A
statement-level trigger sends the notification inside the inserting
transaction (PostgreSQL delivers it at commit, and only then; one per
transaction however many rows), so ingest pays no extra round trip for it.
``hub.core.wakeup.OutboxListener`` listens. SQLite has no NOTIFY: there the
only writers are in one process, which the in-process signal covers.
"""
from alembic import op


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('wijkhub_outbox', '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_PG_FUNCTION)
    op.execute("CREATE TRIGGER outbox_notify AFTER INSERT ON outbox "
               "FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS outbox_notify ON outbox")
    op.execute("DROP FUNCTION IF EXISTS outbox_notify()")
