"""huisarts: the referral Tasks of the GP plugin (FHIR R4 Task state, both ways)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 22:00:00
"""
from alembic import op
import sqlalchemy as sa
import consent.tables


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('huisarts_tasks',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('partner_id', sa.String(length=36), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('service_request_id', sa.String(length=36), nullable=False),
    sa.Column('identifier', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('status_reason', sa.String(length=500), nullable=True),
    sa.Column('requester', sa.String(length=200), nullable=True),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('remote_id', sa.String(length=200), nullable=True),
    sa.Column('communication_id', sa.String(length=36), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('authored_at', consent.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_updated', consent.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('shared_back', sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_huisarts_tasks_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_huisarts_tasks')),
    sa.UniqueConstraint('message_id', name=op.f('uq_huisarts_tasks_message_id'))
    )
    with op.batch_alter_table('huisarts_tasks', schema=None) as batch_op:
        batch_op.create_index('ix_huisarts_tasks_partner_updated', ['partner_id', 'last_updated'], unique=False)
        batch_op.create_index(batch_op.f('ix_huisarts_tasks_requester'), ['requester'], unique=False)
        batch_op.create_index(batch_op.f('ix_huisarts_tasks_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('huisarts_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_huisarts_tasks_status'))
        batch_op.drop_index(batch_op.f('ix_huisarts_tasks_requester'))
        batch_op.drop_index('ix_huisarts_tasks_partner_updated')
    op.drop_table('huisarts_tasks')
