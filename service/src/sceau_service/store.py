"""All SQL lives here: tenants, tokens, keys and seals (SQLAlchemy Core, sync).

Routes never issue SQL; they call these methods (in a worker thread when blocking).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    LargeBinary,
    Select,
    Table,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from sceau import KeyRecord, KeyStatus
from sceau.errors import ConflictError, NotFoundError
from sceau_service.db import (
    api_tokens,
    key_statements,
    rotation_policies,
    seals,
    signing_keys,
    tenants,
)

__all__ = ["ROLE_ROOT", "ROLE_SIGNING", "KeyRow", "LookupReader", "LookupRow", "PolicyRow",
           "SealRow", "Store", "TenantRow", "TokenRow"]

#: Key roles: signing keys sign seals (and are in the JWKS); a root key only co-signs the
#: tenant's key statements.
ROLE_SIGNING = "signing"
ROLE_ROOT = "root"


@dataclass(frozen=True, slots=True)
class TenantRow:
    """A tenant (newsroom, AI vendor)."""

    id: int
    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class TokenRow:
    """An API token, as found by its hash."""

    tenant_id: int
    tenant_slug: str
    scopes: frozenset[str]


@dataclass(frozen=True, slots=True)
class SealRow:
    """One issued seal, stored verbatim."""

    seal_id: str
    tenant_id: int
    keyid: str
    content_sha256: str
    size: int
    media_type: str
    created_at: datetime
    envelope: bytes


@dataclass(frozen=True, slots=True)
class LookupRow:
    """The newest seal of one content hash (``POST /v1/lookup``)."""

    content_sha256: str
    seal_id: str


@dataclass(frozen=True, slots=True)
class KeyRow:
    """A signing key's public record."""

    keyid: str
    tenant_id: int
    tenant_slug: str
    public_key: bytes
    status: KeyStatus
    custody: str
    created_at: datetime
    not_before: datetime | None
    not_after: datetime | None
    compromised_since: datetime | None
    role: str = ROLE_SIGNING

    def record(self) -> KeyRecord:
        """The verifier's view of this key."""
        return KeyRecord(self.public_key, self.tenant_slug, self.status, self.not_before,
                         self.not_after, self.compromised_since)


@dataclass(frozen=True, slots=True)
class PolicyRow:
    """A tenant's scheduled rotation policy, in seconds."""

    tenant_id: int
    every_seconds: int
    overlap_seconds: int
    updated_at: datetime


def _newest_seals_query() -> Select[tuple[str, str]]:
    ranked = (select(seals.c.content_sha256, seals.c.seal_id,
                     func.row_number().over(
                         partition_by=seals.c.content_sha256,
                         order_by=(seals.c.created_at.desc(), seals.c.seal_id))
                     .label("rank"))
              .where(seals.c.content_sha256.in_(bindparam("hashes", expanding=True)))
              .subquery())
    return select(ranked.c.content_sha256, ranked.c.seal_id).where(ranked.c.rank == 1)


#: ``(content_sha256, seal_id)`` of the newest seal of each of the ``hashes`` parameter.
#: Built once: constructing a statement costs more than running this one on SQLite.
NEWEST_SEALS = _newest_seals_query()


#: The seals table's columns in the order :func:`bulk_insert` takes them, and their
#: PostgreSQL types for binary COPY (sceau_service.db's schema).
SEAL_COLUMNS = ("seal_id", "tenant_id", "keyid", "content_sha256", "size", "media_type",
                "created_at", "envelope")
SEAL_PG_TYPES = ("text", "int4", "text", "text", "int8", "text", "timestamptz", "bytea")


