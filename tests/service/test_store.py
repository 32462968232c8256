"""The store: migrations, the key registry's invariants, and the group-commit writer."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from sceau import KeyStatus
from sceau.errors import ConflictError, ServiceUnavailableError
from sceau_service.db import make_engine, metadata, seals, signing_keys
from sceau_service.migrate import downgrade, upgrade
from sceau_service.store import SealRow, Store, TenantRow
from sceau_service.writer import SealWriter

from ..conftest import PG_DEFAULT, PG_ENV, _in_ci

TABLES = {"tenants", "api_tokens", "signing_keys", "seals", "log_keys", "log_state",
          "log_nodes", "key_statements", "rotation_policies"}


def _now() -> datetime:
    return datetime.now(UTC)


# -- migrations ------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a brand-new, empty database (PostgreSQL: created here, dropped after)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
        try:
            yield engine
        finally:
            engine.dispose()
        return
    admin_url = make_url(os.environ.get(PG_ENV, PG_DEFAULT))
    name = f"sceau_mig_{secrets.token_hex(6)}"
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        message = f"PostgreSQL not reachable at {admin_url.render_as_string()}: {exc}"
        if _in_ci():
            pytest.fail(message)
        sys.stderr.write(f"\n!!! SKIPPING PostgreSQL tests: {message}\n")
        pytest.skip(message)
    engine = make_engine(admin_url.set(database=name).render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


#: On PostgreSQL, migration 0005 replaces these foreign keys with statement-level checks.
_PG_CHECKED_BY_STATEMENT = {"fk_seals_tenant_id_tenants", "fk_seals_keyid_signing_keys",
                            "fk_log_nodes_seal_id_seals"}
_PG_TRIGGERS = {"seals_check", "log_nodes_check", "seals_never_change",
                "signing_keys_never_deleted", "signing_keys_keep_identity",
                "tenants_never_deleted", "tenants_keep_id"}


def _diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True})
        diff = list(compare_metadata(ctx, metadata))
        if engine.dialect.name == "postgresql" and _revision(engine) is not None:
            missing = {d[1].name for d in diff
                       if isinstance(d, tuple) and d[0] == "add_fk"}
            if missing == _PG_CHECKED_BY_STATEMENT:
                triggers = set(conn.execute(text(
                    "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")).scalars())
                assert triggers == _PG_TRIGGERS
                diff = [d for d in diff if not (isinstance(d, tuple) and d[0] == "add_fk")]
        return diff


def _revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_migrations_round_trip_and_match_the_metadata(fresh_engine: Engine) -> None:
    assert _tables(fresh_engine) == set()
    assert len(_diff(fresh_engine)) > 0  # the comparison does see a missing schema

    upgrade(fresh_engine)
    assert _tables(fresh_engine) == TABLES | {"alembic_version"}
    assert _revision(fresh_engine) == "0005"
    assert _diff(fresh_engine) == []
    upgrade(fresh_engine)  # idempotent
    store = Store(fresh_engine)
    store.create_tenant("before", "Before", _now())

    downgrade(fresh_engine, "base")
    assert _tables(fresh_engine) <= {"alembic_version"}
    assert _revision(fresh_engine) is None

    upgrade(fresh_engine)
    assert _tables(fresh_engine) == TABLES | {"alembic_version"}
    assert _revision(fresh_engine) == "0005"
    assert _diff(fresh_engine) == []
    # the re-created schema is empty and usable
    store = Store(fresh_engine)
    assert store.list_keys() == []
    store.create_tenant("before", "Before again", _now())


@pytest.mark.parametrize("fresh_engine", ["postgresql"], indirect=True)
def test_concurrent_upgrades_are_safe(fresh_engine: Engine) -> None:
    """Replicas starting together on PostgreSQL: all upgrade, one migrates, none fails."""
    async def main() -> None:
        await asyncio.gather(*(asyncio.to_thread(upgrade, fresh_engine) for _ in range(4)))

    asyncio.run(main())
    assert _revision(fresh_engine) == "0005"
    assert _diff(fresh_engine) == []


# -- keys ------------------------------------------------------------------------------


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    engine = make_engine(database_url)
    upgrade(engine)
    try:
        yield Store(engine)
    finally:
        engine.dispose()


def _tenant(store: Store) -> TenantRow:
    return store.create_tenant(f"s-{secrets.token_hex(4)}", "Store test", _now())


def _key(store: Store, tenant: TenantRow, status: KeyStatus = KeyStatus.ACTIVE,
         *, keyid: str | None = None, public: bytes | None = None,
         now: datetime | None = None) -> str:
    keyid = keyid or secrets.token_urlsafe(32)[:43]
    store.add_key(tenant.id, keyid, public or secrets.token_bytes(32), status, "file",
                  now or _now())
    return keyid


def test_key_ids_are_never_reused(store: Store) -> None:
    a, b = _tenant(store), _tenant(store)
    keyid = _key(store, a)
    for tenant, status in ((a, KeyStatus.ACTIVE), (a, KeyStatus.RETIRED), (b, KeyStatus.ACTIVE),
                           (b, KeyStatus.PENDING)):
        with pytest.raises(ConflictError, match=keyid):
            _key(store, tenant, status, keyid=keyid)
    # the failed insert rolled back: A's key is still its only, active key
    assert [(k.keyid, k.status) for k in store.list_keys(a.id)] == [(keyid, KeyStatus.ACTIVE)]
    assert store.list_keys(b.id) == []


def test_public_keys_are_never_reused(store: Store) -> None:
    a, b = _tenant(store), _tenant(store)
    public = secrets.token_bytes(32)
    _key(store, a, public=public)
    with pytest.raises(ConflictError):
        _key(store, b, public=public)
    assert store.list_keys(b.id) == []


def test_one_active_key_per_tenant(store: Store) -> None:
    a, b = _tenant(store), _tenant(store)
    t0 = datetime(2026, 1, 1, 12, 0, 0, 500_000, tzinfo=UTC)
    first = _key(store, a, now=t0)
    other = _key(store, b, now=t0)
    second = _key(store, a, now=t0 + timedelta(days=30))
    keys = {k.keyid: k for k in store.list_keys(a.id)}
    assert keys[first].status is KeyStatus.RETIRED
    assert keys[first].not_before == t0.replace(microsecond=0)
    assert keys[first].not_after == (t0 + timedelta(days=30)).replace(microsecond=0)
    assert keys[second].status is KeyStatus.ACTIVE
    assert keys[second].not_before == keys[first].not_after
    assert keys[second].not_after is None
    active = store.active_key(a.id)
    assert active is not None and active.keyid == second
    # another tenant's active key is untouched
    b_key = store.active_key(b.id)
    assert b_key is not None and b_key.keyid == other and b_key.not_after is None

    third = _key(store, a, now=t0 + timedelta(days=60))
    statuses = [k.status for k in store.list_keys(a.id)]
    assert statuses.count(KeyStatus.ACTIVE) == 1
    assert store.active_key(a.id).keyid == third  # type: ignore[union-attr]
    with store.engine.connect() as conn:
        per_tenant = conn.execute(
            select(signing_keys.c.tenant_id, func.count())
            .where(signing_keys.c.status == KeyStatus.ACTIVE.value,
                   signing_keys.c.role == "signing")  # root keys: one per tenant of their own
            .group_by(signing_keys.c.tenant_id)).all()
    assert all(count == 1 for _, count in per_tenant)


def test_a_pending_key_does_not_retire_the_active_one(store: Store) -> None:
    a = _tenant(store)
    active = _key(store, a)
    pending = _key(store, a, KeyStatus.PENDING)
    keys = {k.keyid: k for k in store.list_keys(a.id)}
    assert keys[active].status is KeyStatus.ACTIVE and keys[active].not_after is None
    assert keys[pending].status is KeyStatus.PENDING and keys[pending].not_before is None


def test_keys_are_public_records_with_aware_times(store: Store) -> None:
    a = _tenant(store)
    keyid = _key(store, a)
    (row,) = store.list_keys(a.id)
    assert row.keyid == keyid and row.tenant_slug == a.slug
    assert row.created_at.tzinfo is UTC and row.not_before is not None
    assert row.record().tenant == a.slug


# -- the group-commit writer -----------------------------------------------------------


class CountingStore(Store):
    """A store that records the size of every insert batch."""

    def __init__(self, store: Store) -> None:
        super().__init__(store.engine)
        self.batches: list[int] = []

    def insert_seals(self, rows: Sequence[SealRow], conn: Connection | None = None) -> None:
        self.batches.append(len(rows))
        super().insert_seals(rows, conn)


def _rows(tenant: TenantRow, keyid: str, n: int) -> list[SealRow]:
    now = _now()
    out = []
    for _ in range(n):
        sid = secrets.token_hex(32)
        out.append(SealRow(sid, tenant.id, keyid, secrets.token_hex(32), 1, "image/jpeg", now,
                           b'{"seal":"' + sid.encode() + b'"}'))
    return out


def _count(store: Store, ids: Sequence[str]) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(seals)
                                .where(seals.c.seal_id.in_(list(ids)))).scalar_one())


def test_writer_commits_500_concurrent_submissions(store: Store) -> None:
    tenant = _tenant(store)
    keyid = _key(store, tenant)
    counting = CountingStore(store)
    submissions = [_rows(tenant, keyid, 1 + i % 3) for i in range(500)]

    async def main() -> None:
        writer = SealWriter(counting, max_rows=128)
        writer.start()
        try:
            await asyncio.gather(*(writer.write(rows) for rows in submissions))
        finally:
            await writer.close()

    asyncio.run(main())
    every = [r for rows in submissions for r in rows]
    assert sum(counting.batches) == len(every)
    assert len(counting.batches) < 500  # grouped, not one commit per request
    assert max(counting.batches) <= 128  # and no batch over the bound
    assert _count(store, [r.seal_id for r in every]) == len(every)
    for row in every[::37]:
        assert store.seal_envelope(row.seal_id) == row.envelope


def test_writer_failure_fails_the_whole_batch_then_recovers(store: Store) -> None:
    tenant = _tenant(store)
    keyid = _key(store, tenant)
    (existing,) = _rows(tenant, keyid, 1)
    store.insert_seals([existing])
    doomed = [_rows(tenant, keyid, 2) for _ in range(20)]
    doomed[7] = [doomed[7][0], existing]  # a duplicate seal_id poisons the batch
    later = [_rows(tenant, keyid, 1) for _ in range(20)]
    counting = CountingStore(store)

    async def main() -> tuple[list[BaseException | list[bytes]],
                              list[BaseException | list[bytes]]]:
        writer = SealWriter(counting)
        writer.start()
        try:
            first = await asyncio.gather(*(writer.write(r) for r in doomed),
                                         return_exceptions=True)
            second = await asyncio.gather(*(writer.write(r) for r in later),
                                          return_exceptions=True)
        finally:
            await writer.close()
        return first, second

    first, second = asyncio.run(main())
    assert counting.batches[0] == 40  # all twenty requests were in the one failed batch
    assert all(isinstance(e, ServiceUnavailableError) for e in first), first
    assert all(e.detail == "could not store seals: IntegrityError"  # type: ignore[union-attr]
               for e in first)
    assert _count(store, [r.seal_id for rows in doomed for r in rows
                          if r is not existing]) == 0  # nothing of the batch was kept
    assert second == [[rows[0].envelope] for rows in later]  # each waiter's envelopes
    assert _count(store, [rows[0].seal_id for rows in later]) == 20


def test_references_hold_on_every_backend(store: Store) -> None:
    """What the foreign keys guarantee holds whether they are foreign keys (SQLite) or
    statement-level checks (PostgreSQL, migration 0005), on the bulk path the writer
    uses: a seal names an existing tenant and key, a log leaf a stored seal, and none of
    them can be deleted from under the other."""
    from sceau_service.db import log_nodes, tenants
    from sceau_service.store import bulk_insert
    from sceau_service.tlog import _NODE_COLUMNS, _NODE_TYPES

    tenant, other = _tenant(store), _tenant(store)
    keyid, others_key = _key(store, tenant), _key(store, other)
    good = _rows(tenant, keyid, 3)
    store.insert_seals(good)
    for bad in (replace(_rows(tenant, keyid, 1)[0], keyid="no-such-key"),
                replace(_rows(tenant, keyid, 1)[0], tenant_id=10**9)):
        with pytest.raises(IntegrityError):
            store.insert_seals([*_rows(tenant, keyid, 2), bad])
    if store.engine.dialect.name == "postgresql":
        # Stronger than the foreign keys: the key must be the seal's own tenant's.
        with pytest.raises(IntegrityError, match="not its tenant's"):
            store.insert_seals([replace(_rows(tenant, keyid, 1)[0], keyid=others_key)])
        # The checks' plans stay index lookups however the tables grow after a
        # connection planned them (PL/pgSQL caches the first plan; on an empty table a
        # full scan looked cheapest, and the service then slowed as the table grew).
        with store.engine.connect() as conn:
            configs = dict(conn.execute(text(
                "SELECT proname, proconfig FROM pg_proc WHERE proname IN "
                "('sceau_check_seals', 'sceau_check_log_nodes')")).all())
        assert set(configs) == {"sceau_check_seals", "sceau_check_log_nodes"}
        for config in configs.values():
            assert {"enable_seqscan=off", "enable_hashjoin=off",
                    "enable_mergejoin=off"} <= set(config)
        # ... and keys and seals are never deleted or changed, with seals or without.
        unused = _key(store, other, KeyStatus.PENDING)
        for statement in (signing_keys.delete().where(signing_keys.c.keyid == unused),
                          signing_keys.update().where(signing_keys.c.keyid == unused)
                          .values(tenant_id=tenant.id),
                          seals.update().where(seals.c.seal_id == good[2].seal_id)
                          .values(size=2)):
            with pytest.raises(IntegrityError, match="never"), store.engine.begin() as conn:
                conn.execute(statement)

    def leaf(seal: str) -> tuple[int, int, bytes, str]:
        return (0, 10**12 + secrets.randbelow(10**6), secrets.token_bytes(32), seal)

    with store.engine.begin() as conn:
        bulk_insert(conn, log_nodes, _NODE_COLUMNS, _NODE_TYPES, [leaf(good[0].seal_id)])
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        bulk_insert(conn, log_nodes, _NODE_COLUMNS, _NODE_TYPES,
                    [leaf(good[1].seal_id), leaf("0" * 64)])
    for statement in (seals.delete().where(seals.c.seal_id == good[0].seal_id),
                      signing_keys.delete().where(signing_keys.c.keyid == keyid),
                      tenants.delete().where(tenants.c.id == tenant.id),
                      tenants.update().where(tenants.c.id == tenant.id).values(id=10**9)):
        with pytest.raises(IntegrityError), store.engine.begin() as conn:
            conn.execute(statement)
    assert _count(store, [r.seal_id for r in good]) == 3


def test_postgresql_keeps_envelopes_in_the_row(store: Store) -> None:
    """Migration 0004: envelopes of a few KB (a seal with its log proof is ~2.1 KB) are
    stored in the heap row, neither compressed nor moved to the TOAST table; larger ones
    are still toasted."""
    import base64

    if store.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's TOAST")
    tenant = _tenant(store)
    keyid = _key(store, tenant)
    rows = [replace(r, envelope=base64.b64encode(secrets.token_bytes(1600 + i)))
            for i, r in enumerate(_rows(tenant, keyid, 20))]
    store.insert_seals(rows)
    with store.engine.connect() as conn:
        options = conn.execute(text(
            "SELECT reloptions FROM pg_class WHERE relname = 'seals'")).scalar_one()
        assert "toast_tuple_target=8160" in options

        def inline(ids: list[str]) -> int:
            # An inline, uncompressed value is stored with its 4-byte length header; a
            # toasted one is counted by its (possibly compressed) stored bytes alone.
            return int(conn.execute(text(
                "SELECT count(*) FROM seals WHERE seal_id = ANY(:ids) "
                "AND pg_column_size(envelope) > octet_length(envelope)"),
                {"ids": ids}).scalar_one())

        assert inline([r.seal_id for r in rows]) == len(rows)
        big = replace(_rows(tenant, keyid, 1)[0],
                      envelope=base64.b64encode(secrets.token_bytes(7000)))
        store.insert_seals([big])
        assert inline([big.seal_id]) == 0  # over 8 KB: toasted as before
    for row in rows:
        assert store.seal_envelope(row.seal_id) == row.envelope


def test_sqlite_bulk_insert_splits_at_the_bound_values_limit(store: Store) -> None:
    """Multi-row INSERTs: a connection allowing 16 bound values takes 8-column rows two
    by two; every row lands, and a duplicate anywhere undoes the whole transaction."""
    import sqlite3

    from sceau_service.store import SEAL_COLUMNS, SEAL_PG_TYPES, bulk_insert

    if store.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's bound values limit")
    tenant = _tenant(store)
    keyid = _key(store, tenant)
    rows = _rows(tenant, keyid, 11)

    def values(batch: Sequence[SealRow]) -> list[tuple[object, ...]]:
        return [(r.seal_id, r.tenant_id, r.keyid, r.content_sha256, r.size, r.media_type,
                 r.created_at, r.envelope) for r in batch]

    with store.engine.connect() as conn:
        driver = conn.connection.dbapi_connection
        assert isinstance(driver, sqlite3.Connection)
        previous = driver.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 16)
        try:
            with conn.begin():
                bulk_insert(conn, seals, SEAL_COLUMNS, SEAL_PG_TYPES, values(rows))
            doomed = _rows(tenant, keyid, 5)
            with pytest.raises(IntegrityError), conn.begin():
                bulk_insert(conn, seals, SEAL_COLUMNS, SEAL_PG_TYPES,
                            values([*doomed, rows[4]]))
        finally:
            driver.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, previous)
    assert _count(store, [r.seal_id for r in rows]) == 11
    assert _count(store, [r.seal_id for r in doomed]) == 0
    for row in rows:
        assert store.seal_envelope(row.seal_id) == row.envelope


def test_writer_checkpoints_sqlite_beside_its_commits(store: Store) -> None:
    """On SQLite the writer's own connection never checkpoints (wal_autocheckpoint=0);
    the checkpointer thread does, after commits, and everything stays readable."""
    if store.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write-ahead log")
    tenant = _tenant(store)
    keyid = _key(store, tenant)
    submissions = [_rows(tenant, keyid, 50) for _ in range(40)]

    async def main() -> tuple[int, int]:
        writer = SealWriter(store, max_rows=100)
        writer.start()
        try:
            await asyncio.gather(*(writer.write(rows) for rows in submissions))
            checkpointer = writer._checkpointer
            assert checkpointer is not None
            for _ in range(100):  # the first checkpoint comes a moment after a commit
                if checkpointer.checkpoints:
                    break
                await asyncio.sleep(0.05)
            thread = writer._thread
            assert thread is not None
            probe = thread.commit([])  # runs on the writer's thread, with its connection
            await probe
            return checkpointer.checkpoints, len(submissions)
        finally:
            await writer.close()

    checkpoints, _ = asyncio.run(main())
    assert checkpoints >= 1
    every = [r for rows in submissions for r in rows]
    assert _count(store, [r.seal_id for r in every]) == len(every)
    with store.engine.connect() as conn:  # nothing left behind in the log
        busy, frames, done = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
    assert busy == 0 and frames == done


def test_writer_connection_does_not_checkpoint(store: Store) -> None:
    from sceau_service.walcheckpoint import writer_connect

    if store.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write-ahead log")
    with writer_connect(store.engine) as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000


def test_writer_survives_a_store_outage() -> None:
    """Any exception from the store reaches every waiter; the next batch is tried anew."""
    class Flaky:
        def __init__(self) -> None:
            self.calls = 0

        def insert_seals(self, rows: Sequence[SealRow], conn: Connection | None = None) -> None:
            self.calls += 1
            if self.calls == 1:
                raise OSError("connection refused")

    flaky = Flaky()

    async def main() -> tuple[list[BaseException | list[bytes]], list[bytes]]:
        writer = SealWriter(flaky)  # type: ignore[arg-type]
        writer.start()
        try:
            failed = await asyncio.gather(*(writer.write([]) for _ in range(5)),
                                          return_exceptions=True)
            ok = await writer.write([])
        finally:
            await writer.close()
        return failed, ok

    failed, ok = asyncio.run(main())
    assert all(isinstance(e, ServiceUnavailableError) for e in failed)
    assert ok == [] and flaky.calls == 2


def test_writer_refuses_work_once_closed(store: Store) -> None:
    tenant = _tenant(store)
    keyid = _key(store, tenant)
    rows = _rows(tenant, keyid, 3)

    async def main() -> None:
        writer = SealWriter(store)
        with pytest.raises(ServiceUnavailableError):
            await writer.write(rows)  # not started
        writer.start()
        pending = asyncio.gather(*(writer.write([r]) for r in rows))
        await asyncio.sleep(0)
        await writer.close()  # finishes what is queued
        await pending
        with pytest.raises(ServiceUnavailableError, match="shutting down"):
            await writer.write(_rows(tenant, keyid, 1))

    asyncio.run(main())
    assert _count(store, [r.seal_id for r in rows]) == 3
