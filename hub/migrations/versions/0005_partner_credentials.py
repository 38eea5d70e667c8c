"""partner credentials: argon2-hashed API keys with ids, pinned signing key and client certificate

The skeleton's unsalted SHA-256 key hashes cannot be turned into argon2 hashes
(the keys themselves are not known), so they are dropped: after this revision
every existing partner has no key until the operator issues one with
``hub partner rotate-key --name NAME``. There are no production installs yet.

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa
import consent.tables


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('partner_keys',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('partner_id', sa.String(length=36), nullable=False),
    sa.Column('key_hash', sa.String(length=200), nullable=False),
    sa.Column('created_at', consent.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', consent.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', consent.tables.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_partner_keys_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_keys'))
    )
    with op.batch_alter_table('partner_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partner_keys_partner_id'), ['partner_id'], unique=False)

    with op.batch_alter_table('partners', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signing_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('cert_sha256', sa.String(length=64), nullable=True))
        batch_op.drop_constraint(batch_op.f('uq_partners_api_key_hash'), type_='unique')
        batch_op.drop_column('api_key_hash')


def downgrade() -> None:
    # The argon2 hashes cannot become SHA-256 hashes again: partners need new keys.
    with op.batch_alter_table('partners', schema=None) as batch_op:
        batch_op.add_column(sa.Column('api_key_hash', sa.String(length=128), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_partners_api_key_hash'), ['api_key_hash'])
        batch_op.drop_column('cert_sha256')
        batch_op.drop_column('signing_key')

    with op.batch_alter_table('partner_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partner_keys_partner_id'))

    op.drop_table('partner_keys')
