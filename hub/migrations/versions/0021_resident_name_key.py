"""residents.name_key: a keyed hash of the normalised name, for matching (issue 14)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 12:00:00

A creditor's signal names a person at an address. Routing compared that name
with every resident at the address, opening (AES-GCM) each one's sealed
identity: at a care home or a student house, dozens of opens for one message,
which halved routing's rate at 22 residents an address. With the keyed hash of
each resident's normalised name (``Pseudonymizer.name_key``) the residents with
another name are passed over unopened. Without the key the hash says nothing; the
caseload's search tokens already hold the name's words this way. Alembic has no
keys, so existing residents get theirs right after the upgrade, from every ``hub``
command (``hub.core.residents.key_all_legacy_names``); one without is opened, as
before.
"""
from alembic import op
import sqlalchemy as sa


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_key', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.drop_column('name_key')
