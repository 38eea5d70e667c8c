"""Partial indexes for the two start-up data steps, so they no longer read whole tables

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-08 00:45:00

Every ``hub`` command, ``hub serve`` and ``hub worker`` start by asking whether
rows from before migrations 0012 and 0021 still wait for their data step
(``messages.source_ref_sealed IS NULL``, ``residents.name_key IS NULL``). Neither
column was indexed, so each start read the whole messages table (300,000
messages: 0.2 s from the page cache, 0.9 s from disk; a table that grows by a
million lines a batch). Both indexes hold only the rows still waiting: empty
once the steps ran, never written by new rows (stored sealed and keyed), and
the question is answered from them at once. Building them reads each table
once, here.
"""
from alembic import op
import sqlalchemy as sa


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

UNSEALED = sa.text('source_ref_sealed IS NULL')
UNKEYED = sa.text('name_key IS NULL')


def upgrade() -> None:
    op.create_index('ix_messages_unsealed_ref', 'messages', ['id'],
                    sqlite_where=UNSEALED, postgresql_where=UNSEALED)
    op.create_index('ix_residents_unkeyed_name', 'residents', ['subject'],
                    sqlite_where=UNKEYED, postgresql_where=UNKEYED)


def downgrade() -> None:
    op.drop_index('ix_residents_unkeyed_name', table_name='residents')
    op.drop_index('ix_messages_unsealed_ref', table_name='messages')
