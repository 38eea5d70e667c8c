"""confidential inbox items for one user, their reads with a reason, withholdings

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 21:50:00

Issue 7 (Veilig Thuis): an inbox item can be confidential and addressed to the
household's designated regisseur; every opening records a sealed reason; a
report kept from the resident's overview is recorded as a withholding.
"""
from alembic import op
import sqlalchemy as sa
import consent.tables


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbox_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confidential', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('addressed_to', sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f('ix_inbox_items_addressed_to'), ['addressed_to'],
                              unique=False)
    # The default only fills existing rows; the model sets the value from now on.
    with op.batch_alter_table('inbox_items', schema=None) as batch_op:
        batch_op.alter_column('confidential', server_default=None)

    op.create_table('confidential_reads',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('item_id', sa.String(length=36), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('reason_sealed', sa.Text(), nullable=False),
    sa.Column('at', consent.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['inbox_items.id'],
                            name=op.f('fk_confidential_reads_item_id_inbox_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_confidential_reads'))
    )
    with op.batch_alter_table('confidential_reads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_confidential_reads_item_id'), ['item_id'],
                              unique=False)

    op.create_table('withholdings',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('item_id', sa.String(length=36), nullable=True),
    sa.Column('subject', sa.String(length=64), nullable=True),
    sa.Column('wijk', sa.String(length=64), nullable=True),
    sa.Column('household_id', sa.String(length=36), nullable=True),
    sa.Column('reason_code', sa.String(length=64), nullable=False),
    sa.Column('withheld_by', sa.String(length=200), nullable=False),
    sa.Column('withheld_at', consent.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('review_at', consent.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', consent.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', consent.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_by', sa.String(length=200), nullable=True),
    sa.Column('reviewed_at', consent.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_withholdings')),
    sa.UniqueConstraint('message_id', name=op.f('uq_withholdings_message_id'))
    )
    with op.batch_alter_table('withholdings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_withholdings_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_withholdings_subject'), ['subject'], unique=False)
        batch_op.create_index(batch_op.f('ix_withholdings_wijk'), ['wijk'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('withholdings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_withholdings_wijk'))
        batch_op.drop_index(batch_op.f('ix_withholdings_subject'))
        batch_op.drop_index(batch_op.f('ix_withholdings_item_id'))
    op.drop_table('withholdings')
    with op.batch_alter_table('confidential_reads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_confidential_reads_item_id'))
    op.drop_table('confidential_reads')
    with op.batch_alter_table('inbox_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbox_items_addressed_to'))
        batch_op.drop_column('addressed_to')
        batch_op.drop_column('confidential')
