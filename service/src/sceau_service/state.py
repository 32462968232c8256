"""What the running app holds, and the ``Annotated`` dependencies routes use."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Path, Request
from starlette.concurrency import run_in_threadpool

from sceau import KeyRing
from sceau.errors import KeyCustodyError, NotFoundError
from sceau.keyhistory import build_history_document, read_statement, sign_history_head
from sceau_keys import Custody
from sceau_service.auth import Principal, TokenAuthority, hash_token
from sceau_service.refreshing import RefreshAhead
from sceau_service.registry import Registry
from sceau_service.sealing import SealingService
from sceau_service.settings import Settings
from sceau_service.store import Store
from sceau_service.tlog import LogKeyCache, TransparencyLog

__all__ = ["AppState", "Caller", "HistoryCache", "KeyRingCache", "SignCaller", "State",
           "TenantCaller", "get_state"]


class KeyRingCache:
    """The verifier's key ring built from the store, at most ``ttl`` seconds old; reloaded
    in the background before it expires (:class:`RefreshAhead`), so that requests do not
    wait for it."""

    def __init__(self, store: Store, ttl: float) -> None:
        self._store = store
        self._cache: RefreshAhead[KeyRing] = RefreshAhead(self._load, ttl)

    def invalidate(self) -> None:
        """Forget the cached ring (after a key changes on this replica)."""
        self._cache.invalidate()

    async def get(self) -> KeyRing:
        """The current ring (from cache when fresh)."""
        return await self._cache.get()

    async def _load(self) -> KeyRing:
        rows = await run_in_threadpool(self._store.list_keys)
        return KeyRing(r.record() for r in rows)


@dataclass(frozen=True, slots=True)
class HistoryDocument:
    """A tenant's served key history: the bytes, their ETag, and until when it is fresh."""

    body: bytes
    etag: str
    version: int
    expires: datetime


class HistoryCache:
    """Each tenant's key history document (``sceau.keyhistory``), built from the stored
    statements with a head signed by the active key.

    The head expires ``head_seconds`` after it is signed and is re-signed when a quarter of
    that is left; a new statement (checked every ``ttl`` seconds, one indexed lookup, and
    at once after a change on this replica) rebuilds the document.
    """

    def __init__(self, store: Store, custody: Custody | None, clock: Callable[[], datetime],
                 head_seconds: int, ttl: float) -> None:
        self._store = store
        self._custody = custody
        self._clock = clock
        self._head = timedelta(seconds=head_seconds)
        self._ttl = ttl
        self._docs: dict[int, tuple[float, HistoryDocument]] = {}
        self._lock = asyncio.Lock()

    def invalidate(self, tenant_id: int) -> None:
        """Forget a tenant's document (after a key change on this replica)."""
        self._docs.pop(tenant_id, None)

    async def get(self, tenant_id: int) -> HistoryDocument:
        """The tenant's current document; :class:`NotFoundError` if it has no history."""
        hit = self._docs.get(tenant_id)
        now = self._clock()
        if hit is not None and time.monotonic() < hit[0] and now < self._renew_at(hit[1]):
            return hit[1]
        async with self._lock:
            doc = await run_in_threadpool(self._build, tenant_id, hit)
            self._docs[tenant_id] = (time.monotonic() + self._ttl, doc)
            return doc

    def _renew_at(self, doc: HistoryDocument) -> datetime:
        return doc.expires - self._head / 4

    def _build(self, tenant_id: int, hit: tuple[float, HistoryDocument] | None
               ) -> HistoryDocument:
        latest = self._store.latest_statement_version(tenant_id)
        if latest is None:
            raise NotFoundError("this tenant has no key history yet")
        now = self._clock().replace(microsecond=0)
        if hit is not None and hit[1].version == latest and now < self._renew_at(hit[1]):
            return hit[1]
        statements = [env for _, env in self._store.statements(tenant_id)]
        last = read_statement(statements[-1])
        if self._custody is None:
            raise KeyCustodyError("no key custody is configured to sign the history head")
        expires = now + self._head
        head = sign_history_head(tenant=last.tenant, statement=statements[-1], issued=now,
                                 expires=expires,
                                 signer=self._custody.signer(last.active.keyid))
        body = build_history_document(statements, head)
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        return HistoryDocument(body, etag, last.version, expires)


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
    #: The key registry (rotation, revocation; routers/tenants.py) and key histories.
    registry: Registry
    history: HistoryCache


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


async def get_tenant_caller(principal: Caller,
                            tenant: Annotated[str, Path(max_length=63)]) -> Principal:
    """An authenticated caller acting on its own tenant, ``{tenant}`` in the path.

    Another tenant's path answers exactly as a tenant that does not exist (404
    ``not_found``), so a token learns nothing about other tenants; scopes are checked after
    this, by each route.
    """
    if tenant != principal.tenant:
        raise NotFoundError("no such tenant")
    return principal


TenantCaller = Annotated[Principal, Depends(get_tenant_caller)]
