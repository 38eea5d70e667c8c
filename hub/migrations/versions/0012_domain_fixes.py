"""consent idempotency bound to the request; source_ref sealed

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 04:30:00

``consent_grants.idempotency_hash`` is the SHA-256 of the request and its actor
an ``Idempotency-Key`` was first used with (issue 13, item 9): the same key with
another body or by another actor is refused (409). Existing grants keep a NULL
hash; their first version is compared instead (``consent.grants``).

``messages.source_ref_sealed`` holds the partner's reference sealed, and
``messages.source_ref`` from now on a keyed hash of it (issue 13, item 10): the
unique constraint (partner, source_ref) keeps working on the hash. Alembic has
no keys, so existing rows keep their reference in clear (and NULL here) until
``hub.core.source_refs.seal_all_legacy_refs`` converts them; it runs right
after every upgrade the hub does itself (``hub db upgrade``, ``hub serve``,
every ``hub`` command).
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('consent_grants') as batch_op:
        batch_op.add_column(sa.Column('idempotency_hash', sa.String(length=64), nullable=True))
    with op.batch_alter_table('messages') as batch_op:
        batch_op.add_column(sa.Column('source_ref_sealed', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('messages') as batch_op:
        batch_op.drop_column('source_ref_sealed')
    with op.batch_alter_table('consent_grants') as batch_op:
        batch_op.drop_column('idempotency_hash')
