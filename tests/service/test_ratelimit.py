"""Per-client rate limits: token buckets (fake clock), the middleware in-process, and a real
``sceau-service serve`` process where they are on by default."""

from __future__ import annotations

import hashlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from sceau_service import create_app
from sceau_service.ratelimit import TokenBuckets, client_address

from ..conftest import free_port
from .conftest import Service

pytestmark = pytest.mark.timeout(120)

HASHES = {"hashes": [hashlib.sha256(b"x").hexdigest()]}


# -- token buckets, time passed in ----------------------------------------------------


def test_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    buckets = TokenBuckets(rate=2.0, burst=3, max_keys=10)
    assert [buckets.take("a", 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a", 100.0) == pytest.approx(0.5)  # one token in 1/rate seconds
    assert buckets.take("a", 100.25) == pytest.approx(0.25)  # refused: nothing spent
    assert buckets.take("a", 100.5) == 0.0
    assert buckets.take("a", 100.5) == pytest.approx(0.5)
    assert buckets.take("b", 100.5) == 0.0  # every client has its own bucket
    # Long idle: back to a full burst, never more.
    assert [buckets.take("a", 1000.0) for _ in range(4)][-1] > 0.0


def test_clock_going_back_does_not_mint_tokens() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1, max_keys=10)
    assert buckets.take("a", 50.0) == 0.0
    assert buckets.take("a", 10.0) > 0.0


def test_memory_is_bounded_least_recent_dropped() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1, max_keys=100)
    for i in range(10_000):
        buckets.take(f"client-{i}", 0.0)
        assert len(buckets) <= 100
    assert buckets.take("client-9999", 0.0) > 0.0  # recent: still tracked, still empty
    assert buckets.take("client-0", 0.0) == 0.0  # dropped long ago: a fresh bucket


@given(st.lists(st.tuples(st.integers(0, 5), st.floats(0, 5)), max_size=200))
def test_never_more_than_burst_plus_rate_times_elapsed(steps: list[tuple[int, float]]) -> None:
    buckets = TokenBuckets(rate=3.0, burst=4, max_keys=8)
    now = 0.0
    allowed: dict[int, int] = {}
    for client, dt in steps:
        now += dt
        if buckets.take(str(client), now) == 0.0:
            allowed[client] = allowed.get(client, 0) + 1
    for n in allowed.values():
        assert n <= 4 + 3.0 * now + 1e-9


@pytest.mark.parametrize(("peer", "forwarded", "trusted", "expected"), [
    ("10.0.0.1", [], (), "10.0.0.1"),
    ("10.0.0.1", [b"1.2.3.4"], (), "10.0.0.1"),  # untrusted peer: the header is ignored
    ("10.0.0.1", [b"1.2.3.4"], ("10.0.0.1",), "1.2.3.4"),
    # The client may send its own X-Forwarded-For: only the hop the proxy added counts.
    ("10.0.0.1", [b"6.6.6.6, 1.2.3.4"], ("10.0.0.1",), "1.2.3.4"),
    ("10.0.0.1", [b"6.6.6.6", b"1.2.3.4, 10.0.0.2"], ("10.0.0.1", "10.0.0.2"), "1.2.3.4"),
    ("10.0.0.1", [b" , "], ("10.0.0.1",), "10.0.0.1"),
])
def test_client_address(peer: str, forwarded: list[bytes], trusted: tuple[str, ...],
                        expected: str) -> None:
    scope: dict[str, Any] = {"client": (peer, 1234),
                             "headers": [(b"x-forwarded-for", f) for f in forwarded]}
    assert client_address(scope, trusted) == expected


# -- the middleware in the app ----------------------------------------------------------


@pytest.fixture
def limited(service: Service) -> Iterator[TestClient]:
    """The service's app again, with tiny budgets (refills take ~100 s: no timing luck)."""
    settings = service.settings.model_copy(update={
        "rate_limit": True, "rate_read_per_second": 0.01, "rate_read_burst": 3,
        "rate_sign_per_second": 0.01, "rate_sign_burst": 2})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def test_over_budget_is_429_with_retry_after(limited: TestClient) -> None:
    for _ in range(3):
        assert limited.post("/v1/lookup", json=HASHES).status_code == 200
    r = limited.post("/v1/lookup", json=HASHES)
    assert r.status_code == 429
    assert r.json()["code"] == "rate_limited"
    assert 90 <= int(r.headers["retry-after"]) <= 100
    # Reads share one budget per client; probes are never limited.
    assert limited.get("/v1/seals", params={"sha256": "a" * 64}).status_code == 429
    assert limited.get("/readyz").status_code == 200


def test_signing_budget_is_per_token(limited: TestClient, service: Service) -> None:
    body = {"hash": secrets.token_hex(32), "size": 1, "media_type": "image/png"}
    for _ in range(2):
        r = limited.post("/v1/seals", json=body, headers=service.auth())
        assert r.status_code == 201, r.text
    assert limited.post("/v1/seals", json=body, headers=service.auth()).status_code == 429
    # Another token of the same client has its own budget; reads are not spent by signing.
    other = limited.post("/v1/seals", json=body, headers=service.auth(service.read_token))
    assert other.status_code == 403
    assert limited.post("/v1/lookup", json=HASHES).status_code == 200


def test_off_in_an_embedded_app_by_default(service: Service) -> None:
    assert service.settings.rate_limit is None
    for _ in range(300):  # above the default burst (200)
        assert service.client.post("/v1/lookup", json=HASHES).status_code == 200


# -- a real server: `serve` turns them on ---------------------------------------------


def test_serve_limits_by_default_and_the_budget_comes_back(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "SCEAU_DATA_DIR": str(tmp_path / "data"),
           "SCEAU_RATE_READ_BURST": "3", "SCEAU_RATE_READ_PER_SECOND": "2"}
    for name in ("SCEAU_RATE_LIMIT", "SCEAU_DATABASE_URL", "SCEAU_KEY_PASSPHRASE"):
        env.pop(name, None)
    (tmp_path / "data").mkdir()
    exe = Path(sys.executable).parent / "sceau-service"
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.1)
        with httpx.Client(base_url=url, timeout=5) as client:
            statuses = [client.post("/v1/lookup", json=HASHES).status_code for _ in range(6)]
            assert statuses[:3] == [200, 200, 200] and 429 in statuses[3:], statuses
            r = client.post("/v1/lookup", json=HASHES)
            assert r.status_code == 429 and r.json()["code"] == "rate_limited"
            wait = int(r.headers["retry-after"])
            assert 1 <= wait <= 2
            time.sleep(wait)
            assert client.post("/v1/lookup", json=HASHES).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
