"""The transparency log with real server processes.

* Two replicas on one fresh PostgreSQL database seal concurrently: afterwards there is one
  log holding every seal once, every seal's own proof verifies, every checkpoint a client
  saw is consistent with the final one, and so is every seal's proof through it.
* ``kill -9`` during a sealing load: after a restart the log is consistent with every
  checkpoint handed out before the crash, and every seal a client received is stored
  byte for byte and in the log with a valid proof.
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from sceau import Client, ContentDigest, KeyRing, verify_seal
from sceau.checkpoint import LogKey, SignedCheckpoint, open_checkpoint
from sceau.client import SealRequest
from sceau.errors import SceauError
from sceau.logproof import LogProof, seal_leaf_hash
from sceau.merkle import verify_consistency, verify_inclusion

from ..conftest import ServerProcess, fresh_database, start_server, stop_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


@dataclass(frozen=True)
class Received:
    """A seal as a client received it."""

    seal_id: str
    envelope: bytes
    digest: ContentDigest


def _digest() -> ContentDigest:
    import hashlib

    data = secrets.token_bytes(24)
    return ContentDigest("sha256", hashlib.sha256(data).digest(), len(data))


def _check_final_log(server: ServerProcess, received: list[Received]) -> SignedCheckpoint:
    """Everything the issue asks of the log after a load; returns the final checkpoint."""
    with Client(server.url) as client:
        keys = list(client.log_keys().keys)
        ring = client.keyring()
        final = open_checkpoint(client.log_checkpoint(), keys)
        size, root = final.checkpoint.size, final.checkpoint.root
        # Every seal id appears in the log exactly once, and nothing else does.
        entries = [e for start in range(0, size, 1000)
                   for e in client.log_entries(start, min(size, start + 1000))]
        logged = [e.seal_id for e in entries]
        assert len(logged) == len(set(logged)) == size
        assert {r.seal_id for r in received} <= set(logged)
        by_id = {e.seal_id: e for e in entries}
        # Every checkpoint a client saw is consistent with the final one.
        seen: dict[str, SignedCheckpoint] = {}
        for r in received:
            member = LogProof.from_json(_log(r.envelope))
            if member.checkpoint not in seen:
                seen[member.checkpoint] = open_checkpoint(member.checkpoint, keys)
        for cp in seen.values():
            assert cp.timestamp <= final.timestamp
            proof = client.log_consistency_proof(cp.checkpoint.size, size)
            verify_consistency(cp.checkpoint.size, size, proof.proof, cp.checkpoint.root, root)
        # Every seal: stored byte for byte, its own proof verifies (trusted time from the
        # log), and it is included in the final tree too.
        now = datetime.now(UTC)
        for r in received:
            assert client.get_seal(r.seal_id) == r.envelope
            verdict = verify_seal(r.envelope, ring, now=now, content=r.digest, log_keys=keys,
                                  require_log=True)
            assert verdict.ok, verdict.status_codes
            assert verdict.log_index == by_id[r.seal_id].index
        for r in received[::7]:
            proof = client.log_inclusion_proof(seal_id=r.seal_id, tree_size=size)
            verify_inclusion(proof.index, size, seal_leaf_hash(r.seal_id), proof.proof, root)
    return final


def _log(envelope: bytes) -> object:
    from sceau import parse_envelope

    return parse_envelope(envelope).log


def test_two_replicas_append_to_one_log(postgres_admin: Engine, tmp_path: Path) -> None:
    with fresh_database(postgres_admin) as url:
        a = start_server(tmp_path, url, name="replica-a")
        b = start_server(tmp_path, url, name="replica-b")
        try:
            def seal(i: int) -> list[Received]:
                server = a if i % 2 else b
                with Client(server.url, server.token) as client:
                    if i % 5 == 0:
                        items = [SealRequest(_digest(), "image/jpeg") for _ in range(8)]
                        results = client.seal_batch(items)
                        return [Received(r.seal_id, r.envelope_bytes, it.digest)
                                for r, it in zip(results, items, strict=True)]
                    d = _digest()
                    result = client.seal(d, media_type="image/jpeg")
                    return [Received(result.seal_id, result.envelope_bytes, d)]

            with ThreadPoolExecutor(12) as pool:
                received = [r for batch in pool.map(seal, range(240)) for r in batch]
            final = _check_final_log(a, received)
            assert final.checkpoint.size == len(received) == 48 * 8 + 192
            # Both replicas serve the same log.
            with Client(b.url) as cb:
                keys = list(cb.log_keys().keys)
                other = open_checkpoint(cb.log_checkpoint(), keys)
            assert other.checkpoint == final.checkpoint
        finally:
            stop_server(a)
            stop_server(b)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_kill_9_during_sealing_then_restart(backend: str, tmp_path: Path,
                                            request: pytest.FixtureRequest) -> None:
    if backend == "postgresql":
        ctx = fresh_database(request.getfixturevalue("postgres_admin"))
        url: str | None = ctx.__enter__()
    else:
        ctx, url = None, None
    try:
        _crash_and_recover(tmp_path, url)
    finally:
        if ctx is not None:
            ctx.__exit__(None, None, None)


def _crash_and_recover(tmp_path: Path, url: str | None) -> None:
    server = start_server(tmp_path, url, name="before-crash")
    received: list[Received] = []
    lock = threading.Lock()
    stop = threading.Event()

    def load() -> None:
        with Client(server.url, server.token, retries=0, timeout=10) as client:
            while not stop.is_set():
                try:
                    if secrets.randbelow(4) == 0:
                        items = [SealRequest(_digest(), "image/png") for _ in range(16)]
                        results = client.seal_batch(items)
                        got = [Received(r.seal_id, r.envelope_bytes, it.digest)
                               for r, it in zip(results, items, strict=True)]
                    else:
                        d = _digest()
                        r = client.seal(d, media_type="image/png")
                        got = [Received(r.seal_id, r.envelope_bytes, d)]
                except SceauError:
                    continue  # the server is gone: only what was answered counts
                with lock:
                    received.extend(got)

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(received) < 300 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(server.process.pid, signal.SIGKILL)  # mid-load, no shutdown of any kind
    server.process.wait()
    server.log.close()
    stop.set()
    for t in threads:
        t.join()
    assert len(received) >= 300
    restarted = start_server(tmp_path, url, name="after-crash")
    try:
        final = _check_final_log(restarted, received)
        assert final.checkpoint.size >= len(received)
        # The log goes on from where it was.
        with Client(restarted.url, restarted.token) as client:
            d = _digest()
            after = client.seal(d, media_type="image/png")
            keys: list[LogKey] = list(client.log_keys().keys)
            ring = KeyRing.from_jwks(client.jwks())
        verdict = verify_seal(after.envelope_bytes, ring, now=datetime.now(UTC), content=d,
                              log_keys=keys, require_log=True)
        assert verdict.ok and verdict.log_index == final.checkpoint.size
    finally:
        stop_server(restarted)
