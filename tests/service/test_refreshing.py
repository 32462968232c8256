"""RefreshAhead and the key caches built on it: reloaded in the background before they
expire, so that no request waits for a reload while requests keep coming."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from sceau import KeyStatus
from sceau_service.db import signing_keys
from sceau_service.refreshing import REFRESH_AT, RefreshAhead
from sceau_service.state import KeyRingCache

from .conftest import Service


class Source:
    """A value that changes, read by a load that can be held (a slow database)."""

    def __init__(self) -> None:
        self.value = 0
        self.loads = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail = False

    async def load(self) -> int:
        self.loads += 1
        read = self.value  # what the database said when the load started
        await self.gate.wait()
        if self.fail:
            raise RuntimeError("database down")
        return read


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_fresh_value_is_served_and_reloaded_in_the_background_before_expiry() -> None:
    async def run() -> None:
        source, clock = Source(), Clock()
        cache = RefreshAhead(source.load, 10.0, clock)
        assert await cache.get() == 0 and source.loads == 1
        source.value = 1
        clock.now += 10.0 * REFRESH_AT - 0.1
        assert await cache.get() == 0 and source.loads == 1  # fresh: no reload
        clock.now += 0.2
        source.gate.clear()  # the reload will take a while
        assert await cache.get() == 0  # served at once, reload started
        await _settle()
        assert source.loads == 2
        assert await cache.get() == 0 and source.loads == 2  # one reload at a time
        source.gate.set()
        await _settle()
        assert await cache.get() == 1 and source.loads == 2  # the reloaded value
        clock.now += 10.0 * REFRESH_AT - 0.1
        assert await cache.get() == 1 and source.loads == 2

    asyncio.run(run())


def test_expired_value_is_reloaded_while_the_request_waits() -> None:
    async def run() -> None:
        source, clock = Source(), Clock()
        cache = RefreshAhead(source.load, 10.0, clock)
        await cache.get()
        source.value = 1
        clock.now += 10.0  # no request in the last quarter: expired
        assert await cache.get() == 1 and source.loads == 2

    asyncio.run(run())


def test_zero_ttl_loads_on_every_call() -> None:
    async def run() -> None:
        source = Source()
        cache = RefreshAhead(source.load, 0.0)
        for expected in range(3):
            source.value = expected
            assert await cache.get() == expected
        assert source.loads == 3

    asyncio.run(run())


def test_invalidate_during_a_load_loads_again() -> None:
    """A load that started before a change must not be kept after invalidate()."""

    async def run() -> None:
        source, clock = Source(), Clock()
        cache = RefreshAhead(source.load, 10.0, clock)
        await cache.get()
        clock.now += 10.0 * REFRESH_AT
        source.gate.clear()
        await cache.get()  # background reload starts, reads 0
        await _settle()
        source.value = 1
        cache.invalidate()  # the change this replica just made
        waiter = asyncio.create_task(cache.get())
        await _settle()
        source.gate.set()
        assert await waiter == 1
        assert await cache.get() == 1

    asyncio.run(run())


def test_failed_background_reload_lets_the_value_expire(
        caplog: pytest.LogCaptureFixture) -> None:
    async def run() -> None:
        source, clock = Source(), Clock()
        cache = RefreshAhead(source.load, 10.0, clock)
        await cache.get()
        source.fail = True
        clock.now += 10.0 * REFRESH_AT
        with caplog.at_level(logging.WARNING, "sceau_service.refreshing"):
            assert await cache.get() == 0
            await _settle()
        assert "database down" in caplog.text and source.loads == 2
        assert await cache.get() == 0 and source.loads == 2  # no retry per request
        clock.now += 10.0  # expired: the request reloads and sees the failure
        with pytest.raises(RuntimeError, match="database down"):
            await cache.get()
        source.fail = False
        source.value = 2
        assert await cache.get() == 2

    asyncio.run(run())


def test_key_ring_revocation_shows_within_the_ttl(service: Service) -> None:
    """The real ring over the real store: a revoked key shows once the ring is reloaded,
    in the background, without a request waiting for it."""
    clock = Clock()

    async def run() -> None:
        keyring = KeyRingCache(service.store, 5.0)
        keyring._cache = RefreshAhead(keyring._load, 5.0, clock)  # a clock of our own
        ring = await keyring.get()
        assert ring[service.keyid].status is KeyStatus.ACTIVE
        since = datetime.now(UTC) - timedelta(days=1)
        with service.store.engine.begin() as conn:
            conn.execute(update(signing_keys).where(signing_keys.c.keyid == service.keyid)
                         .values(status=KeyStatus.REVOKED.value, compromised_since=since))
        assert (await keyring.get()) is ring  # within the ttl: the cached view
        clock.now += 5.0 * REFRESH_AT
        assert (await keyring.get()) is ring  # served at once; the reload runs
        for _ in range(200):
            await asyncio.sleep(0.01)
            if (await keyring.get()) is not ring:
                break
        assert (await keyring.get())[service.keyid].status is KeyStatus.REVOKED

    asyncio.run(run())
