"""Raw HTTP/1.1 exchanges with a real server process, for hostile-input tests: bytes the
HTTP clients would refuse to send (malformed heads, truncated or slow bodies)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.conftest import ServerProcess

__all__ = ["RawAnswer", "address", "exchange"]


def address(srv: ServerProcess) -> tuple[str, int]:
    """The server's loopback host and port."""
    host, port = srv.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


@dataclass
class RawAnswer:
    """What came back on a raw connection, and how long it took."""

    data: bytes
    seconds: float
    timed_out: bool

    @property
    def status(self) -> int | None:
        """The status code, or None when no HTTP answer came."""
        if not self.data.startswith(b"HTTP/1.1 "):
            return None
        return int(self.data[9:12])

    def json(self) -> Any:
        """The JSON body (the answer must say it is JSON)."""
        head, _, body = self.data.partition(b"\r\n\r\n")
        assert b"content-type: application/json" in head.lower(), head
        return json.loads(body)


def exchange(srv: ServerProcess, data: bytes, *,
             then: Callable[[socket.socket], None] | None = None,
             half_close: bool = False, timeout: float = 5.0) -> RawAnswer:
    """Send ``data`` (then run ``then``), read until the server closes or ``timeout``."""
    start = time.monotonic()
    with socket.create_connection(address(srv), timeout=timeout) as s:
        try:
            s.sendall(data)
            if then is not None:
                then(s)
            if half_close:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered (and closed) before taking everything
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except TimeoutError:
            return RawAnswer(out, time.monotonic() - start, True)
        except ConnectionResetError:
            pass
        return RawAnswer(out, time.monotonic() - start, False)
