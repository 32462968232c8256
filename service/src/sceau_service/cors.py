"""Cross-origin reads for browsers and extensions, on the public read endpoints only.

Starlette's ``CORSMiddleware`` (Fetch standard, CORS protocol), configured from
``SCEAU_CORS_ORIGINS`` (exact origins, ``chrome-extension://<id>`` included) and
``SCEAU_CORS_ORIGIN_REGEX``; with neither set, no CORS header is ever sent.  Only the
public endpoints answer cross-origin: ``POST /v1/lookup`` and ``POST /v1/verify``, and
the GET/HEAD reads of seals, keys, the log and tenants' signed key histories.  Signing
endpoints never do: a page has no business calling them from a reader's browser, so their
preflights are refused.  No
credentials (cookies) are ever allowed; the public endpoints need none.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["PublicCORSMiddleware"]

#: Public endpoints that take a body.
POST_PATHS = frozenset({"/v1/lookup", "/v1/verify"})
#: Public reads (GET and HEAD only).
READ_PATHS = re.compile(r"/v1/seals(/[0-9a-f]{64})?|/v1/log/[a-z]+|/\.well-known/jwks\.json"
                        r"|/v1/keys(/.*)?|/v1/tenants/[a-z0-9][a-z0-9-]{0,62}/keys/history")
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class PublicCORSMiddleware:
    """CORS on the public endpoints; every other path passes through untouched."""

    def __init__(self, app: ASGIApp, *, origins: Sequence[str],
                 origin_regex: str | None = None, max_age: int = 7200) -> None:
        self.app = app
        common = {"allow_origins": list(origins), "allow_origin_regex": origin_regex,
                  "allow_credentials": False, "max_age": max_age,
                  "allow_headers": ["content-type", "accept-language", "if-none-match"],
                  "expose_headers": ["etag", "retry-after"]}
        self.with_body = CORSMiddleware(app, allow_methods=["GET", "HEAD", "POST"],
                                        **common)  # type: ignore[arg-type]
        self.read_only = CORSMiddleware(app, allow_methods=["GET", "HEAD"],
                                        **common)  # type: ignore[arg-type]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path in POST_PATHS:
                await self.with_body(scope, receive, send)
                return
            if scope["method"] in _READ_METHODS and READ_PATHS.fullmatch(path):
                await self.read_only(scope, receive, send)
                return
        await self.app(scope, receive, send)
