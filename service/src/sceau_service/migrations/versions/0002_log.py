"""transparency log: log keys, log state, the tree (leaves and perfect subtree nodes)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sceau_service.db import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_keys",
        sa.Column("keyid", sa.String(64), nullable=False),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("keyid", name="pk_log_keys"),
        sa.UniqueConstraint("public_key", name="uq_log_keys_public_key"),
    )
    op.create_table(
        "log_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("origin", sa.String(255), nullable=False),
        sa.Column("keyid", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("checkpoint", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_log_state"),
        sa.ForeignKeyConstraint(["keyid"], ["log_keys.keyid"],
                                name="fk_log_state_keyid_log_keys"),
        sa.CheckConstraint("id = 1", name="ck_log_state_single_row"),
    )
    op.create_table(
        "log_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.Column("seal_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("level", "idx", name="pk_log_nodes"),
        sa.ForeignKeyConstraint(["seal_id"], ["seals.seal_id"],
                                name="fk_log_nodes_seal_id_seals"),
        sa.CheckConstraint("(level = 0) = (seal_id IS NOT NULL)",
                           name="ck_log_nodes_leaf_seal"),
    )
    op.create_index("ix_log_nodes_leaf_hash", "log_nodes", ["hash"], unique=True,
                    sqlite_where=sa.text("level = 0"), postgresql_where=sa.text("level = 0"))


def downgrade() -> None:
    op.drop_index("ix_log_nodes_leaf_hash", table_name="log_nodes")
    op.drop_table("log_nodes")
    op.drop_table("log_state")
    op.drop_table("log_keys")
