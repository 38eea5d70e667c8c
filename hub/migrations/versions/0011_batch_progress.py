"""batches: streaming progress and resumable imports

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 21:45:00

``lines_done`` is the last line of the file whose chunk committed (with the
chunk's messages and counts, in one transaction), so an import killed halfway
continues after it; ``lines_total`` (the file's lines, counted as it
arrived) turns that into progress. ``source_checksum`` (SHA-256 of the file) finds the batch
again when ``hub batch import`` is given the same file; one batch per partner
and file. ``updated_at`` is the time of the last committed chunk: a running
batch that has not moved for a while was interrupted.
"""
from alembic import op
import sqlalchemy as sa
import consent.tables


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('batches') as batch_op:
        batch_op.add_column(sa.Column('lines_done', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.add_column(sa.Column('lines_total', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('source_checksum', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('updated_at', consent.tables.UTCDateTime(timezone=True),
                                      nullable=True))
    op.create_index('ux_batches_partner_checksum', 'batches',
                    ['partner_id', 'source_checksum'], unique=True)


def downgrade() -> None:
    op.drop_index('ux_batches_partner_checksum', table_name='batches')
    with op.batch_alter_table('batches') as batch_op:
        batch_op.drop_column('updated_at')
        batch_op.drop_column('source_checksum')
        batch_op.drop_column('lines_total')
        batch_op.drop_column('lines_done')
