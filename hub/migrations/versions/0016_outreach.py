"""outreach: one case per household, its signals and contact attempts (issue 16)

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-06 04:30:00

``outreach_cases`` groups early signals of arrears about one household within the
policy's window; ``outreach_signals`` links the inbox items (ids and partner kind
only); ``outreach_attempts`` holds each contact attempt (kind, date, result, no
free text). The resident's contact details are sealed (``contact_sealed``).
"""
from alembic import op
import sqlalchemy as sa
import consent.tables


revision = '0016'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    ts = consent.tables.UTCDateTime(timezone=True)
    op.create_table(
        'outreach_cases',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('wijk', sa.String(length=64), nullable=False),
        sa.Column('household_id', sa.String(length=36), nullable=False),
        sa.Column('subject', sa.String(length=64), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('opened_at', ts, nullable=False),
        sa.Column('window_ends_at', ts, nullable=False),
        sa.Column('due_at', ts, nullable=False),
        sa.Column('first_attempt_at', ts, nullable=True),
        sa.Column('closed_at', ts, nullable=True),
        sa.Column('closed_by', sa.String(length=200), nullable=True),
        sa.Column('outcome', sa.String(length=40), nullable=True),
        sa.Column('urgency', sa.Integer(), nullable=False),
        sa.Column('first_for_household', sa.Boolean(), nullable=False),
        sa.Column('contact_sealed', sa.Text(), nullable=True),
        sa.Column('updated_at', ts, nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outreach_cases')),
    )
    op.create_index('ix_outreach_cases_wijk_status', 'outreach_cases', ['wijk', 'status'])
    op.create_index(op.f('ix_outreach_cases_household_id'), 'outreach_cases',
                    ['household_id'])
    op.create_index(op.f('ix_outreach_cases_subject'), 'outreach_cases', ['subject'])
    op.create_table(
        'outreach_signals',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('case_id', sa.String(length=36), nullable=False),
        sa.Column('item_id', sa.String(length=36), nullable=False),
        sa.Column('message_id', sa.String(length=36), nullable=False),
        sa.Column('type', sa.String(length=100), nullable=False),
        sa.Column('partner_kind', sa.String(length=64), nullable=False),
        sa.Column('received_at', ts, nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['outreach_cases.id'],
                                name=op.f('fk_outreach_signals_case_id_outreach_cases')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outreach_signals')),
        sa.UniqueConstraint('item_id', name=op.f('uq_outreach_signals_item_id')),
    )
    op.create_index(op.f('ix_outreach_signals_case_id'), 'outreach_signals', ['case_id'])
    op.create_table(
        'outreach_attempts',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('case_id', sa.String(length=36), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('result', sa.String(length=40), nullable=False),
        sa.Column('attempted_on', sa.Date(), nullable=False),
        sa.Column('actor', sa.String(length=200), nullable=False),
        sa.Column('role', sa.String(length=32), nullable=False),
        sa.Column('recorded_at', ts, nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['outreach_cases.id'],
                                name=op.f('fk_outreach_attempts_case_id_outreach_cases')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outreach_attempts')),
    )
    op.create_index(op.f('ix_outreach_attempts_case_id'), 'outreach_attempts', ['case_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_outreach_attempts_case_id'), table_name='outreach_attempts')
    op.drop_table('outreach_attempts')
    op.drop_index(op.f('ix_outreach_signals_case_id'), table_name='outreach_signals')
    op.drop_table('outreach_signals')
    op.drop_index(op.f('ix_outreach_cases_subject'), table_name='outreach_cases')
    op.drop_index(op.f('ix_outreach_cases_household_id'), table_name='outreach_cases')
    op.drop_index('ix_outreach_cases_wijk_status', table_name='outreach_cases')
    op.drop_table('outreach_cases')
