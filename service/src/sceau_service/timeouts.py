"""Hostile uploads: deadlines for slow requests, and no compressed bodies.

A slowloris client opens connections and sends its request a byte at a time, holding a
connection and, once the app reads the body, a task.  Two bounds:

* headers: :class:`HeaderTimeoutH11Protocol` / :class:`HeaderTimeoutHttpToolsProtocol`
  close a connection whose request line and headers are not complete ``header_timeout``
  seconds after it opened (or after the first byte of its next request; idle kept-alive
  connections are uvicorn's ``timeout_keep_alive``), with a bare 408;
* bodies: :class:`BodyTimeoutMiddleware` gives a body ``body_timeout`` seconds, plus one
  second per ``body_min_rate`` bytes received, capped at ``body_max_timeout`` (the rule of
  Apache's mod_reqtimeout); past it the request is answered 408 ``request_timeout`` and
  the connection closed.  A fast upload of any allowed size fits; a trickle does not.

And :class:`NoContentEncodingMiddleware` answers 415 to any request body with a
``Content-Encoding`` other than ``identity`` (RFC 9110 §15.5.16), before reading it: the
service never inflates what a client sends, so a "zip bomb" body is only its own size.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn._types import ASGISendEvent
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from sceau.errors import RequestTimeoutError, UnsupportedMediaTypeError
from sceau_service.ratelimit import send_error
from sceau_service.settings import Settings

__all__ = [
    "BodyTimeoutMiddleware",
    "HeaderTimeoutH11Protocol",
    "HeaderTimeoutHttpToolsProtocol",
    "NoContentEncodingMiddleware",
    "OneWriteCycle",
]

_BODY_408 = b'{"code":"request_timeout","detail":"request headers took too long"}'
_TIMEOUT_408 = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_BODY_408), _BODY_408))


class _BodyDeadlineError(Exception):
    """Raised into the app when its body read passes the deadline."""


class BodyTimeoutMiddleware:
    """Answer 408 ``request_timeout`` when a request body arrives too slowly."""

    def __init__(self, app: ASGIApp, *, timeout: float, min_rate: int, max_timeout: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.timeout = timeout
        self.min_rate = min_rate
        self.max_timeout = max_timeout
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        start = self.clock()
        received = 0
        done = False
        started = False

        async def timed_receive() -> Message:
            nonlocal received, done
            if done:  # the body is in: later reads wait for a disconnect, unbounded
                return await receive()
            allowed = min(self.max_timeout, self.timeout + received / self.min_rate)
            remaining = start + allowed - self.clock()
            if remaining <= 0:
                raise _BodyDeadlineError
            try:
                async with asyncio.timeout(remaining):  # no extra task, unlike wait_for
                    message = await receive()
            except TimeoutError:
                raise _BodyDeadlineError from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                done = not message.get("more_body", False)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, tracked_send)
        except _BodyDeadlineError:
            if started:
                raise
            await send_error(send, RequestTimeoutError(
                f"request body too slow: {received} bytes in {self.clock() - start:.0f} s"),
                [(b"connection", b"close")])


@functools.cache
def _settings_header_timeout() -> float:
    # Worker processes (``serve --workers N``) import this module afresh: the setting
    # comes from their environment, as the rest of their configuration does.
    return Settings().header_timeout


class NoContentEncodingMiddleware:
    """Answer 415 ``unsupported_media_type`` to bodies sent with a content coding."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            codings = [c.strip().lower() for key, value in scope["headers"]
                       if key == b"content-encoding" for c in bytes(value).split(b",")]
            refused = [c for c in codings if c not in (b"identity", b"")]
            if refused:
                name = refused[0].decode("latin-1")[:32]
                await send_error(send, UnsupportedMediaTypeError(
                    f"Content-Encoding {name} is not accepted: send the body uncompressed"),
                    [(b"connection", b"close")])
                return
        await self.app(scope, receive, send)


class _HeaderTimeout:
    """Mixin for uvicorn's HTTP protocols: close connections whose headers are late.

    ``header_timeout`` (seconds) is set on the class by ``sceau-service serve``; unset,
    the ``SCEAU_HEADER_TIMEOUT`` setting applies.
    """

    header_timeout: float | None = None
    _header_timer: asyncio.TimerHandle | None = None
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        seconds = self.header_timeout
        if seconds is None:
            seconds = _settings_header_timeout()
        self._header_timer = self.loop.call_later(seconds, self._headers_late)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.write(_TIMEOUT_408)
            self.transport.close()


class HeaderTimeoutH11Protocol(_HeaderTimeout, H11Protocol):
    """uvicorn's h11 protocol with a header deadline."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        idle = self.cycle is None or self.cycle.response_complete
        if idle and self._header_timer is None:
            self._arm_header_timer()  # the first bytes of the next request on this connection
        super().data_received(data)
        if self.cycle is not None and not self.cycle.response_complete:
            self._cancel_header_timer()  # a request's head is in: the app has it

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)


class _HeldWrites:
    """A transport that keeps what is written until :meth:`flush` (or close)."""

    def __init__(self, transport: asyncio.Transport, first: bytes = b"") -> None:
        self._transport = transport
        self._parts = [first] if first else []

    def write(self, data: bytes) -> None:
        self._parts.append(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts = []
        return data

    def flush(self) -> None:
        data = self.take()
        if data and not self._transport.is_closing():  # a client gone: nothing to send
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> object:
        return getattr(self._transport, name)


class OneWriteCycle(RequestResponseCycle):
    """uvicorn's request/response cycle, writing a response's head together with its
    first body message: one ``send(2)`` for a whole small answer instead of two.

    On loopback and on busy servers each write is a trip through the network stack with
    the GIL held; under the signing load the head's own write was ~14 % of the server's
    Python time (docs/benchmarks.md).  Bytes and their order are unchanged; a response
    that never gets a body message (the app failed after starting it) loses its held
    head, and the connection is closed as before.
    """

    _held: bytes | None = None

    async def send(self, message: ASGISendEvent) -> None:
        """Hold the head's bytes; write them with the next body message's."""
        transport = self.transport
        if message["type"] == "http.response.start" and not self.response_started:
            held = _HeldWrites(transport)
            self.transport = held  # type: ignore[assignment]
            try:
                await super().send(message)
            finally:
                self.transport = transport
            self._held = held.take()
            return
        if self._held is None:
            await super().send(message)
            return
        held = _HeldWrites(transport, self._held)
        self._held = None
        self.transport = held  # type: ignore[assignment]
        try:
            await super().send(message)
        finally:
            self.transport = transport
            held.flush()


class HeaderTimeoutHttpToolsProtocol(_HeaderTimeout, HttpToolsProtocol):
    """uvicorn's httptools protocol (its default) with a header deadline."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:  # the next request on a kept-alive connection
            self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        super().on_headers_complete()
        if type(self.cycle) is RequestResponseCycle:
            # Its task has not run yet: the response goes out through OneWriteCycle.send.
            self.cycle.__class__ = OneWriteCycle

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)
