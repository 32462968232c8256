"""seals: keep envelopes in the row on PostgreSQL (toast_tuple_target)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

An envelope with its log proof is about 2.1 KB, just over PostgreSQL's 2 KB TOAST
threshold: each one was run through pglz (which cannot shrink base64) and then moved out
of line, a second heap row and index entry per seal.  With ``toast_tuple_target`` at its
maximum, rows under ~8 KB stay in the heap as they are; larger envelopes are toasted as
before.  Existing rows keep their storage.  Nothing to do on SQLite.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE seals SET (toast_tuple_target = 8160)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE seals RESET (toast_tuple_target)")
