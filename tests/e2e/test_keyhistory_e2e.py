"""End to end: ``sceau keys fetch --bundle`` against the real
``GET /v1/tenants/{tenant}/keys/history`` of a `sceau-service` process, a rotation by the
operator, and ``sceau verify --trust-bundle`` offline (SPEC.md §6.2), on SQLite and on
the real PostgreSQL server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from sceau.keyhistory import TrustBundle

from ..conftest import ServerProcess
from .conftest import run_sceau as _run

pytestmark = pytest.mark.e2e
SERVICE = str(Path(sys.executable).parent / "sceau-service")


def _jpeg(path: Path, n: int) -> Path:
    path.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes([n]) * 512 + b"\xff\xd9")
    return path


def _active_keyid(server: ServerProcess) -> str:
    jwks = httpx.get(server.url + "/.well-known/jwks.json", timeout=10).json()
    active = [k["kid"] for k in jwks["keys"]
              if k["sceau_tenant"] == "dev" and k["sceau_status"] == "active"]
    assert len(active) == 1
    return str(active[0])


def test_bundle_fetch_rotate_verify_offline(server: ServerProcess, tmp_path: Path) -> None:
    bundle = tmp_path / "dev.bundle"
    first_key = _active_keyid(server)
    # A wrong pin is refused and nothing is saved.
    wrong = _run(["keys", "fetch", "--bundle", str(bundle), "--tenant", "dev",
                  "--pin-key=" + "A" * 43], server, tmp_path)
    assert wrong.returncode == 3, wrong.stderr
    assert "sceau.keyHistory.untrustedAnchor" in wrong.stderr and not bundle.exists()
    # First use, pinning the key the JWKS shows (checked "out of band" here).
    got = _run(["keys", "fetch", "--bundle", str(bundle), "--tenant", "dev",
                f"--pin-key={first_key}"], server, tmp_path)
    assert got.returncode == 0, got.stderr
    saved = TrustBundle.from_bytes(bundle.read_bytes())
    assert saved.anchor.keyid == first_key
    version = saved.anchor.version

    _jpeg(tmp_path / "before.jpg", 1)
    signed = _run(["sign", "--sidecar", "before.jpg"], server, tmp_path)
    assert signed.returncode == 0, signed.stderr

    # The operator rotates the dev tenant's key.
    rotated = subprocess.run([SERVICE, "create-key", "dev"], env=server.env,
                             capture_output=True, text=True, timeout=120, check=False)
    assert rotated.returncode == 0, rotated.stderr
    # The server caches its key views for a few seconds (SCEAU_KEYRING_CACHE_SECONDS).
    deadline = time.monotonic() + 30
    while _active_keyid(server) == first_key:
        assert time.monotonic() < deadline, "the rotation never showed"
        time.sleep(0.5)

    # The history document is cached too (a rotation made by another process shows
    # within the cache's lifetime): fetch until the walk goes forward.
    while True:
        again = _run(["keys", "fetch", "--bundle", str(bundle)], server, tmp_path)
        assert again.returncode == 0, again.stderr
        newer = TrustBundle.from_bytes(bundle.read_bytes())
        if newer.anchor.version > version:
            break
        assert time.monotonic() < deadline, "the rotation never showed in the history"
        time.sleep(0.5)
    assert newer.anchor.keyid == first_key  # the pin stays; the walk went forward

    _jpeg(tmp_path / "after.jpg", 2)
    signed = _run(["sign", "--sidecar", "after.jpg"], server, tmp_path)
    assert signed.returncode == 0, signed.stderr
    # Offline, with the bundle only: the seal by the retired key and the later one verify,
    # each with its key's status in the fetched history.
    ring = newer.verify(datetime.now(UTC)).ring
    for name in ("before.jpg", "after.jpg"):
        out = _run(["verify", "--json", "--trust-bundle", str(bundle), name], server,
                   tmp_path)
        assert out.returncode == 0, out.stdout + out.stderr
        verdict = json.loads(out.stdout)
        signer = verdict["signer"]
        assert verdict["ok"] and signer["tenant"] == "dev"
        assert signer["key_status"] == ring[signer["keyid"]].status.value
    assert json.loads(_run(["verify", "--json", "--trust-bundle", str(bundle), "before.jpg"],
                           server, tmp_path).stdout)["signer"]["key_status"] == "retired"
