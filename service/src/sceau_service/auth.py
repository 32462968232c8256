"""Bearer tokens: generation, hashing at rest, lookup with a short cache, scopes."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass

from sceau.errors import AuthenticationError, PermissionDeniedError
from sceau_service.store import Store, TokenRow

__all__ = ["SCOPES", "Principal", "TokenAuthority", "hash_token", "new_token"]

SCOPES = frozenset({"sign", "read", "keys:admin"})
TOKEN_PREFIX = "sct_"  # noqa: S105 - a public prefix, not a secret
_TOKEN_BYTES = 32
#: ``sct_`` + 32 bytes in unpadded base64url; anything else is not a token (nor ASCII).
_TOKEN_RE = re.compile(r"sct_[A-Za-z0-9_-]{43}")


def new_token() -> str:
    """A fresh random token: ``sct_`` + 256 bits in base64url."""
    return TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)


def hash_token(token: str) -> bytes:
    """What is stored: SHA-256 of the token.  Tokens carry 256 random bits, so a fast
    hash is enough (no password stretching needed, unlike human passwords)."""
    return hashlib.sha256(token.encode("ascii")).digest()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a tenant and the scopes its token grants."""

    tenant_id: int
    tenant: str
    scopes: frozenset[str]

    def require(self, scope: str) -> None:
        """Raise :class:`PermissionDeniedError` unless the token has ``scope``."""
        if scope not in self.scopes:
            raise PermissionDeniedError(f"this token lacks the {scope!r} scope")


class TokenAuthority:
    """Resolves bearer tokens to principals, caching hits for ``ttl`` seconds.

    Lookups go by SHA-256 of the presented token, never by the token itself: timing of
    the index or dict lookup depends only on the hash of what the caller sent, which tells
    nothing about any stored token (no string comparison of secrets happens).  A revoked
    token stops working within ``ttl`` on every replica.
    """

    def __init__(self, store: Store, ttl: float) -> None:
        self._store = store
        self._ttl = ttl
        self._cache: dict[bytes, tuple[float, TokenRow]] = {}

    @staticmethod
    def parse_header(value: str | None) -> str:
        """The token from an ``Authorization: Bearer`` header value."""
        if not value:
            raise AuthenticationError("missing bearer token")
        scheme, _, token = value.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationError("authorization must be 'Bearer <token>'")
        if _TOKEN_RE.fullmatch(token) is None:
            raise AuthenticationError("invalid token")
        return token

    def cached(self, token_hash: bytes) -> TokenRow | None:
        """A cached, still fresh lookup, or None."""
        hit = self._cache.get(token_hash)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def lookup(self, token_hash: bytes) -> Principal:
        """Resolve a token hash against the store (blocking; call from a thread)."""
        row = self._store.token_by_hash(token_hash)
        if row is None:
            raise AuthenticationError("invalid token")
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[token_hash] = (time.monotonic() + self._ttl, row)
        return Principal(row.tenant_id, row.tenant_slug, row.scopes)
