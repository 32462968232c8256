"""Per-client rate limits: token buckets in bounded memory, as pure ASGI middleware.

Two budgets (settings ``rate_read_*`` and ``rate_sign_*``): signing requests
(``POST /v1/seals``, ``POST /v1/seals/batch``) are counted per API token when one is
given, else per client address; everything else that reaches the service (verify,
lookup, seal and key reads) per client address.  Health probes and CORS preflights are
not counted.  Over budget, the answer is 429 ``rate_limited`` with ``Retry-After``
(RFC 9110 §10.2.3) in whole seconds.

The client address is the TCP peer's; ``X-Forwarded-For`` is believed only when the
peer is one of ``trusted_proxies``, and then the rightmost address that is not itself a
trusted proxy is the client (the ones left of it are whatever the client claimed).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from sceau.errors import RateLimitedError, SceauError

__all__ = ["RateLimitMiddleware", "TokenBuckets", "client_address", "send_error"]

#: Paths never limited: load balancers probe them.
EXEMPT_PATHS = frozenset({"/healthz", "/readyz"})
SIGN_PATHS = frozenset({"/v1/seals", "/v1/seals/batch"})


class TokenBuckets:
    """One token bucket per key: ``burst`` tokens, refilled at ``rate`` per second.

    At most ``max_keys`` buckets are kept; the least recently used one is dropped first
    (a dropped client starts again with a full bucket, so memory stays bounded under a
    flood of distinct clients).  Time is passed in (monotonic seconds).
    """

    def __init__(self, rate: float, burst: int, max_keys: int) -> None:
        if rate <= 0 or burst < 1 or max_keys < 1:
            raise ValueError("rate > 0, burst >= 1 and max_keys >= 1 are required")
        self.rate = rate
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str, now: float) -> float:
        """Spend one token of ``key``'s bucket: 0.0 when allowed, else the seconds until
        a token will be there (nothing is spent then)."""
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + max(0.0, now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            wait = 0.0
        else:
            self._buckets[key] = (tokens, now)
            wait = (1.0 - tokens) / self.rate
        self._buckets.move_to_end(key)
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait


async def send_error(send: Send, err: SceauError,
                     headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    """Answer ``err`` as ``{"code", "detail"}`` at the ASGI level, with extra headers."""
    body = json.dumps(err.to_dict(), separators=(",", ":")).encode()
    await send({"type": "http.response.start", "status": err.http_status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> bytes | None:
    return next((value for key, value in scope["headers"] if key == name), None)


def client_address(scope: Scope, trusted_proxies: Collection[str]) -> str:
    """The client's address: the TCP peer, or from ``X-Forwarded-For`` when the peer is
    a trusted proxy (every ``X-Forwarded-For`` header, in order, as one list)."""
    client = scope.get("client")
    peer = str(client[0]) if client else "unknown"
    if peer not in trusted_proxies:
        return peer
    hops: list[str] = [h.strip() for key, value in scope["headers"]
                       if key == b"x-forwarded-for"
                       for h in bytes(value).decode("latin-1").split(",")]
    for hop in reversed(hops):
        if hop and hop not in trusted_proxies:
            return hop[:64]
    return peer


class RateLimitMiddleware:
    """Answer 429 ``rate_limited`` with ``Retry-After`` to clients over their budget."""

    def __init__(self, app: ASGIApp, *, read: TokenBuckets, sign: TokenBuckets,
                 trusted_proxies: Collection[str] = (),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.read = read
        self.sign = sign
        self.trusted_proxies = frozenset(trusted_proxies)
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] == "OPTIONS"
                or scope["path"] in EXEMPT_PATHS):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "POST" and scope["path"] in SIGN_PATHS:
            buckets = self.sign
            auth = _header(scope, b"authorization")
            # Keyed by a digest: raw tokens are not kept in memory longer than a request.
            key = ("t:" + hashlib.sha256(auth).hexdigest()[:32] if auth
                   else "a:" + client_address(scope, self.trusted_proxies))
        else:
            buckets = self.read
            key = client_address(scope, self.trusted_proxies)
        wait = buckets.take(key, self.clock())
        if wait > 0.0:
            seconds = max(1, math.ceil(wait))
            await send_error(send, RateLimitedError(
                f"too many requests from this client; retry in {seconds} s"),
                [(b"retry-after", str(seconds).encode())])
            return
        await self.app(scope, receive, send)
