"""web_sessions: screen sessions that logging out ends on the server

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-06 04:45:00

A session cookie alone no longer opens a page: it names a row here (by the
SHA-256 of a random id), and ``/uitloggen`` ends that row (issue 13, item 13).
"""
from alembic import op
import sqlalchemy as sa
import consent.tables


revision = '0014'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'web_sessions',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('started_at', consent.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', consent.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column('ended_at', consent.tables.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('web_sessions')
