"""End to end with the PKCS#11 custody: a real server whose keys live on a SoftHSM2 token
seals over HTTP, and the seals verify offline against the published keys."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from sceau import Client, ContentDigest, KeyRing, verify_seal
from sceau.client import SealRequest
from sceau_keys.pkcs11 import Pkcs11Custody

from ..conftest import ServerProcess, start_server, stop_server
from ..softhsm import SoftHsm

pytestmark = pytest.mark.e2e


@pytest.fixture
def hsm_server(softhsm: SoftHsm, isolated_database_url: str,
               tmp_path: Path) -> Iterator[ServerProcess]:
    """A server configured with SCEAU_CUSTODY=pkcs11 on the session's SoftHSM2 token."""
    srv = start_server(tmp_path, isolated_database_url, extra_env=softhsm.server_env())
    try:
        yield srv
    finally:
        stop_server(srv)


def _digest() -> ContentDigest:
    data = secrets.token_bytes(32)
    return ContentDigest("sha256", hashlib.sha256(data).digest(), len(data))


def test_seal_with_token_keys_and_verify_offline(hsm_server: ServerProcess, softhsm: SoftHsm,
                                                 isolated_database_url: str) -> None:
    with Client(hsm_server.url, hsm_server.token) as client:
        one = _digest()
        sealed = client.seal(one, media_type="image/jpeg")
        batch = [_digest() for _ in range(100)]  # >= SIGN_MANY_MIN_BATCH: signing processes
        sealed_batch = client.seal_batch([SealRequest(d, media_type="image/png")
                                          for d in batch])
        ring = KeyRing.from_jwks(client.jwks())
        log_keys = list(client.log_keys().keys)
    now = datetime.now(UTC)
    for result, digest in [(sealed, one), *zip(sealed_batch, batch, strict=True)]:
        verdict = verify_seal(result.envelope_bytes, ring, now=now, content=digest,
                              log_keys=log_keys, require_log=True)
        assert verdict.ok, verdict
    # The signing key is the token's: no key file was written, the registry records the
    # backend, and the public key the service publishes is the one the token holds.
    assert not list((hsm_server.data_dir / "keys").glob("*.pem"))
    keyid = sealed.envelope.signatures[0].keyid
    engine = create_engine(isolated_database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT keyid, custody FROM signing_keys")).all()
    finally:
        engine.dispose()
    assert (keyid, "pkcs11") in [tuple(r) for r in rows]
    token = Pkcs11Custody(softhsm.module, "sceau-test", softhsm.pin)
    assert ring[keyid].public_key == token.public_key(keyid)


def test_signing_never_takes_a_public_key_from_the_caller(hsm_server: ServerProcess) -> None:
    headers = {"Authorization": f"Bearer {hsm_server.token}"}
    digest = _digest()
    body = {"hash": digest.digest.hex(), "size": digest.size, "media_type": "image/jpeg"}
    other = secrets.token_bytes(32).hex()
    for extra in ({"public_key": other}, {"keyid": "A" * 43}, {"key": other},
                  {"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}}):
        r = httpx.post(f"{hsm_server.url}/v1/seals", json={**body, **extra},
                       headers=headers, timeout=30)
        assert r.status_code == 422, (extra, r.text)
        assert r.json()["code"] == "validation_error"
    r = httpx.post(f"{hsm_server.url}/v1/seals", json=body, headers=headers, timeout=30)
    assert r.status_code == 201, r.text
