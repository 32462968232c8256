"""``OneWriteCycle``: uvicorn's httptools protocol writing a response's head with its body.

The protocol is uvicorn's own (``HeaderTimeoutHttpToolsProtocol``), fed real request bytes;
only the transport is a recorder, so each ``write`` the server would make is visible.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from sceau_service.timeouts import HeaderTimeoutHttpToolsProtocol, OneWriteCycle


class RecordingTransport(asyncio.Transport):
    """Records writes; never blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 40000)}.get(
            name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def _connect(app: Any) -> tuple[HeaderTimeoutHttpToolsProtocol, RecordingTransport]:
    """uvicorn's protocol for ``app`` on a new recording transport (in a running loop)."""
    config = uvicorn.Config(app, log_level="error", lifespan="off")
    protocol = HeaderTimeoutHttpToolsProtocol(config, ServerState(), {},
                                              asyncio.get_running_loop())
    transport = RecordingTransport()
    protocol.connection_made(transport)
    return protocol, transport


async def _serve(app: Any, *requests: bytes) -> RecordingTransport:
    protocol, transport = _connect(app)
    for data in requests:
        protocol.data_received(data)
    for _ in range(50):  # let the app tasks run to completion
        await asyncio.sleep(0)
    protocol.connection_lost(None)
    return transport


async def _small(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    body = scope["path"].encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


GET = b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"


def test_a_small_answer_is_one_write() -> None:
    transport = asyncio.run(_serve(_small, GET))
    assert len(transport.writes) == 1
    head, _, body = transport.writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"content-length: 6" in head
    assert body == b"/hello"


def test_pipelined_answers_keep_their_order() -> None:
    requests = GET.replace(b"/hello", b"/one") + GET.replace(b"/hello", b"/two")
    transport = asyncio.run(_serve(_small, requests))
    data = b"".join(transport.writes)
    assert data.count(b"HTTP/1.1 200 OK") == 2
    assert data.index(b"\r\n\r\n/one") < data.index(b"\r\n\r\n/two")
    assert len(transport.writes) == 2


def test_head_answers_are_written() -> None:
    transport = asyncio.run(_serve(_small, b"HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n"))
    assert len(transport.writes) == 1
    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert transport.writes[0].endswith(b"\r\n\r\n")  # the head alone


def test_streamed_bodies_write_the_head_with_the_first_part() -> None:
    async def streamed(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await send({"type": "http.response.body", "body": b"second"})

    transport = asyncio.run(_serve(streamed, GET))
    assert len(transport.writes) == 2
    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"transfer-encoding: chunked" in transport.writes[0]
    assert transport.writes[0].endswith(b"\r\n\r\n5\r\nfirst\r\n")
    assert transport.writes[1] == b"6\r\nsecond\r\n0\r\n\r\n"


def test_100_continue_is_not_held() -> None:
    seen: list[bytes] = []

    async def echo(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        seen.append(message["body"])
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    head = (b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
            b"Expect: 100-continue\r\n\r\n")

    async def main() -> RecordingTransport:
        protocol, transport = _connect(echo)
        protocol.data_received(head)
        for _ in range(10):
            await asyncio.sleep(0)
        # The client waits for the interim answer before it sends the body.
        assert transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
        protocol.data_received(b"abc")
        for _ in range(20):
            await asyncio.sleep(0)
        protocol.connection_lost(None)
        return transport

    transport = asyncio.run(main())
    assert seen == [b"abc"]
    assert len(transport.writes) == 2 and transport.writes[1].endswith(b"\r\n\r\nok")


def test_the_cycle_is_the_one_write_one() -> None:
    cycles: list[type] = []

    async def spy(scope: Any, receive: Any, send: Any) -> None:
        cycles.append(type(send.__self__))
        await _small(scope, receive, send)

    asyncio.run(_serve(spy, GET))
    assert cycles == [OneWriteCycle]


@pytest.mark.parametrize("close", [True, False])
def test_a_failing_app_writes_a_whole_answer_or_nothing(close: bool) -> None:
    async def failing(scope: Any, receive: Any, send: Any) -> None:
        if close:  # failing before starting: uvicorn's own 500
            raise RuntimeError("boom")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("boom after the start")

    transport = asyncio.run(_serve(failing, GET))
    data = b"".join(transport.writes)
    if close:
        assert data.startswith(b"HTTP/1.1 500 ")
    else:
        assert data == b""  # the held head is dropped, no half answer
    assert transport.closed


def test_nothing_is_written_after_the_client_left() -> None:
    async def slow(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"2")]})
        await asyncio.sleep(0.01)  # the client disconnects meanwhile
        await send({"type": "http.response.body", "body": b"ok"})

    async def main() -> RecordingTransport:
        protocol, transport = _connect(slow)
        protocol.data_received(GET)
        for _ in range(5):
            await asyncio.sleep(0)
        transport.close()
        protocol.connection_lost(None)
        await asyncio.sleep(0.05)
        return transport

    assert asyncio.run(main()).writes == []
