"""All SQL lives here: tenants, tokens, keys and seals (SQLAlchemy Core, sync).

Routes never issue SQL; they call these methods (in a worker thread when blocking).
"""

from __future__ import annotations

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

__all__ = ["ROLE_ROOT", "ROLE_SIGNING", "KeyRow", "LookupRow", "PolicyRow", "SealRow", "Store",
           "TenantRow", "TokenRow"]

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
    """The driver's executemany, with the columns' bind processors applied here: the
    values SQLAlchemy would send, without its per-row parameter dicts and compilation,
    which cost more than SQLite's own work for a batch."""
    key = (table.name, columns)
    sql = _SQLITE_INSERTS.get(key)
    if sql is None:
        quote = conn.dialect.identifier_preparer.quote
        # Identifiers from this module's own schema, quoted; the values are bound.
        sql = _SQLITE_INSERTS[key] = (
            f"INSERT INTO {quote(table.name)} ({', '.join(map(quote, columns))}) "  # noqa: S608
            f"VALUES ({', '.join('?' * len(columns))})")
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
    conn.exec_driver_sql(sql, list(rows))



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

    def insert_seals(self, rows: Sequence[SealRow]) -> None:
        """Insert many seals in one transaction (the group-commit writer calls this)."""
        if not rows:
            return
        with self.engine.begin() as conn:
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