def bulk_insert(conn: Connection, table: Table, columns: tuple[str, ...],
                 pg_types: tuple[str, ...], rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert ``rows`` in ``conn``'s transaction: with a binary COPY on PostgreSQL
    (psycopg 3; ``pg_types`` are the columns' types), several times faster than an
    executemany for the rows a batch appends; an executemany elsewhere."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        try:
            import psycopg  # noqa: PLC0415 (optional: the 'postgres' extra)
        except ImportError:  # pragma: no cover - another PostgreSQL driver
            psycopg = None  # type: ignore[assignment]
        driver = conn.connection.driver_connection
        if psycopg is not None and isinstance(driver, psycopg.Connection):
            statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
            try:
                with driver.cursor() as cur, cur.copy(statement) as copy:
                    copy.set_types(list(pg_types))
                    for row in rows:
                        copy.write_row(row)
            except psycopg.errors.IntegrityError as exc:
                # The same exception as an INSERT through SQLAlchemy, on every backend.
                raise IntegrityError(statement, None, exc) from exc
            return
    if conn.dialect.name == "sqlite":
        _sqlite_insert(conn, table, columns, rows)
        return
    conn.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])


_SQLITE_INSERTS: dict[tuple[str, tuple[str, ...]], str] = {}
_SQLITE_PROCESSORS: dict[tuple[str, tuple[str, ...]], tuple[tuple[int, Any], ...]] = {}


