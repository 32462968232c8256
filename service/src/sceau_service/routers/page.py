"""The verify page: ``GET /`` and its static files, served with a strict CSP.

The page is plain HTML, one script and one stylesheet shipped inside the package (no build
step, nothing from a third-party origin).  Every answer carries a Content-Security-Policy
that allows scripts, styles and requests from this origin only and no inline code, so
nothing a verdict contains (titles, names) can ever run as script.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

from sceau.errors import NotFoundError

router = APIRouter(tags=["page"], include_in_schema=False)

#: CSP Level 3 (W3C).  blob: only for the local preview of the file being checked.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob:",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
))

_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cache-control": "no-cache",
}

#: Served name -> media type; nothing else in the package is reachable.
STATIC_FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}


@lru_cache(maxsize=len(STATIC_FILES))
def _read(name: str) -> bytes:
    return resources.files("sceau_service").joinpath("static", name).read_bytes()


def _file(name: str) -> Response:
    return Response(_read(name), media_type=STATIC_FILES[name], headers=_HEADERS)


@router.get("/")
async def page() -> Response:
    """The verify page (HTML)."""
    return _file("index.html")


@router.get("/static/{name}")
async def static(name: str) -> Response:
    """The page's script, stylesheet and icon; 404 ``not_found`` for any other name."""
    if name not in STATIC_FILES or name == "index.html":
        raise NotFoundError("no such file")
    return _file(name)


__all__ = ["CONTENT_SECURITY_POLICY", "STATIC_FILES", "router"]
