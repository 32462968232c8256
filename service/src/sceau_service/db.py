"""Database schema (SQLAlchemy Core) and engine set-up for SQLite and PostgreSQL.

The schema here is the source of truth that Alembic migrations (``migrations/``) build;
``tests/service/test_migrations.py`` checks that the two agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Engine,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    create_engine,
    event,
    text,
)
from sqlalchemy.types import TypeDecorator

__all__ = [
    "api_tokens",
    "key_statements",
    "log_keys",
    "log_nodes",
    "log_state",
    "make_engine",
    "metadata",
    "rotation_policies",
    "seals",
    "signing_keys",
    "tenants",
]


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

tenants = Table(
    "tenants", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("slug", String(63), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    #: Bumped by every change to the tenant's keys (the registry's row lock, and the
    #: version of the key statement that records the change).
    Column("key_series", Integer, nullable=False, server_default=text("0")),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("token_hash", LargeBinary(32), nullable=False, unique=True),
    Column("scopes", String(200), nullable=False),
    Column("label", String(200), nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)

signing_keys = Table(
    "signing_keys", metadata,
    Column("keyid", String(64), primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False, index=True),
    Column("public_key", LargeBinary(32), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("custody", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("not_before", UTCDateTime, nullable=True),
    Column("not_after", UTCDateTime, nullable=True),
    Column("compromised_since", UTCDateTime, nullable=True),
    #: 'signing' (signs seals; published in the JWKS) or 'root' (the tenant's offline key:
    #: co-signs key statements only).
    Column("role", String(16), nullable=False, server_default=text("'signing'")),
    # Exactly one active key per tenant and role, whatever races the application has.
    Index("ix_signing_keys_one_active", "tenant_id", "role", unique=True,
          sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),
)

#: The tenant's signed key history (sceau.keyhistory): one statement per change, each a
#: full snapshot of the tenant's keys chained to the previous one.  Never updated or deleted.
key_statements = Table(
    "key_statements", metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id"), primary_key=True,
           autoincrement=False),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("envelope", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

#: Scheduled rotation (sceau_keys.lifecycle.RotationPolicy), at most one per tenant.
rotation_policies = Table(
    "rotation_policies", metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id"), primary_key=True,
           autoincrement=False),
    Column("every_seconds", BigInteger, nullable=False),
    Column("overlap_seconds", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

seals = Table(
    "seals", metadata,
    Column("seal_id", String(64), primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("keyid", String(64), ForeignKey("signing_keys.keyid"), nullable=False),
    Column("content_sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("media_type", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("envelope", LargeBinary, nullable=False),
    Index("ix_seals_content_sha256_created_at", "content_sha256", "created_at"),
    # Envelopes (~2.1 KB with a log proof) stay in the row, uncompressed: migration 0004.
    postgresql_with={"toast_tuple_target": 8160},
)


# -- transparency log (SPEC.md §6.1; sceau_service.tlog) -----------------------------------

#: The log's own Ed25519 keys (a signing domain of their own: they sign checkpoints only).
log_keys = Table(
    "log_keys", metadata,
    Column("keyid", String(64), primary_key=True),  # RFC 7638 thumbprint: the custody name
    Column("public_key", LargeBinary(32), nullable=False, unique=True),
    Column("status", String(16), nullable=False),  # active | retired
    Column("created_at", UTCDateTime, nullable=False),
)

#: The one row (id 1) that says where the log is.  Appends lock it (SELECT ... FOR UPDATE
#: on PostgreSQL), so replicas append one after the other: one sequence, never a fork.
log_state = Table(
    "log_state", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("origin", String(255), nullable=False),
    Column("keyid", String(64), ForeignKey("log_keys.keyid"), nullable=False),
    Column("size", BigInteger, nullable=False),
    #: The right edge of the tree (sceau.merkle.Frontier): 32 bytes per set bit of size.
    Column("frontier", LargeBinary, nullable=False),
    #: POSIX seconds of the latest checkpoint's timestamp (checkpoint times never go back).
    Column("timestamp", BigInteger, nullable=False),
    Column("checkpoint", Text, nullable=False),
    CheckConstraint("id = 1", name="ck_log_state_single_row"),
)

#: The tree: every leaf (level 0: entry ``idx``'s leaf hash and the seal it logs) and every
#: complete perfect subtree above them (level >= 1; sceau.merkle.NodeID).  A proof reads
#: O(log n) rows by primary key, whatever the log's size; a batch's leaves and nodes go in
#: with one statement.
log_nodes = Table(
    "log_nodes", metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    Column("seal_id", String(64), ForeignKey("seals.seal_id"), nullable=True),
    CheckConstraint("(level = 0) = (seal_id IS NOT NULL)", name="ck_log_nodes_leaf_seal"),
    Index("ix_log_nodes_leaf_hash", "hash", unique=True,
          sqlite_where=text("level = 0"), postgresql_where=text("level = 0")),
)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL: readers never block the writer; NORMAL is durable across application crashes
    # (https://www.sqlite.org/pragma.html#pragma_synchronous).
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the settings each backend needs."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False},
                               pool_size=8, max_overflow=8)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)
