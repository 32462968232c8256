"""A value loaded from the store and kept for ``ttl`` seconds, refreshed ahead of expiry.

The key caches (``KeyRingCache``, ``LogKeyCache``) used to reload when a request found
their value expired: that request paid a thread hop and a few queries (several
milliseconds on PostgreSQL), once per ``ttl`` per cache, in the tail of the lookup's
latency.  :class:`RefreshAhead` starts the reload in a background task once
:data:`REFRESH_AT` of the ttl has passed and keeps serving the current value meanwhile;
only a value that is really expired (no request came in that last quarter, or the reload
failed) is reloaded while the request waits.  So no value is ever served more than ``ttl``
seconds after it was read, as before: a revoked key still shows within the refresh
period.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["REFRESH_AT", "RefreshAhead"]

T = TypeVar("T")

#: The fraction of the ttl after which a request starts a background reload.
REFRESH_AT = 0.75

_log = logging.getLogger(__name__)


class RefreshAhead(Generic[T]):
    """``await get()``: the value ``load`` gave at most ``ttl`` seconds ago.

    ``ttl=0`` loads on every call.  :meth:`invalidate` makes the next call load (a load
    that was running when it was called does not count).  ``clock`` (seconds) is
    injectable for tests.  Used from one event loop.
    """

    def __init__(self, load: Callable[[], Awaitable[T]], ttl: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._load_value = load
        self._ttl = ttl
        self._clock = clock
        self._value: T | None = None
        self._expires = 0.0
        self._refresh_at = 0.0
        self._generation = 0
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def invalidate(self) -> None:
        """Forget the value (after a change on this replica)."""
        self._value = None
        self._generation += 1

    async def get(self) -> T:
        """The current value: from memory when fresh (starting a background reload when
        it is getting old), else loaded now."""
        value = self._value
        now = self._clock()
        if value is not None and now < self._expires:
            if now >= self._refresh_at and self._task is None:
                self._task = asyncio.get_running_loop().create_task(self._refresh())
            return value
        async with self._lock:
            value = self._value
            if value is None or self._clock() >= self._expires:
                value = await self._load()
            return value

    async def _load(self) -> T:
        """Load (under the lock) and keep the value, unless invalidated meanwhile: then
        load again, so that a change made during a load is never hidden."""
        while True:
            generation = self._generation
            value = await self._load_value()
            if generation == self._generation:
                now = self._clock()
                self._value = value
                self._expires = now + self._ttl
                self._refresh_at = now + self._ttl * REFRESH_AT
                return value

    async def _refresh(self) -> None:
        try:
            async with self._lock:
                if self._clock() >= self._refresh_at:  # not reloaded meanwhile
                    await self._load()
        except Exception as exc:  # the value expires as before; a request then reloads
            self._refresh_at = self._expires
            _log.warning("background refresh failed: %s: %s", type(exc).__name__, exc)
        finally:
            self._task = None
