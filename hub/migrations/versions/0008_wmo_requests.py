"""wmo requests: the Wmo desk plugin's requests, their terms and the desk's answers

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 21:50:00
"""
from alembic import op
import sqlalchemy as sa
import consent.tables


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('wmo_requests',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('household_id', sa.String(length=36), nullable=False),
    sa.Column('wijk', sa.String(length=64), nullable=False),
    sa.Column('desk_partner', sa.String(length=36), nullable=False),
    sa.Column('provision', sa.String(length=2), nullable=False),
    sa.Column('urgency', sa.String(length=10), nullable=False),
    sa.Column('data_sealed', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('melding_date', sa.Date(), nullable=False),
    sa.Column('aanvraag_date', sa.Date(), nullable=True),
    sa.Column('onderzoek_due', sa.Date(), nullable=False),
    sa.Column('besluit_due', sa.Date(), nullable=True),
    sa.Column('desk_reference', sa.String(length=100), nullable=True),
    sa.Column('message_id', sa.String(length=36), nullable=True),
    sa.Column('status_message_id', sa.String(length=36), nullable=True),
    sa.Column('decision_message_id', sa.String(length=36), nullable=True),
    sa.Column('decided_at', consent.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('flagged_term', sa.String(length=20), nullable=True),
    sa.Column('flagged_at', consent.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('idempotency_key', sa.String(length=100), nullable=True),
    sa.Column('created_at', consent.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', consent.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['desk_partner'], ['partners.id'], name=op.f('fk_wmo_requests_desk_partner_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wmo_requests')),
    sa.UniqueConstraint('created_by', 'idempotency_key', name='uq_wmo_requests_idempotency')
    )
    with op.batch_alter_table('wmo_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wmo_requests_subject'), ['subject'], unique=False)
        batch_op.create_index(batch_op.f('ix_wmo_requests_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_wmo_requests_wijk'), ['wijk'], unique=False)
        batch_op.create_index(batch_op.f('ix_wmo_requests_desk_partner'), ['desk_partner'], unique=False)
        batch_op.create_index(batch_op.f('ix_wmo_requests_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_wmo_requests_decision_message_id'), ['decision_message_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('wmo_requests', schema=None) as batch_op:
        for column in ('decision_message_id', 'status', 'desk_partner', 'wijk',
                       'household_id', 'subject'):
            batch_op.drop_index(batch_op.f(f'ix_wmo_requests_{column}'))
    op.drop_table('wmo_requests')
