"""Hostile uploads against a real server process, over raw sockets.

Oversized, truncated, wrongly typed, compressed, bomb-like and slow (slowloris) requests
each get a clear 4xx (or a closed connection) in bounded time, the server's memory stays
bounded, and many slow connections do not keep a normal request from being answered.
The server runs with small limits so that each case is quick: 2 MiB uploads, 2 s for
headers, 2 s (+1 s per 64 KiB) for bodies.
"""

from __future__ import annotations

import functools
import hashlib
import json
import socket
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..conftest import ServerProcess, start_server, stop_server
from ..rawhttp import RawAnswer
from ..rawhttp import address as _address
from ..rawhttp import exchange as raw_exchange

pytestmark = pytest.mark.timeout(180)

MIB = 1 << 20
UPLOAD_LIMIT = 2 * MIB
HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
#: Generous: the machine running the tests may be busy.
SLACK = 6.0
VERIFY, LOOKUP = "/v1/verify", "/v1/lookup"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"SCEAU_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT),
           "SCEAU_HEADER_TIMEOUT": str(HEADER_TIMEOUT), "SCEAU_BODY_TIMEOUT": str(BODY_TIMEOUT),
           "SCEAU_BODY_MIN_RATE": str(64 << 10)}
    mp = pytest.MonkeyPatch()
    for name, value in env.items():
        mp.setenv(name, value)
    try:
        srv = start_server(tmp_path_factory.mktemp("hostile-uploads"))
    finally:
        mp.undo()
    try:
        yield srv
    finally:
        stop_server(srv)


def rss_bytes(srv: ServerProcess) -> int:
    """The server process's resident memory (Linux /proc)."""
    for line in Path(f"/proc/{srv.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def head(method: str, path: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: test", "Connection: close",
             *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


Answer = RawAnswer
#: Slow-client tests wait longer than the default.
exchange = functools.partial(raw_exchange, timeout=20.0)


def multipart(parts: list[tuple[str, str, bytes]], boundary: str = "b0undary") -> bytes:
    """A multipart/form-data body of (name, content type, bytes) file parts."""
    out = b""
    for name, ctype, data in parts:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; "
                f"filename=\"{name}.bin\"\r\nContent-Type: {ctype}\r\n\r\n").encode()
        out += data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


MP = "multipart/form-data; boundary=b0undary"


def post(srv: ServerProcess, path: str, body: bytes, ctype: str,
         extra: list[tuple[str, str]] = ()) -> Answer:  # type: ignore[assignment]
    return exchange(srv, head("POST", path, [("Content-Type", ctype),
                                             ("Content-Length", str(len(body))), *extra])
                    + body)


def assert_error(answer: Answer, status: int, code: str) -> None:
    assert not answer.timed_out, answer
    assert answer.status == status, answer.data[:400]
    assert answer.json()["code"] == code


def png_bomb() -> bytes:
    """A valid, tiny PNG whose header declares 100000 x 100000 RGBA pixels (40 GB)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 6, 0, 0, 0)
    # The first rows of zeros, compressed ~1000:1; a decoder would go on for 40 GB.
    idat = zlib.compress(b"\x00" * (4 * MIB), 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


def jpeg_bomb() -> bytes:
    """A tiny JPEG whose frame header declares 65535 x 65535 pixels."""
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 65535, 65535, 1) + b"\x01\x11\x00"
    sos = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00\x00\x3f\x00"
    return (b"\xff\xd8" + b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
            + sof + sos + b"\x00" * 1024 + b"\xff\xd9")


# -- size ------------------------------------------------------------------------------


def test_declared_oversized_upload_is_413_before_it_is_sent(server: ServerProcess) -> None:
    before = rss_bytes(server)
    answer = exchange(server, head("POST", VERIFY, [("Content-Type", MP),
                                                    ("Content-Length", str(10 * UPLOAD_LIMIT))]))
    assert_error(answer, 413, "payload_too_large")
    assert answer.seconds < SLACK
    assert rss_bytes(server) - before < 16 * MIB


def test_streamed_oversized_upload_is_cut_off_memory_bounded(server: ServerProcess) -> None:
    """64 MiB of chunked multipart, never announced: refused once past the limit, and the
    server's resident memory does not grow with what was sent."""
    before = rss_bytes(server)
    sent = 0

    def stream(s: socket.socket) -> None:
        nonlocal sent
        part = (b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; "
                b"filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n")
        s.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
        block = b"\xab" * (256 << 10)
        for _ in range(256):
            s.sendall(b"%x\r\n" % len(block) + block + b"\r\n")
            sent += len(block)

    answer = exchange(server, head("POST", VERIFY, [("Content-Type", MP),
                                                    ("Transfer-Encoding", "chunked")]),
                      then=stream)
    assert_error(answer, 413, "payload_too_large")
    assert sent < 64 * MIB or answer.seconds < 60
    growth = rss_bytes(server) - before
    assert growth < 32 * MIB, f"server grew by {growth / MIB:.1f} MiB"


