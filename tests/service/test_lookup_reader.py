"""store.LookupReader: the lookup's statement on a connection of its own, on the event
loop (SQLite and PostgreSQL), with the pooled path as the fallback."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from typing import Any, NoReturn

import pytest
from sqlalchemy import text

from sceau_service import store as store_module
from sceau_service.store import LookupReader, LookupRow, Store

from .conftest import Service


def _digest() -> str:
    return hashlib.sha256(secrets.token_bytes(16)).hexdigest()


def _seal(service: Service, digest: str) -> str:
    r = service.client.post("/v1/seals", json={"hash": digest, "size": 1234,
                                               "media_type": "image/jpeg"},
                            headers=service.auth())
    assert r.status_code == 201, r.text
    seal_id: str = r.json()["seal_id"]
    return seal_id


def _no_pool(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the pooled path fail: whatever answers below came from the reader's own
    connection."""
    def pooled(_hashes: Any) -> NoReturn:
        raise AssertionError("the lookup took the pooled path")

    monkeypatch.setattr(store, "newest_seals", pooled)


def _sorted(rows: list[LookupRow]) -> list[LookupRow]:
    return sorted(rows, key=lambda r: r.content_sha256)


def test_reader_answers_as_the_store_and_sees_each_new_seal(
        service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second, absent = _digest(), _digest(), _digest()
    old_id = _seal(service, first)
    store = Store(service.store.engine)
    expected = _sorted(store.newest_seals([first, second, absent, first]))
    _no_pool(store, monkeypatch)

    async def run() -> None:
        reader = LookupReader(store)
        try:
            assert await reader.newest_seals([]) == []
            found = await reader.newest_seals([first, second, absent, first])
            assert _sorted(found) == expected == [LookupRow(first, old_id)]
            # Seals stored after the connection was opened are seen at once (no
            # snapshot kept between statements), the newest of a hash first.
            new_id = _seal(service, first)
            other_id = _seal(service, second)
            found = await reader.newest_seals([absent, first, second])
            assert _sorted(found) == _sorted([LookupRow(first, new_id),
                                              LookupRow(second, other_id)])
            hashes = [_digest() for _ in range(99)] + [second]  # another batch size
            assert await reader.newest_seals(hashes) == [LookupRow(second, other_id)]
        finally:
            await reader.close()

    asyncio.run(run())


def _lose_connection(store: Store, reader: LookupReader) -> None:
    """Break the reader's connection under it."""
    if store.engine.dialect.name == "postgresql":
        pid = reader._pg.info.backend_pid
        with store.engine.begin() as conn:  # as a server restart would
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    else:
        reader._sqlite.dbapi_connection.close()


def test_lost_connection_answers_through_the_pool_then_reconnects(
        service: Service, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    digest = _digest()
    seal_id = _seal(service, digest)
    store = Store(service.store.engine)
    monkeypatch.setattr(store_module, "LOOKUP_RECONNECT_SECONDS", 0.0)

    async def run() -> None:
        reader = LookupReader(store)
        try:
            assert await reader.newest_seals([digest]) == [LookupRow(digest, seal_id)]
            _lose_connection(store, reader)
            with caplog.at_level(logging.WARNING, "sceau_service.store"):
                assert await reader.newest_seals([digest]) == [LookupRow(digest, seal_id)]
            assert "lookup connection failed, using the pool" in caplog.text
            with monkeypatch.context() as patch:
                _no_pool(store, patch)  # the next call reconnects
                assert await reader.newest_seals([digest]) == [LookupRow(digest, seal_id)]
        finally:
            await reader.close()

    asyncio.run(run())


def test_after_a_failure_the_pool_answers_until_the_reconnect_delay(
        service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    digest = _digest()
    seal_id = _seal(service, digest)
    store = Store(service.store.engine)
    calls: list[list[str]] = []
    pooled = store.newest_seals

    def counting(hashes: list[str]) -> list[LookupRow]:
        calls.append(hashes)
        return pooled(hashes)

    monkeypatch.setattr(store, "newest_seals", counting)
    monkeypatch.setattr(store_module, "LOOKUP_RECONNECT_SECONDS", 3600.0)

    async def run() -> None:
        reader = LookupReader(store)
        try:
            await reader.newest_seals([digest])
            assert calls == []
            _lose_connection(store, reader)
            for _ in range(3):  # not a reconnection attempt per request
                assert await reader.newest_seals([digest]) == [LookupRow(digest, seal_id)]
            assert calls == [[digest]] * 3
            assert reader._sqlite is None and reader._pg is None
        finally:
            await reader.close()

    asyncio.run(run())


def test_app_lookups_use_the_reader(service: Service,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    digest, absent = _digest(), _digest()
    seal_id = _seal(service, digest)
    app_store = service.client.app.state.sceau.store  # type: ignore[attr-defined]
    _no_pool(app_store, monkeypatch)
    r = service.client.post("/v1/lookup", json={"hashes": [absent, digest]})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert results[0] == {"sha256": absent, "found": False}
    assert (results[1]["seal_id"], results[1]["ok"]) == (seal_id, True)
