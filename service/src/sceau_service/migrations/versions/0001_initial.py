"""initial schema: tenants, API tokens, signing keys, seals

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sceau_service.db import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("slug", sa.String(63), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        sa.UniqueConstraint("slug", name="uq_tenants_slug"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("scopes", sa.String(200), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                name="fk_api_tokens_tenant_id_tenants"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_table(
        "signing_keys",
        sa.Column("keyid", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("custody", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("not_before", UTCDateTime(), nullable=True),
        sa.Column("not_after", UTCDateTime(), nullable=True),
        sa.Column("compromised_since", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("keyid", name="pk_signing_keys"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                name="fk_signing_keys_tenant_id_tenants"),
        sa.UniqueConstraint("public_key", name="uq_signing_keys_public_key"),
    )
    op.create_index("ix_signing_keys_tenant_id", "signing_keys", ["tenant_id"])
    op.create_table(
        "seals",
        sa.Column("seal_id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("keyid", sa.String(64), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seal_id", name="pk_seals"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                name="fk_seals_tenant_id_tenants"),
        sa.ForeignKeyConstraint(["keyid"], ["signing_keys.keyid"],
                                name="fk_seals_keyid_signing_keys"),
    )
    op.create_index("ix_seals_content_sha256_created_at", "seals",
                    ["content_sha256", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_seals_content_sha256_created_at", table_name="seals")
    op.drop_table("seals")
    op.drop_index("ix_signing_keys_tenant_id", table_name="signing_keys")
    op.drop_table("signing_keys")
    op.drop_table("api_tokens")
    op.drop_table("tenants")