# -- shape -----------------------------------------------------------------------------


def test_truncated_multipart_is_a_4xx(server: ServerProcess) -> None:
    body = multipart([("file", "image/jpeg", b"\xff\xd8" + b"x" * 5000)])
    cut = body[: len(body) // 2]  # the closing boundary never comes
    answer = post(server, VERIFY, cut, MP)
    assert_error(answer, 422, "validation_error")
    # Announced longer than sent, then the client gives up: no answer needed, no hang.
    answer = exchange(server, head("POST", VERIFY, [("Content-Type", MP),
                                                    ("Content-Length", str(len(body)))])
                      + cut, half_close=True)
    assert not answer.timed_out and answer.seconds < SLACK
    assert answer.status is None or 400 <= answer.status < 500, answer.data[:300]


@pytest.mark.parametrize(("path", "ctype"), [
    (VERIFY, "text/plain"),
    (VERIFY, "application/xml"),
    (VERIFY, "image/jpeg"),
    (VERIFY, "application/x-www-form-urlencoded"),
    (LOOKUP, "multipart/form-data; boundary=b0undary"),
    (LOOKUP, "application/json-seq"),
])
def test_wrong_content_type_is_415(server: ServerProcess, path: str, ctype: str) -> None:
    assert_error(post(server, path, b"\xff\xd8\xff\xe0 not what it says", ctype), 415,
                 "unsupported_media_type")


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "gzip, gzip", "identity, gzip"])
def test_compressed_bodies_are_refused_unread(server: ServerProcess, encoding: str) -> None:
    """A few KiB that would inflate to 64 MiB: never inflated (415 before reading)."""
    bomb = zlib.compress(b"{" * (64 * MIB), 9)
    for path, ctype in ((LOOKUP, "application/json"), (VERIFY, MP)):
        answer = post(server, path, bomb, ctype, [("Content-Encoding", encoding)])
        assert_error(answer, 415, "unsupported_media_type")


@pytest.mark.parametrize("bomb", [png_bomb, jpeg_bomb], ids=["png-100000x100000",
                                                            "jpeg-65535x65535"])
def test_images_declaring_huge_dimensions_are_only_hashed(
        server: ServerProcess, bomb: Callable[[], bytes]) -> None:
    data = bomb()
    assert len(data) < 64 << 10
    before = rss_bytes(server)
    answer = post(server, VERIFY, multipart([("file", "application/octet-stream", data)]), MP)
    assert not answer.timed_out and answer.seconds < SLACK
    assert answer.status == 404, answer.data[:300]  # nothing sealed it; nothing decoded
    assert answer.json()["code"] == "no_seal_found"
    assert rss_bytes(server) - before < 32 * MIB


def test_nested_multipart_is_a_file_like_any_other(server: ServerProcess) -> None:
    inner = multipart([("file", "image/jpeg", b"\xff\xd8inner")], boundary="inner")
    nested = multipart([("file", "multipart/mixed; boundary=inner", inner)] * 1)
    answer = post(server, VERIFY, nested, MP)
    assert answer.status == 404 and answer.json()["code"] == "no_seal_found"
    # A part that is itself deeply nested multipart text is still just bytes to hash.
    deep = b"".join(f"--b{i}\r\nContent-Type: multipart/mixed; boundary=b{i + 1}\r\n\r\n"
                    .encode() for i in range(2000))
    answer = post(server, VERIFY, multipart([("file", "multipart/mixed; boundary=b0", deep)]),
                  MP)
    assert answer.status == 404 and answer.json()["code"] == "no_seal_found"
    # Too many parts: Starlette's parser limit (max_files=2), a 4xx.
    many = multipart([("file", "image/jpeg", b"x")] * 50)
    answer = post(server, VERIFY, many, MP)
    assert answer.status is not None and 400 <= answer.status < 500, answer.data[:300]


# -- time ------------------------------------------------------------------------------


def test_slowloris_headers_are_cut_off(server: ServerProcess) -> None:
    request = head("POST", LOOKUP, [("Content-Type", "application/json"),
                                    ("Content-Length", "10")])

    def dribble(s: socket.socket) -> None:
        for byte in request[10:60]:
            s.sendall(bytes([byte]))
            time.sleep(0.25)  # 50 bytes over 12.5 s, far past the header deadline

    answer = exchange(server, request[:10], then=dribble)
    assert answer.status == 408, answer.data[:300]
    assert answer.json()["code"] == "request_timeout"
    # The dribble itself takes 12.5 s unless the server hangs up on it first.
    assert answer.seconds < HEADER_TIMEOUT + SLACK + 12.5


def test_silent_connection_is_closed(server: ServerProcess) -> None:
    answer = exchange(server, b"")
    assert not answer.timed_out
    assert answer.seconds < HEADER_TIMEOUT + SLACK
    assert answer.status == 408


