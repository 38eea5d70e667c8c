"""outbox: the due rows come in queue order from the index, not sorted each time

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 23:00:00

Issue 14: the worker and the relay ask for the oldest due rows ``WHERE status =
'pending' AND next_attempt_at <= now ORDER BY id LIMIT n``. With the index on
(status, next_attempt_at) the database read every pending, due row and sorted
them all by id to return the first n: a cost that grows with the queue, paid at
every round (a 1,000,000-line batch sorted up to a million rows a thousand
times). On (status, id, next_attempt_at) the rows come in id order and the
scan stops after n; the time is checked from the index itself.
"""
from alembic import op


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_due')
        batch_op.create_index('ix_outbox_queue', ['status', 'id', 'next_attempt_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_queue')
        batch_op.create_index('ix_outbox_due', ['status', 'next_attempt_at'], unique=False)
