"""household plan: versions, residents' responses, partners' progress; consent requests
for a recipient and purpose (issue 17)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 04:20:00

A plan is never overwritten: every change is a new row of ``plan_versions`` with
its body sealed. A consent request may now ask to share with a partner (a plan
agreement, purpose ``plan.share``) rather than with the wijkteam: ``recipient``
and ``purpose``; existing requests are for the wijkteam.
"""
from alembic import op
import sqlalchemy as sa
import consent.tables


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('plan_versions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('household_id', sa.String(length=36), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=True),
    sa.Column('created_at', consent.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_role', sa.String(length=20), nullable=False),
    sa.Column('body_sealed', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'],
                            name=op.f('fk_plan_versions_household_id_households')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_versions')),
    sa.UniqueConstraint('household_id', 'version', name='uq_plan_versions_household_id')
    )
    with op.batch_alter_table('plan_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_versions_household_id'), ['household_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_plan_versions_subject'), ['subject'], unique=False)

    op.create_table('plan_responses',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('household_id', sa.String(length=36), nullable=False),
    sa.Column('plan_version', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('representation_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', consent.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('text_sealed', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'],
                            name=op.f('fk_plan_responses_household_id_households')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_responses'))
    )
    with op.batch_alter_table('plan_responses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_responses_household_id'), ['household_id'],
                              unique=False)

    op.create_table('plan_progress',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('household_id', sa.String(length=36), nullable=False),
    sa.Column('agreement_id', sa.String(length=36), nullable=False),
    sa.Column('partner_id', sa.String(length=36), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('created_at', consent.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('note_sealed', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'],
                            name=op.f('fk_plan_progress_household_id_households')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'],
                            name=op.f('fk_plan_progress_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_progress'))
    )
    with op.batch_alter_table('plan_progress', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_progress_household_id'), ['household_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_plan_progress_agreement_id'), ['agreement_id'],
                              unique=False)

    with op.batch_alter_table('consent_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recipient', sa.String(length=100), nullable=False,
                                      server_default='wijkteam'))
        batch_op.add_column(sa.Column('purpose', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('consent_requests', schema=None) as batch_op:
        batch_op.drop_column('purpose')
        batch_op.drop_column('recipient')
    for table, indexes in (('plan_progress', ('agreement_id', 'household_id')),
                           ('plan_responses', ('household_id',)),
                           ('plan_versions', ('subject', 'household_id'))):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in indexes:
                batch_op.drop_index(batch_op.f(f'ix_{table}_{column}'))
        op.drop_table(table)
