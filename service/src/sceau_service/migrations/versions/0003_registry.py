"""key registry: key roles, one active key per tenant and role, key statements, policies

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sceau_service.db import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN with a default (no table rebuild on SQLite: rebuilding ``tenants``
    # would trip the foreign keys that point at it); existing rows get the defaults.
    op.add_column("tenants", sa.Column("key_series", sa.Integer(), nullable=False,
                                       server_default=sa.text("0")))
    op.add_column("signing_keys", sa.Column("role", sa.String(16), nullable=False,
                                            server_default=sa.text("'signing'")))
    op.create_index("ix_signing_keys_one_active", "signing_keys", ["tenant_id", "role"],
                    unique=True, sqlite_where=sa.text("status = 'active'"),
                    postgresql_where=sa.text("status = 'active'"))
    op.create_table(
        "key_statements",
        sa.Column("tenant_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "version", name="pk_key_statements"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                name="fk_key_statements_tenant_id_tenants"),
    )
    op.create_table(
        "rotation_policies",
        sa.Column("tenant_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("every_seconds", sa.BigInteger(), nullable=False),
        sa.Column("overlap_seconds", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_rotation_policies"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                name="fk_rotation_policies_tenant_id_tenants"),
    )


def downgrade() -> None:
    op.drop_table("rotation_policies")
    op.drop_table("key_statements")
    op.drop_index("ix_signing_keys_one_active", table_name="signing_keys")
    # SQLite >= 3.35 drops columns in place (no rebuild, foreign keys untouched).
    op.drop_column("signing_keys", "role")
    op.drop_column("tenants", "key_series")