@pytest.mark.parametrize("path", [LOOKUP, VERIFY])
def test_slow_body_gets_408_in_bounded_time(server: ServerProcess, path: str) -> None:
    body = (json.dumps({"hashes": ["a" * 64]}).encode() if path == LOOKUP
            else multipart([("file", "image/jpeg", b"x" * 4096)]))
    ctype = "application/json" if path == LOOKUP else MP

    def trickle(s: socket.socket) -> None:
        for i in range(len(body) - 1):
            s.sendall(body[i:i + 1])
            time.sleep(0.2)  # 5 bytes/s: the body would take minutes

    answer = exchange(server, head("POST", path, [("Content-Type", ctype),
                                                  ("Content-Length", str(len(body)))]),
                      then=trickle, timeout=BODY_TIMEOUT + SLACK + 30)
    assert answer.status == 408, answer.data[:300]
    assert answer.json()["code"] == "request_timeout"
    assert b"connection: close" in answer.data.lower()


def test_stalled_body_gets_408(server: ServerProcess) -> None:
    start = time.monotonic()
    answer = exchange(server, head("POST", LOOKUP, [("Content-Type", "application/json"),
                                                    ("Content-Length", "500")]) + b'{"h')
    assert answer.status == 408 and answer.json()["code"] == "request_timeout"
    assert time.monotonic() - start < BODY_TIMEOUT + SLACK


def test_a_fast_large_upload_is_not_cut_by_the_body_deadline(server: ServerProcess) -> None:
    data = bytes(range(256)) * (UPLOAD_LIMIT // 512)  # 1 MiB
    r = httpx.post(server.url + VERIFY, files={"file": ("a.bin", data)}, timeout=30)
    assert r.status_code == 404 and r.json()["code"] == "no_seal_found"


def test_many_slow_connections_do_not_block_a_normal_request(server: ServerProcess) -> None:
    slow: list[socket.socket] = []
    try:
        for i in range(100):
            s = socket.create_connection(_address(server), timeout=10)
            # Half the connections stall in their headers, half in their bodies.
            s.sendall(b"POST /v1/lookup HTTP/1.1\r\nHost: t\r\n" if i % 2 else
                      head("POST", LOOKUP, [("Content-Type", "application/json"),
                                            ("Content-Length", "1000")]) + b"{")
            slow.append(s)
        start = time.monotonic()
        digest = hashlib.sha256(b"normal").hexdigest()
        r = httpx.post(server.url + LOOKUP, json={"hashes": [digest]}, timeout=10)
        assert r.status_code == 200
        assert r.json() == {"results": [{"sha256": digest, "found": False}]}
        assert httpx.get(server.url + "/readyz", timeout=10).status_code == 200
        assert time.monotonic() - start < SLACK
        # And the slow ones are all let go of, in bounded time.
        deadline = time.monotonic() + max(HEADER_TIMEOUT, BODY_TIMEOUT) + SLACK
        for s in slow:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            data = b""
            try:
                while chunk := s.recv(4096):
                    data += chunk
            except ConnectionResetError:
                pass
            assert data.startswith(b"HTTP/1.1 408"), data[:200]
    finally:
        for s in slow:
            s.close()


# -- the header deadline in each of uvicorn's HTTP protocols ---------------------------


@pytest.fixture(params=["httptools", "h11"])
def tiny_server(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    """uvicorn in a thread, with one of the header-deadline protocols (0.5 s) and an app
    that answers 200 at once."""
    import threading

    import uvicorn

    from sceau_service.timeouts import HeaderTimeoutH11Protocol, HeaderTimeoutHttpToolsProtocol

    base = HeaderTimeoutHttpToolsProtocol if request.param == "httptools" else \
        HeaderTimeoutH11Protocol
    protocol = type("Quick", (base,), {"header_timeout": 0.5})

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, http=protocol, log_level="error", lifespan="off",
                            timeout_keep_alive=30)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    try:
        yield sock.getsockname()
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_header_deadline_in_both_protocols(tiny_server: tuple[str, int]) -> None:
    with socket.create_connection(tiny_server, timeout=10) as s:
        start = time.monotonic()
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")  # and never the blank line
        data = s.recv(4096)
        assert data.startswith(b"HTTP/1.1 408"), data
        assert 0.4 < time.monotonic() - start < 0.5 + SLACK
    with socket.create_connection(tiny_server, timeout=10) as s:
        # A complete request is answered; the connection stays open (keep-alive), and the
        # next request's head gets the same deadline.
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
        time.sleep(0.7)  # longer than the deadline, idle between requests: still open
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
        s.sendall(b"GET / HTTP/1.1\r\n")
        start = time.monotonic()
        data = s.recv(4096)
        assert data.startswith(b"HTTP/1.1 408"), data
        assert time.monotonic() - start < 0.5 + SLACK