def _sqlite_insert(conn: Connection, table: Table, columns: tuple[str, ...],
                   rows: Sequence[tuple[Any, ...]]) -> None:
    """Multi-row INSERTs through the driver, with the columns' bind processors applied
    here: the values SQLAlchemy would send, without its per-row parameter dicts and
    compilation, which cost more than SQLite's own work for a batch."""
    key = (table.name, columns)
    sql = _SQLITE_INSERTS.get(key)
    if sql is None:
        quote = conn.dialect.identifier_preparer.quote
        # Identifiers from this module's own schema, quoted; the values are bound.
        sql = _SQLITE_INSERTS[key] = (
            f"INSERT INTO {quote(table.name)} ({', '.join(map(quote, columns))}) "  # noqa: S608
            f"VALUES ({','.join('?' * len(columns))})")
        # LargeBinary's processor only wraps bytes in a memoryview; sqlite3 takes bytes.
        _SQLITE_PROCESSORS[key] = tuple(
            (i, proc) for i, c in enumerate(columns)
            if not isinstance(table.c[c].type, LargeBinary)
            and (proc := table.c[c].type.dialect_impl(conn.dialect)
                 .bind_processor(conn.dialect)) is not None)
    processors = _SQLITE_PROCESSORS[key]
    if processors:
        # A batch's rows share few distinct values in these columns (its times).
        caches: list[dict[Any, Any]] = [{} for _ in processors]
        converted: list[tuple[Any, ...]] = []
        for row in rows:
            values = list(row)
            for (i, proc), cache in zip(processors, caches, strict=True):
                value = values[i]
                if value is not None:
                    done = cache.get(value)
                    if done is None:
                        done = cache[value] = proc(value)
                    values[i] = done
            converted.append(tuple(values))
        rows = converted
    # One multi-row statement per chunk rather than executemany: sqlite3 lets go of the
    # GIL around every step, and while the event loop and the signing thread are busy,
    # each retake waits up to the switch interval.  A 2,000-row round beside a busy
    # Python thread took half the time this way (docs/benchmarks.md); alone, the same.
    width = len(columns)
    limit = conn.connection.dbapi_connection.getlimit(  # type: ignore[union-attr]
        sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    per = max(1, limit // width)
    one = "(" + ",".join("?" * width) + ")"
    head = sql.removesuffix(one)
    for start in range(0, len(rows), per):
        chunk = rows[start:start + per]
        conn.exec_driver_sql(head + ",".join([one] * len(chunk)),
                             tuple(value for row in chunk for value in row))



class Store:
    """Persistence for the service over one SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    # -- tenants and tokens ------------------------------------------------------------

    def create_tenant(self, slug: str, name: str, now: datetime) -> TenantRow:
        """Add a tenant; :class:`ConflictError` if the slug is taken."""
        try:
            with self.engine.begin() as conn:
                tid = conn.execute(insert(tenants).values(slug=slug, name=name, created_at=now,
                                                          key_series=0)
                                   .returning(tenants.c.id)).scalar_one()
        except IntegrityError:
            raise ConflictError(f"tenant {slug!r} already exists") from None
        return TenantRow(tid, slug, name)

    def tenant_by_slug(self, slug: str) -> TenantRow:
        """The tenant named ``slug``; :class:`NotFoundError` if none."""
        with self.engine.connect() as conn:
            row = conn.execute(select(tenants.c.id, tenants.c.slug, tenants.c.name)
                               .where(tenants.c.slug == slug)).first()
        if row is None:
            raise NotFoundError(f"no tenant {slug!r}")
        return TenantRow(row.id, row.slug, row.name)

    def list_tenants(self) -> list[TenantRow]:
        """Every tenant, by slug."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(tenants.c.id, tenants.c.slug, tenants.c.name)
                                .order_by(tenants.c.slug)).all()
        return [TenantRow(r.id, r.slug, r.name) for r in rows]

    def add_token(self, tenant_id: int, token_hash: bytes, scopes: Iterable[str], label: str,
                  now: datetime) -> None:
        """Store a token by its hash only."""
        with self.engine.begin() as conn:
            conn.execute(insert(api_tokens).values(
                tenant_id=tenant_id, token_hash=token_hash, scopes=" ".join(sorted(scopes)),
                label=label, created_at=now))

    def token_by_hash(self, token_hash: bytes) -> TokenRow | None:
        """The live (unrevoked) token with this hash, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(api_tokens.c.tenant_id, api_tokens.c.scopes, tenants.c.slug)
                .join(tenants, tenants.c.id == api_tokens.c.tenant_id)
                .where(api_tokens.c.token_hash == token_hash,
                       api_tokens.c.revoked_at.is_(None))).first()
        if row is None:
            return None
        return TokenRow(row.tenant_id, row.slug, frozenset(row.scopes.split()))

    # -- keys --------------------------------------------------------------------------

    def add_key(self, tenant_id: int, keyid: str, public_key: bytes, status: KeyStatus,
                custody: str, now: datetime) -> None:
        """Record a signing key's public half, with no key statement (benchmarks and store
        tests; the service goes through :mod:`sceau_service.registry`).  Key ids are never
        reused."""
        now = now.replace(microsecond=0)  # validity bounds are whole seconds, as in claims
        try:
            with self.engine.begin() as conn:
                if status is KeyStatus.ACTIVE:
                    # Exactly one active key per tenant: retire the previous one.
                    conn.execute(update(signing_keys)
                                 .where(signing_keys.c.tenant_id == tenant_id,
                                        signing_keys.c.role == ROLE_SIGNING,
                                        signing_keys.c.status == KeyStatus.ACTIVE.value)
                                 .values(status=KeyStatus.RETIRED.value, not_after=now))
                conn.execute(insert(signing_keys).values(
                    keyid=keyid, tenant_id=tenant_id, public_key=public_key,
                    status=status.value, custody=custody, created_at=now,
                    not_before=now if status is KeyStatus.ACTIVE else None,
                    role=ROLE_SIGNING))
        except IntegrityError:
            raise ConflictError(f"key {keyid} already exists") from None

    def active_key(self, tenant_id: int) -> KeyRow | None:
        """The tenant's active signing key, if any."""
        return next((k for k in self.list_keys(tenant_id) if k.status is KeyStatus.ACTIVE), None)

    def active_keyid(self, tenant_id: int) -> str | None:
        """Just the id of the tenant's active signing key: one indexed lookup (the sealing
        path checks it every few seconds to notice a rotation made by another replica)."""
        with self.engine.connect() as conn:
            keyid: str | None = conn.execute(
                select(signing_keys.c.keyid)
                .where(signing_keys.c.tenant_id == tenant_id,
                       signing_keys.c.role == ROLE_SIGNING,
                       signing_keys.c.status == KeyStatus.ACTIVE.value)).scalar()
        return keyid

    def list_keys(self, tenant_id: int | None = None,
                  role: str | None = ROLE_SIGNING) -> list[KeyRow]:
        """Every key (of one tenant, or of all; of one role, or of all with ``role=None``);
        public records, never deleted."""
        with self.engine.connect() as conn:
            return self.list_keys_in(conn, tenant_id, role)

    def list_keys_in(self, conn: Connection, tenant_id: int | None = None,
                     role: str | None = ROLE_SIGNING) -> list[KeyRow]:
        """:meth:`list_keys` within ``conn``'s transaction."""
        query = (select(signing_keys, tenants.c.slug)
                 .join(tenants, tenants.c.id == signing_keys.c.tenant_id)
                 .order_by(signing_keys.c.created_at, signing_keys.c.keyid))
        if tenant_id is not None:
            query = query.where(signing_keys.c.tenant_id == tenant_id)
        if role is not None:
            query = query.where(signing_keys.c.role == role)
        rows = conn.execute(query).all()
        return [KeyRow(r.keyid, r.tenant_id, r.slug, bytes(r.public_key), KeyStatus(r.status),
                       r.custody, r.created_at, r.not_before, r.not_after,
                       r.compromised_since, r.role) for r in rows]

    # -- the key registry's transactions (sceau_service.registry) -----------------------

    def bump_key_series(self, conn: Connection, tenant_id: int) -> int:
        """Start a change to the tenant's keys: increment its key series and return the new
        value.  The UPDATE takes the tenant row's lock on PostgreSQL and the write lock on
        SQLite, so concurrent changes to one tenant's keys run one after the other."""
        version: int | None = conn.execute(
            update(tenants).where(tenants.c.id == tenant_id)
            .values(key_series=tenants.c.key_series + 1)
            .returning(tenants.c.key_series)).scalar()
        if version is None:
            raise NotFoundError("no such tenant")
        return version

    def insert_key_in(self, conn: Connection, row: KeyRow) -> None:
        """Insert a key within ``conn``'s transaction (``IntegrityError`` if its id or
        public key exists, or if it would be a second active key of its role: the caller
        rolls the whole change back)."""
        conn.execute(insert(signing_keys).values(
            keyid=row.keyid, tenant_id=row.tenant_id, public_key=row.public_key,
            role=row.role, status=row.status.value, custody=row.custody,
            created_at=row.created_at, not_before=row.not_before,
            not_after=row.not_after, compromised_since=row.compromised_since))

    def update_key_in(self, conn: Connection, row: KeyRow) -> None:
        """Write a key's lifecycle columns within ``conn``'s transaction (never its bytes,
        id, tenant or role; ``IntegrityError`` if it would be a second active key)."""
        count = conn.execute(
            update(signing_keys)
            .where(signing_keys.c.keyid == row.keyid, signing_keys.c.tenant_id == row.tenant_id)
            .values(status=row.status.value, not_before=row.not_before,
                    not_after=row.not_after, compromised_since=row.compromised_since)).rowcount
        if count != 1:
            raise NotFoundError(f"no key {row.keyid}")

    def insert_statement_in(self, conn: Connection, tenant_id: int, version: int,
                            envelope: bytes, now: datetime) -> None:
        """Append a key statement (``IntegrityError`` if the version exists)."""
        conn.execute(insert(key_statements).values(
            tenant_id=tenant_id, version=version, envelope=envelope, created_at=now))

    def latest_statement_in(self, conn: Connection,
                            tenant_id: int) -> tuple[int, bytes] | None:
        """The newest key statement of a tenant (version, envelope bytes), or None."""
        row = conn.execute(
            select(key_statements.c.version, key_statements.c.envelope)
            .where(key_statements.c.tenant_id == tenant_id)
            .order_by(key_statements.c.version.desc()).limit(1)).first()
        return None if row is None else (row.version, bytes(row.envelope))

    def latest_statement_version(self, tenant_id: int) -> int | None:
        """The version of the tenant's newest key statement (one indexed lookup), or None."""
        with self.engine.connect() as conn:
            value = conn.execute(select(func.max(key_statements.c.version))
                                 .where(key_statements.c.tenant_id == tenant_id)).scalar()
        return None if value is None else int(value)

    def statements(self, tenant_id: int) -> list[tuple[int, bytes]]:
        """Every key statement of a tenant, oldest first (version, envelope bytes)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(key_statements.c.version, key_statements.c.envelope)
                .where(key_statements.c.tenant_id == tenant_id)
                .order_by(key_statements.c.version)).all()
        return [(r.version, bytes(r.envelope)) for r in rows]

    def key_series(self, tenant_id: int) -> int:
        """The tenant's key series counter (changes whenever its keys do)."""
        with self.engine.connect() as conn:
            value = conn.execute(select(tenants.c.key_series)
                                 .where(tenants.c.id == tenant_id)).scalar()
        if value is None:
            raise NotFoundError("no such tenant")
        return int(value)

    def count_active(self, tenant_id: int) -> int:
        """How many active signing keys the tenant has (0 or 1; tests check it)."""
        with self.engine.connect() as conn:
            return int(conn.execute(
                select(func.count()).select_from(signing_keys)
                .where(signing_keys.c.tenant_id == tenant_id,
                       signing_keys.c.role == ROLE_SIGNING,
                       signing_keys.c.status == KeyStatus.ACTIVE.value)).scalar_one())

    # -- rotation policies -------------------------------------------------------------

    def set_policy(self, tenant_id: int, every_seconds: int, overlap_seconds: int,
                   now: datetime) -> None:
        """Create or replace a tenant's rotation policy."""
        values = {"every_seconds": every_seconds, "overlap_seconds": overlap_seconds,
                  "updated_at": now}
        with self.engine.begin() as conn:
            count = conn.execute(
                update(rotation_policies).where(rotation_policies.c.tenant_id == tenant_id)
                .values(**values)).rowcount
            if count == 0:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(rotation_policies).values(tenant_id=tenant_id,
                                                                      **values))
                except IntegrityError:  # a concurrent first PUT won: overwrite it
                    conn.execute(update(rotation_policies)
                                 .where(rotation_policies.c.tenant_id == tenant_id)
                                 .values(**values))

    def policies(self, tenant_id: int | None = None) -> list[PolicyRow]:
        """Rotation policies (of one tenant, or all)."""
        query = select(rotation_policies).order_by(rotation_policies.c.tenant_id)
        if tenant_id is not None:
            query = query.where(rotation_policies.c.tenant_id == tenant_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [PolicyRow(r.tenant_id, r.every_seconds, r.overlap_seconds, r.updated_at)
                for r in rows]

    # -- seals -------------------------------------------------------------------------

    def insert_seals(self, rows: Sequence[SealRow], conn: Connection | None = None) -> None:
        """Insert many seals in one transaction (the group-commit writer calls this, with
        the connection it keeps: ``conn`` must have no transaction open)."""
        if not rows:
            return
        if conn is None:
            with self.engine.begin() as own:
                self.insert_seals_in(own, rows)
            return
        with conn.begin():
            self.insert_seals_in(conn, rows)

    def insert_seals_in(self, conn: Connection, rows: Sequence[SealRow]) -> None:
        """Insert seals within ``conn``'s transaction (the transparency log's append,
        ``sceau_service.tlog``, stores seals and log entries in one commit)."""
        if not rows:
            return
        bulk_insert(conn, seals, SEAL_COLUMNS, SEAL_PG_TYPES, [
            (r.seal_id, r.tenant_id, r.keyid, r.content_sha256, r.size, r.media_type,
             r.created_at, r.envelope) for r in rows])

    def seal_envelope(self, seal_id: str) -> bytes | None:
        """The stored envelope bytes of a seal, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(seals.c.envelope)
                               .where(seals.c.seal_id == seal_id)).first()
        return None if row is None else bytes(row.envelope)

    def seals_by_hash(self, content_sha256: str, limit: int = 100) -> list[tuple[SealRow, str]]:
        """Seals of content with this SHA-256 (lowercase hex) and their tenant's slug,
        newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(seals, tenants.c.slug)
                .join(tenants, tenants.c.id == seals.c.tenant_id)
                .where(seals.c.content_sha256 == content_sha256)
                .order_by(seals.c.created_at.desc(), seals.c.seal_id).limit(limit)).all()
        return [(SealRow(r.seal_id, r.tenant_id, r.keyid, r.content_sha256, r.size,
                         r.media_type, r.created_at, bytes(r.envelope)), r.slug) for r in rows]

    def newest_seals(self, hashes: Iterable[str]) -> list[LookupRow]:
        """For each content SHA-256 (lowercase hex) that has seals, its newest seal's id.

        One statement for the whole batch, served by the index on ``(content_sha256,
        created_at)`` on both backends: a window over each hash's seals keeps the first
        by ``created_at`` descending (ties: smallest seal id, as :meth:`seals_by_hash`).
        """
        wanted = sorted(set(hashes))
        if not wanted:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(NEWEST_SEALS, {"hashes": wanted}).all()
        return [LookupRow(r.content_sha256, r.seal_id) for r in rows]

    def envelopes(self, seal_ids: Iterable[str]) -> dict[str, bytes]:
        """The stored envelope bytes of these seals, by seal id (unknown ids left out)."""
        wanted = sorted(set(seal_ids))
        if not wanted:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(select(seals.c.seal_id, seals.c.envelope)
                                .where(seals.c.seal_id.in_(wanted))).all()
        return {r.seal_id: bytes(r.envelope) for r in rows}



