"""search_tokens: keyed hashes of the registry's names and addresses (issue 17, item 1)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 05:20:00

The caseload is searched by name, street, postcode and house number. Names and
addresses are sealed, so each searchable word of a resident's registry entry is
stored as a keyed hash (``Pseudonymizer.search_token``); a search hashes the
words it is given and looks them up, without opening a sealed identity.
Existing residents get their tokens at their next ``hub residents import``.
"""
from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('search_tokens',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('household_id', sa.String(length=36), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_search_tokens_household_id_households')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_tokens'))
    )
    with op.batch_alter_table('search_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_tokens_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_tokens_subject'), ['subject'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_tokens_token'), ['token'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('search_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_tokens_token'))
        batch_op.drop_index(batch_op.f('ix_search_tokens_subject'))
        batch_op.drop_index(batch_op.f('ix_search_tokens_household_id'))
    op.drop_table('search_tokens')
