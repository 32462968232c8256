"""What the running app holds, and the ``Annotated`` dependencies routes use."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from sceau import KeyRing
from sceau_service.auth import Principal, TokenAuthority, hash_token
from sceau_service.sealing import SealingService
from sceau_service.settings import Settings
from sceau_service.store import Store
from sceau_service.tlog import LogKeyCache, TransparencyLog

__all__ = ["AppState", "Caller", "KeyRingCache", "SignCaller", "State", "get_state"]


class KeyRingCache:
    """The verifier's key ring built from the store, refreshed every ``ttl`` seconds."""

    def __init__(self, store: Store, ttl: float) -> None:
        self._store = store
        self._ttl = ttl
        self._ring: KeyRing | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        """Forget the cached ring (after a key changes on this replica)."""
        self._ring = None

    async def get(self) -> KeyRing:
        """The current ring (from cache when fresh)."""
        ring = self._ring
        if ring is not None and time.monotonic() < self._expires:
            return ring
        async with self._lock:
            if self._ring is None or time.monotonic() >= self._expires:
                rows = await run_in_threadpool(self._store.list_keys)
                self._ring = KeyRing(r.record() for r in rows)
                self._expires = time.monotonic() + self._ttl
            return self._ring


@dataclass
class AppState:
    """Everything built by :func:`sceau_service.app.create_app`'s lifespan."""

    settings: Settings
    store: Store
    tokens: TokenAuthority
    sealing: SealingService
    keyring: KeyRingCache
    #: The transparency log (SPEC.md §6.1) and its verifier keys for ``POST /v1/verify``.
    log: TransparencyLog
    log_keys: LogKeyCache


async def get_state(request: Request) -> AppState:
    """The app's state.  A coroutine so that FastAPI calls it on the event loop: a plain
    function dependency is sent to the thread pool on every request."""
    state: AppState = request.app.state.sceau
    return state


State = Annotated[AppState, Depends(get_state)]


async def get_principal(request: Request, state: State) -> Principal:
    """Authenticate the bearer token (cached lookups; the store is asked off-loop)."""
    token = TokenAuthority.parse_header(request.headers.get("authorization"))
    token_hash = hash_token(token)
    row = state.tokens.cached(token_hash)
    if row is not None:
        return Principal(row.tenant_id, row.tenant_slug, row.scopes)
    return await run_in_threadpool(state.tokens.lookup, token_hash)


Caller = Annotated[Principal, Depends(get_principal)]


async def get_signer(principal: Caller) -> Principal:
    """An authenticated caller whose token has the ``sign`` scope.

    As a dependency this runs before the body is validated, so a token without the
    scope learns nothing about what a valid body looks like.
    """
    principal.require("sign")
    return principal


SignCaller = Annotated[Principal, Depends(get_signer)]
