"""Rotation under load: a real server process seals continuously while the tenant's key
rotates several times (admin endpoint and ``sceau-keys`` CLI); no request fails and every
seal verifies afterwards against the published keys (retired keys included)."""

from __future__ import annotations

import secrets
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from sceau import KeyRing, KeyStatus, verify_seal
from sceau.checkpoint import LogKey
from sceau.keyhistory import TrustAnchor, verify_key_history, verify_seal_with_history
from sceau_service import Settings
from sceau_service.admin import create_token
from sceau_service.db import make_engine
from sceau_service.store import Store

from ..conftest import ServerProcess

pytestmark = pytest.mark.e2e

SEALS = 3200
THREADS = 4
ROTATIONS = 5
SCEAU_KEYS = str(Path(sys.executable).parent / "sceau-keys")


def _keys_cli(server: ServerProcess, *args: str) -> str:
    out = subprocess.run([SCEAU_KEYS, *args], env=server.env, capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_rotation_under_load(server: ServerProcess) -> None:
    settings = Settings(data_dir=server.data_dir,
                        database_url=server.env.get("SCEAU_DATABASE_URL"))
    engine = make_engine(settings.resolved_database_url)
    try:
        store = Store(engine)
        admin = create_token(store, store.tenant_by_slug("dev"), {"keys:admin"}, "rotation")
    finally:
        engine.dispose()
    with httpx.Client(base_url=server.url) as c:
        first_key = c.get("/v1/tenants/dev/keys",
                          headers={"authorization": f"Bearer {server.token}"}).json()
    (first,) = [k["kid"] for k in first_key["keys"] if k["status"] == "active"]

    sealed: list[bytes] = []
    seen: set[str] = set()  # key ids the server has signed with so far
    failures: list[str] = []
    done = threading.Event()
    lock = threading.Lock()
    per_thread = SEALS // THREADS

    def sealer() -> None:
        headers = {"authorization": f"Bearer {server.token}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            count = after = 0
            # At least per_thread seals each, and on until some were made after the last
            # rotation (the rotator is bounded: it runs ROTATIONS steps and stops).
            while count < per_thread or after < 20:
                count += 1
                if done.is_set():
                    after += 1
                body = {"hash": secrets.token_hex(32), "size": 1, "media_type": "image/png"}
                try:
                    r = client.post("/v1/seals", json=body)
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                if r.status_code != 201:
                    failures.append(f"{r.status_code} {r.text[:200]}")
                    continue
                # The seal's envelope, spliced verbatim by the service: its exact bytes.
                raw = r.content
                start = raw.index(b'"seal":') + len(b'"seal":')
                with lock:
                    sealed.append(raw[start:-1])
                    seen.add(r.json()["seal"]["signatures"][0]["keyid"])

    rotated: list[str] = []

    def rotator() -> None:
        try:
            rotate()
        finally:
            done.set()

    def rotate() -> None:
        headers = {"authorization": f"Bearer {admin}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            for n in range(1, ROTATIONS + 1):
                # Rotate at evenly spaced points of the run, while the sealers are busy.
                while len(sealed) < n * SEALS // (ROTATIONS + 1) and not failures:
                    time.sleep(0.01)
                if n == 2:  # the operator CLI, another process: the server notices by itself
                    rotated.append(_keys_cli(server, "rotate", "dev", "--new"))
                else:
                    r = client.post("/v1/tenants/dev/keys/rotate", json={"new": True})
                    assert r.status_code == 200, r.text
                    rotated.append(r.json()["incoming"])
                # The server picks the new key up (at once for the endpoint, within
                # SCEAU_KEY_CHECK_SECONDS for the CLI) before the next rotation.
                deadline = time.monotonic() + 30
                while rotated[-1] not in seen:
                    assert time.monotonic() < deadline, "the new key was never used"
                    time.sleep(0.01)

    started = time.monotonic()
    threads = [threading.Thread(target=sealer) for _ in range(THREADS)]
    rot = threading.Thread(target=rotator)
    for t in (*threads, rot):
        t.start()
    rot.join()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started

    assert failures == []
    assert len(sealed) >= SEALS
    assert len(rotated) == ROTATIONS and len(set(rotated)) == ROTATIONS

    with httpx.Client(base_url=server.url) as c:
        jwks = c.get("/.well-known/jwks.json").json()
        log_keys = [LogKey.from_vkey(k["vkey"]) for k in c.get("/v1/log/key").json()["keys"]]
        history = c.get("/v1/tenants/dev/keys/history").content
    ring = KeyRing.from_jwks(jwks)
    dev = {kid: ring[kid] for kid in ring if ring[kid].tenant == "dev"}
    assert [r.status for r in dev.values()].count(KeyStatus.ACTIVE) == 1
    assert dev[rotated[-1]].status is KeyStatus.ACTIVE
    assert all(dev[k].status is KeyStatus.RETIRED for k in (first, *rotated[:-1]))

    now = datetime.now(UTC)
    used: dict[str, int] = {}
    for envelope in sealed:
        verdict = verify_seal(envelope, ring, now=now, log_keys=log_keys, require_log=True)
        assert verdict.ok, verdict.status_codes
        assert verdict.keyid is not None
        used[verdict.keyid] = used.get(verdict.keyid, 0) + 1
    # The rotations happened during the load: seals by every key of the series.
    assert set(used) == {first, *rotated}, used

    # The signed key history walks from the first key to the last, and verifies seals too.
    verified = verify_key_history(history, TrustAnchor("dev", keyid=first), now=now)
    assert verified.statement.active.keyid == rotated[-1]
    assert verified.version >= ROTATIONS + 1
    for envelope in sealed[:: len(sealed) // 20]:
        assert verify_seal_with_history(envelope, verified, now=now, log_keys=log_keys,
                                        require_log=True).ok
    sys.stderr.write(f"\nrotation under load: {len(sealed)} seals, {ROTATIONS} rotations, "
                     f"{elapsed:.1f} s, keys used {sorted(used.values())}\n")
