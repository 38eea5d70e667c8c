"""outbound messages: what the hub sends to partners, delivered through the outbox

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 22:10:00

The outbox's message id loses its foreign key: a "deliver" row names an
outbound message, a "route" row an inbound one, and the task says which.
"""
from alembic import op
import sqlalchemy as sa
import consent.tables


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'outbound_messages',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('type', sa.String(length=100), nullable=False),
        sa.Column('partner_id', sa.String(length=36), nullable=False),
        sa.Column('ref', sa.String(length=200), nullable=False),
        sa.Column('subject', sa.String(length=64), nullable=True),
        sa.Column('household_id', sa.String(length=36), nullable=True),
        sa.Column('related_message_id', sa.String(length=36), nullable=True),
        sa.Column('payload_sealed', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('receipt', sa.String(length=200), nullable=True),
        sa.Column('correlation_id', sa.String(length=64), nullable=True),
        sa.Column('created_at', consent.tables.UTCDateTime(), nullable=False),
        sa.Column('updated_at', consent.tables.UTCDateTime(), nullable=False),
        sa.Column('delivered_at', consent.tables.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['partner_id'], ['partners.id'],
                                name=op.f('fk_outbound_messages_partner_id_partners')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_messages')),
        sa.UniqueConstraint('partner_id', 'type', 'ref',
                            name='uq_outbound_messages_partner_type_ref'),
    )
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        for column in ('type', 'partner_id', 'subject', 'household_id', 'related_message_id',
                       'status'):
            batch_op.create_index(batch_op.f(f'ix_outbound_messages_{column}'), [column],
                                  unique=False)
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint('fk_outbox_message_id_messages', type_='foreignkey')


def downgrade() -> None:
    # Deliveries name outbound messages, which go away with this revision.
    op.execute("DELETE FROM outbox WHERE task = 'deliver'")
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_outbox_message_id_messages', 'messages',
                                    ['message_id'], ['id'])
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        for column in ('status', 'related_message_id', 'household_id', 'subject',
                       'partner_id', 'type'):
            batch_op.drop_index(batch_op.f(f'ix_outbound_messages_{column}'))
    op.drop_table('outbound_messages')