#: After the lookup's own connection fails, lookups take the pooled path for this long
#: before it reconnects (a database that is down must not cost a connection attempt per
#: request).
LOOKUP_RECONNECT_SECONDS = 1.0

#: The page cache of the lookup's SQLite connection, in KiB (filled as pages are read).
LOOKUP_SQLITE_CACHE_KIB = 256 * 1024

_log = logging.getLogger(__name__)


class LookupReader:
    """:meth:`Store.newest_seals` for ``POST /v1/lookup``, on a connection of its own,
    without leaving the event loop.

    The pooled path costs more than the statement: on PostgreSQL, ``pool_pre_ping`` and
    the rollback when the connection goes back to the pool are two more round trips (the
    statement alone takes ~0.6 ms, through the pool ~2.7 ms), and SQLAlchemy's execution
    and row handling add ~0.4 ms of CPU on either backend; handing the call to a worker
    thread and back adds two wake-ups, whose delays are the tail on a busy host.  So this
    runs :data:`NEWEST_SEALS` (compiled by SQLAlchemy once per batch size: the SQL of the
    pooled path) with the driver directly: on SQLite inline (an indexed read of a few
    hundred microseconds; a WAL reader does not wait for writers), on PostgreSQL with
    psycopg's asynchronous connection in autocommit mode, so that each statement sees
    the latest commits and the loop serves other requests while it runs.

    Any failure of this path (a locked database, a lost connection) answers the request
    through :meth:`Store.newest_seals`, so that errors are the ones the service always
    gave; the connection is dropped and reopened at a call at least
    :data:`LOOKUP_RECONNECT_SECONDS` later.  Other drivers always take the pooled path.
    Used from one event loop; :meth:`close` it before the engine is disposed.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._dialect = store.engine.dialect
        name = self._dialect.name
        self._kind = ("sqlite" if name == "sqlite" else
                      "psycopg" if name == "postgresql" and self._dialect.driver == "psycopg"
                      else None)
        dialect = self._dialect
        if self._kind == "psycopg":
            # PostgreSQL's own $n placeholders, for psycopg's raw cursor: its usual cursor
            # parses the %(name)s ones at every call of a statement with over 50
            # parameters (its cache's limit), ~0.3 ms for a batch of 50 hashes.
            psycopg_dialect: Any = type(dialect)  # a DefaultDialect: takes paramstyle
            dialect = psycopg_dialect(paramstyle="numeric_dollar")
        self._compiled = NEWEST_SEALS.compile(dialect=dialect)
        # By batch size: the SQL, its constant parameters, the parameters' order (for a
        # positional driver; None for a named one).
        self._statements: dict[int, tuple[str, dict[str, Any], tuple[str, ...] | None]] = {}
        self._sqlite: Any = None  # SQLAlchemy's wrapper, detached from the engine's pool
        self._pg: Any = None  # a psycopg.AsyncConnection
        self._retry_at = 0.0

    def _bind(self, wanted: list[str]) -> tuple[str, Any]:
        """The SQL for these hashes and its parameters, in the driver's style."""
        found = self._statements.get(len(wanted))
        if found is None:
            expanded = self._compiled.construct_expanded_state({"hashes": wanted})
            constants = {k: v for k, v in expanded.parameters.items()
                         if not k.startswith("hashes_")}
            order = None if expanded.positiontup is None else tuple(expanded.positiontup)
            found = self._statements[len(wanted)] = (expanded.statement, constants, order)
        sql, constants, order = found
        values = dict(constants)
        values.update(zip((f"hashes_{i}" for i in range(1, len(wanted) + 1)), wanted,
                          strict=True))
        return sql, values if order is None else tuple(values[n] for n in order)

    async def newest_seals(self, hashes: Iterable[str]) -> list[LookupRow]:
        """As :meth:`Store.newest_seals`."""
        wanted = sorted(set(hashes))
        if not wanted:
            return []
        if self._kind is not None and time.monotonic() >= self._retry_at:
            try:
                if self._kind == "sqlite":
                    if self._sqlite is None:
                        # In a thread: the engine's pool may make it wait for a connection.
                        self._sqlite = await run_in_threadpool(self._open_sqlite)
                    rows = self._sqlite_rows(wanted)
                else:
                    rows = await self._pg_rows(wanted)
                return [LookupRow(sha, sid) for sha, sid in rows]
            except Exception as exc:  # the pooled path answers, as it always did
                _log.warning("lookup connection failed, using the pool: %s: %s",
                             type(exc).__name__, exc)
                await self._drop()
                self._retry_at = time.monotonic() + LOOKUP_RECONNECT_SECONDS
        return await run_in_threadpool(self._store.newest_seals, wanted)

    def _open_sqlite(self) -> Any:
        conn = self._store.engine.raw_connection()  # with the engine's pragmas
        conn.detach()  # its own from now on: closing it closes it
        driver: Any = conn.dbapi_connection
        # Inline on the event loop, never wait for a lock (a WAL reader meets one only
        # in recovery): the pooled path waits, in a worker thread.
        driver.execute("PRAGMA busy_timeout=0")
        # A page cache of its own of up to 256 MiB (SQLite's default: 2 MiB): the index's
        # pages stay here instead of being read from the OS for every probe (measured
        # over 10^6 seals: 0.36 -> 0.31 ms of CPU per statement).
        driver.execute(f"PRAGMA cache_size=-{LOOKUP_SQLITE_CACHE_KIB}")
        return conn

    def _sqlite_rows(self, wanted: list[str]) -> list[tuple[str, str]]:
        sql, params = self._bind(wanted)
        cursor = self._sqlite.dbapi_connection.execute(sql, params)
        try:
            rows: list[tuple[str, str]] = cursor.fetchall()
        finally:
            cursor.close()
        return rows

    async def _pg_rows(self, wanted: list[str]) -> list[tuple[str, str]]:
        if self._pg is None:
            import psycopg  # noqa: PLC0415 (optional: the 'postgres' extra)

            # The engine's own connection arguments (host, credentials, adapters).
            cargs, cparams = self._dialect.create_connect_args(self._store.engine.url)
            self._pg = await psycopg.AsyncConnection.connect(*cargs, **cparams,
                                                             autocommit=True)
        sql, params = self._bind(wanted)
        # Shielded: a cancelled request must not interrupt the shared connection in the
        # middle of a statement.
        return await asyncio.shield(self._pg_query(self._pg, sql, params))

    @staticmethod
    async def _pg_query(conn: Any, sql: str, params: Any) -> list[tuple[str, str]]:
        import psycopg  # noqa: PLC0415 (optional: the 'postgres' extra)

        async with psycopg.AsyncRawCursor(conn) as cursor:
            await cursor.execute(sql, params)
            rows: list[tuple[str, str]] = await cursor.fetchall()
        return rows

    async def _drop(self) -> None:
        with contextlib.suppress(Exception):
            await self.close()
        self._sqlite = self._pg = None

    async def close(self) -> None:
        """Close the connection, if open (a later call opens a new one)."""
        sqlite, self._sqlite = self._sqlite, None
        pg, self._pg = self._pg, None
        if sqlite is not None:
            sqlite.close()
        if pg is not None:
            await pg.close()
