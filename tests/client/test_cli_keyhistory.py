"""``sceau keys fetch --bundle`` and ``sceau verify --trust-bundle`` (SPEC.md §6.2.7)
against fixed key history documents built here and served by an in-process fake
``GET /v1/tenants/{tenant}/keys/history``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from sceau.claim import build_claim
from sceau.client import Client
from sceau.envelope import seal_claim
from sceau.errors import NotFoundError, TransportError, ValidationError
from sceau.hashing import hash_file
from sceau.keyhistory import (
    MAX_HISTORY_BYTES,
    KeyStatement,
    TrustAnchor,
    TrustBundle,
    build_history_document,
    sign_history_head,
    sign_statement,
    statement_digest,
)
from sceau.keyring import KeyRecord, KeyStatus
from sceau.local import LocalSigner
from sceau.sidecar import write_sidecar
from sceau.strictjson import loads

from .conftest import Run

TENANT = "acme"
REAL_NOW = datetime.now(UTC).replace(microsecond=0)
T0 = REAL_NOW - timedelta(days=30)


def _signer(label: str) -> LocalSigner:
    return LocalSigner.from_seed(hashlib.sha256(f"cli keyhistory {label}".encode()).digest())


A, B, C, ROOT, STRANGER = (_signer(n) for n in ("A", "B", "C", "root", "stranger"))


def rec(signer: LocalSigner, status: KeyStatus = KeyStatus.ACTIVE) -> KeyRecord:
    return KeyRecord(signer.public_key, TENANT, status)


V1 = KeyStatement.first(TENANT, [rec(A)], T0, root=ROOT.public_key)
E1 = sign_statement(V1, [A, ROOT])
V2 = V1.successor([rec(A, KeyStatus.RETIRED), rec(B)], T0 + timedelta(days=10))
E2 = sign_statement(V2, [A, B, ROOT], previous=V1)
V3 = V2.successor([rec(A, KeyStatus.RETIRED), rec(B, KeyStatus.RETIRED), rec(C)],
                  T0 + timedelta(days=20))
E3 = sign_statement(V3, [B, C, ROOT], previous=V2)


def doc(envs: list[bytes], signer: LocalSigner, *, expires: datetime | None = None,
        issued: datetime | None = None) -> bytes:
    issued = issued or REAL_NOW - timedelta(hours=1)
    head = sign_history_head(tenant=TENANT, statement=envs[-1], issued=issued,
                             expires=expires or REAL_NOW + timedelta(days=1), signer=signer)
    return build_history_document(envs, head)


@dataclass
class FakeRegistry:
    """Serves whatever history document the test sets."""

    document: bytes
    requests: list[str] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request.url.path)
        if request.url.path == f"/v1/tenants/{TENANT}/keys/history":
            return httpx.Response(200, content=self.document,
                                  headers={"content-type": "application/json"})
        return httpx.Response(404, json={"code": "not_found", "detail": "no such tenant"})


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCEAU_SERVER", raising=False)
    monkeypatch.setattr("sceau.client.time.sleep", lambda seconds: None)


def sealed_file(tmp_path: Path, signer: LocalSigner, name: str = "photo.png") -> Path:
    path = tmp_path / name
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + name.encode() + bytes(64))
    digest = hash_file(path)
    obj = build_claim(sha256=digest.digest, size=digest.size, media_type="image/png",
                      tenant=TENANT, keyid=signer.keyid,
                      created=REAL_NOW - timedelta(minutes=5))
    write_sidecar(path, seal_claim(obj, signer).to_bytes())
    return path


def fetch(cli: Callable[..., Run], registry: FakeRegistry, bundle: Path, *extra: str) -> Run:
    return cli("keys", "fetch", "--server", "http://sceau.test", "--bundle", str(bundle),
               *extra, transport=httpx.MockTransport(registry))


def test_first_fetch_needs_a_pin(cli: Callable[..., Run], tmp_path: Path) -> None:
    bundle = tmp_path / "acme.bundle"
    registry = FakeRegistry(doc([E1, E2], B))
    run = fetch(cli, registry, bundle, "--tenant", TENANT)
    assert run.code == 2 and "--pin-root" in run.err
    assert not bundle.exists() and registry.requests == []
    run = fetch(cli, registry, bundle, f"--pin-root={ROOT.keyid}")
    assert run.code == 2 and "--tenant" in run.err


def test_fetch_walk_forward_and_verify(cli: Callable[..., Run], tmp_path: Path) -> None:
    bundle = tmp_path / "acme.bundle"
    registry = FakeRegistry(doc([E1, E2], B))
    run = fetch(cli, registry, bundle, "--tenant", TENANT, f"--pin-root={ROOT.keyid}")
    assert run.code == 0, run.err
    assert "version 2" in run.out
    saved = TrustBundle.from_bytes(bundle.read_bytes())
    assert saved.anchor.version == 2 and saved.anchor.root_keyid == ROOT.keyid
    # Offline: a seal by the active key and one by the retired key verify.
    for signer in (B, A):
        path = sealed_file(tmp_path, signer, f"{signer.keyid[:6]}.png")
        run = cli("verify", str(path), "--trust-bundle", str(bundle), "--json")
        assert run.code == 0, run.out
        verdict = json.loads(run.out)
        assert verdict["ok"] and verdict["signer"]["tenant"] == TENANT
    # A key the history does not name.
    stranger = sealed_file(tmp_path, STRANGER, "stranger.png")
    run = cli("verify", str(stranger), "--trust-bundle", str(bundle), "--json")
    assert run.code == 1
    assert "signingCredential.unknown" in json.loads(run.out)["status_codes"]
    # The registry rotates to C: the next fetch walks forward from version 2.
    registry.document = doc([E1, E2, E3], C)
    run = fetch(cli, registry, bundle)
    assert run.code == 0, run.err
    assert "version 3 (was version 2)" in run.out
    assert TrustBundle.from_bytes(bundle.read_bytes()).anchor.version == 3


def test_rollback_and_bad_history_leave_the_bundle(cli: Callable[..., Run],
                                                   tmp_path: Path) -> None:
    bundle = tmp_path / "acme.bundle"
    registry = FakeRegistry(doc([E1, E2, E3], C))
    assert fetch(cli, registry, bundle, "--tenant", TENANT, f"--pin-root={ROOT.keyid}").code == 0
    before = bundle.read_bytes()
    registry.document = doc([E1, E2], B)
    run = fetch(cli, registry, bundle)
    assert run.code == 4
    assert "sceau.keyHistory.rollback" in run.err
    assert bundle.read_bytes() == before
    # Version 3 minus one of its signatures.
    broken = loads(doc([E1, E2, E3], C))
    broken["statements"][2]["signatures"] = broken["statements"][2]["signatures"][1:]
    registry.document = json.dumps(broken).encode()
    run = fetch(cli, registry, bundle)
    assert run.code == 3
    assert "sceau.keyHistory.signature" in run.err
    assert bundle.read_bytes() == before
    # Pinning again over a saved bundle is refused.
    run = fetch(cli, registry, bundle, f"--pin-key={A.keyid}")
    assert run.code == 2 and "already pinned" in run.err


def test_trust_on_first_use_names_the_key(cli: Callable[..., Run], tmp_path: Path) -> None:
    bundle = tmp_path / "acme.bundle"
    run = fetch(cli, FakeRegistry(doc([E1, E2], B)), bundle, "--tenant", TENANT,
                "--trust-on-first-use")
    assert run.code == 0, run.err
    assert f"pinned key {A.keyid}" in run.out


def test_wrong_pin_is_refused(cli: Callable[..., Run], tmp_path: Path) -> None:
    bundle = tmp_path / "acme.bundle"
    run = fetch(cli, FakeRegistry(doc([E1, E2], B)), bundle, "--tenant", TENANT,
                f"--pin-root={STRANGER.keyid}")
    assert run.code == 3 and "sceau.keyHistory.untrustedAnchor" in run.err
    assert not bundle.exists()


def test_unknown_tenant(cli: Callable[..., Run], tmp_path: Path) -> None:
    run = fetch(cli, FakeRegistry(doc([E1], A)), tmp_path / "b", "--tenant", "nobody",
                f"--pin-root={ROOT.keyid}")
    assert run.code == 2 and "not_found" in run.err


def test_expired_bundle_fails_verification(cli: Callable[..., Run], tmp_path: Path) -> None:
    # A bundle saved long ago: its history's head has expired since.
    old = doc([E1, E2], B, issued=T0 + timedelta(days=11), expires=T0 + timedelta(days=12))
    anchor = TrustAnchor(TENANT, root_keyid=ROOT.keyid, version=2,
                         digest=statement_digest(V2), head_issued=T0 + timedelta(days=11))
    bundle = tmp_path / "old.bundle"
    bundle.write_bytes(TrustBundle(anchor, loads(old)).to_bytes())
    path = sealed_file(tmp_path, B)
    run = cli("verify", str(path), "--trust-bundle", str(bundle), "--json")
    assert run.code == 1
    verdict: dict[str, Any] = json.loads(run.out)
    assert verdict["status_codes"] == ["sceau.keyHistory.expired"]
    assert verdict["signer"]["key_status"] == "unknown"
    human = cli("verify", str(path), "--trust-bundle", str(bundle))
    assert human.code == 1
    assert "stale: fetch it again" in human.out and "sceau.keyHistory.expired" in human.out


def test_client_key_history_checks_its_input(tmp_path: Path) -> None:
    registry = FakeRegistry(doc([E1], A))
    with Client("http://sceau.test", transport=httpx.MockTransport(registry)) as client:
        assert client.key_history(TENANT) == registry.document
        with pytest.raises(ValidationError):
            client.key_history("../admin")
        registry.document = b" " * (MAX_HISTORY_BYTES + 1)
        with pytest.raises(TransportError):
            client.key_history(TENANT)
        with pytest.raises(NotFoundError):
            client.key_history("nobody")
    assert registry.requests == [f"/v1/tenants/{TENANT}/keys/history"] * 2 + [
        "/v1/tenants/nobody/keys/history"]


def test_trust_bundle_usage_errors(cli: Callable[..., Run], tmp_path: Path) -> None:
    path = sealed_file(tmp_path, B)
    missing = cli("verify", str(path), "--trust-bundle", str(tmp_path / "none"))
    assert missing.code == 2
    junk = tmp_path / "junk.bundle"
    junk.write_text("{}")
    assert cli("verify", str(path), "--trust-bundle", str(junk)).code == 2
    both = cli("verify", str(path), "--trust-bundle", str(junk), "--keys", str(junk))
    assert both.code == 2
    run = cli("keys", "fetch", "--tenant", TENANT)
    assert run.code == 2 and "--bundle" in run.err
