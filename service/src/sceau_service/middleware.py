"""ASGI middleware run before any route: body size limits and strict JSON.

Every JSON request body is read (up to its limit, whatever ``Content-Length`` says),
parsed under the Sceau profile (SPEC.md §2) and then replayed to the application, so no
handler ever sees a duplicate key, a float, a huge integer, deep nesting or an oversized
body.  Rejections are ``{"code", "detail"}`` answers with a 4xx status.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sceau.errors import PayloadTooLargeError, SceauError, UnsupportedMediaTypeError
from sceau.strictjson import loads

__all__ = ["StrictBodyMiddleware", "error_body"]


def error_body(err: SceauError) -> bytes:
    """The JSON bytes of an error answer."""
    return json.dumps(err.to_dict(), separators=(",", ":")).encode()


async def send_error(send: Send, err: SceauError, headers: list[tuple[bytes, bytes]] = ()) -> None:  # type: ignore[assignment]
    """Answer ``err`` directly at the ASGI level."""
    body = error_body(err)
    await send({"type": "http.response.start", "status": err.http_status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


class StrictBodyMiddleware:
    """Enforce body limits per request and strict JSON for ``application/json`` bodies.

    A body must be ``application/json``, or ``multipart/form-data`` on the paths in
    ``multipart_paths``; anything else (including ``+json`` types, which FastAPI would parse
    with the lenient stdlib parser) is answered 415 before it is read.
    """

    def __init__(self, app: ASGIApp, *, limit_for: Callable[[str, str], int],
                 multipart_paths: Collection[str] = (), max_json_depth: int = 32) -> None:
        self.app = app
        self.limit_for = limit_for
        self.multipart_paths = frozenset(multipart_paths)
        self.max_json_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        # The first value of a repeated header, as the application (Starlette) reads it:
        # checking another copy than the one the handler uses would let a body through.
        ctype = (_header(scope, b"content-type") or b"").split(b";", 1)[0].strip().lower()
        multipart = ctype == b"multipart/form-data" and scope["path"] in self.multipart_paths
        if ctype not in (b"application/json", b"") and not multipart:
            takes = ("application/json or multipart/form-data"
                     if scope["path"] in self.multipart_paths else "application/json")
            await send_error(send, UnsupportedMediaTypeError(
                f"{ctype.decode('latin-1')[:64] or 'this body'} is not accepted: send {takes}"))
            return
        limit = self.limit_for(scope["path"], ctype.decode("latin-1"))
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                if int(declared) > limit:
                    await send_error(send, PayloadTooLargeError(
                        f"body of {int(declared)} bytes exceeds the {limit}-byte limit"))
                    return
            except ValueError:
                await send_error(send, UnsupportedMediaTypeError("bad Content-Length"))
                return
        if multipart:
            await self.app(scope, _limited(receive, limit), send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await send_error(send, PayloadTooLargeError(
                    f"body exceeds the {limit}-byte limit"))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if ctype == b"application/json":
            try:  # an empty body is not a JSON text either
                loads(body, max_bytes=limit, max_depth=self.max_json_depth)
            except SceauError as err:
                await send_error(send, err)
                return
        elif body:
            await send_error(send, UnsupportedMediaTypeError(
                "send the body as application/json"))
            return
        await self.app(scope, _replay(body, receive), send)


def _header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of header ``name`` (lowercase), or None."""
    return next((value for key, value in scope["headers"] if key == name), None)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _limited(receive: Receive, limit: int) -> Receive:
    """Pass a streamed body through, failing once it exceeds ``limit`` bytes."""
    seen = 0

    async def limited() -> Message:
        nonlocal seen
        message: dict[str, Any] = dict(await receive())
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise PayloadTooLargeError(f"upload exceeds the {limit}-byte limit")
        return message

    return limited
