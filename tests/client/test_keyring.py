"""Key ids, key records and JWKS (docs/SPEC.md §5)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from sceau.encoding import b64url_decode, b64url_encode
from sceau.errors import ValidationError
from sceau.keyring import KeyRecord, KeyRing, KeyStatus, key_id
from sceau.local import LocalSigner

# RFC 8037 Appendix A.1 (private key "d", public key "x") and A.3 (its RFC 7638
# thumbprint).  The same key is RFC 8032 §7.1 TEST 1.
RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_rfc8037_a3_thumbprint_known_answer() -> None:
    assert key_id(b64url_decode(RFC8037_X)) == RFC8037_THUMBPRINT


def test_rfc8037_a1_private_key_gives_its_public_key() -> None:
    signer = LocalSigner.from_seed(b64url_decode(RFC8037_D))
    assert b64url_encode(signer.public_key) == RFC8037_X
    assert signer.keyid == RFC8037_THUMBPRINT


def test_thumbprint_input_is_the_rfc7638_member_order() -> None:
    public = b64url_decode(RFC8037_X)
    members = json.dumps({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X},
                         sort_keys=True, separators=(",", ":")).encode()
    assert members == b'{"crv":"Ed25519","kty":"OKP","x":"' + RFC8037_X.encode() + b'"}'
    assert key_id(public) == b64url_encode(hashlib.sha256(members).digest())


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_key_id_needs_32_bytes(length: int) -> None:
    with pytest.raises(ValidationError):
        key_id(bytes(length))


def _record(**kw: Any) -> KeyRecord:
    args: dict[str, Any] = {"public_key": b64url_decode(RFC8037_X), "tenant": "example-news"}
    args.update(kw)
    return KeyRecord(**args)


def test_jwk_members() -> None:
    jwk = _record(status=KeyStatus.RETIRED,
                  not_after=datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)).to_jwk()
    assert jwk == {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "kid": RFC8037_THUMBPRINT,
                   "use": "sig", "alg": "EdDSA", "sceau_tenant": "example-news",
                   "sceau_status": "retired", "sceau_not_after": "2026-12-31T23:59:59Z"}


def test_jwks_round_trip() -> None:
    t = datetime(2026, 3, 1, tzinfo=UTC)
    records = [
        _record(),
        KeyRecord(LocalSigner.from_seed(bytes(32)).public_key, "example-ai", KeyStatus.PENDING),
        KeyRecord(LocalSigner.from_seed(bytes([1]) * 32).public_key, "example-news",
                  KeyStatus.REVOKED, not_before=datetime(2025, 1, 1, tzinfo=UTC),
                  not_after=datetime(2027, 1, 1, tzinfo=UTC), compromised_since=t),
    ]
    ring = KeyRing(records, trusted_tenants=["example-news"])
    doc = json.loads(json.dumps(ring.to_jwks()))
    again = KeyRing.from_jwks(doc, trusted_tenants=["example-news"])
    assert list(again) == list(ring)
    assert [again[k] for k in again] == records
    assert again.to_jwks() == ring.to_jwks()
    assert again.is_trusted("example-news")
    assert not again.is_trusted("example-ai")
    assert KeyRing(records).is_trusted("anyone")


def test_ring_is_indexed_by_thumbprint() -> None:
    ring = KeyRing([_record()])
    assert ring[RFC8037_THUMBPRINT].tenant == "example-news"
    assert ring.get("no-such-key") is None
    assert len(ring) == 1


def test_kid_mismatch_is_rejected() -> None:
    jwk = _record().to_jwk()
    jwk["kid"] = "my-favourite-key"
    with pytest.raises(ValidationError, match="thumbprint"):
        KeyRecord.from_jwk(jwk)


def test_kid_is_optional_and_derived() -> None:
    jwk = _record().to_jwk()
    del jwk["kid"]
    assert KeyRecord.from_jwk(jwk).keyid == RFC8037_THUMBPRINT


@pytest.mark.parametrize(("member", "value"), [
    ("kty", "EC"), ("crv", "Ed448"), ("x", RFC8037_X + "A"), ("x", RFC8037_X[:-1]),
    ("x", RFC8037_X[:-1] + "p"), ("x", 42), ("sceau_tenant", ""), ("sceau_tenant", None),
    ("sceau_status", "lost"), ("sceau_not_after", "2026-12-31"),
    ("sceau_compromised_since", 1767225599),
])
def test_bad_jwk(member: str, value: Any) -> None:
    jwk = _record().to_jwk()
    jwk[member] = value
    with pytest.raises(ValidationError):
        KeyRecord.from_jwk(jwk)


@pytest.mark.parametrize("member", ["x", "sceau_tenant"])
def test_jwk_missing_required_member(member: str) -> None:
    jwk = _record().to_jwk()
    del jwk[member]
    with pytest.raises(ValidationError):
        KeyRecord.from_jwk(jwk)


def test_jwks_skips_other_key_types_and_needs_keys_array() -> None:
    rsa = {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "rsa-1"}
    ring = KeyRing.from_jwks({"keys": [rsa, _record().to_jwk(), "junk"]})
    assert list(ring) == [RFC8037_THUMBPRINT]
    for bad in [{}, {"keys": {}}, {"keys": None}]:
        with pytest.raises(ValidationError):
            KeyRing.from_jwks(bad)


def test_status_defaults_to_active() -> None:
    jwk = _record().to_jwk()
    del jwk["sceau_status"]
    assert KeyRecord.from_jwk(jwk).status is KeyStatus.ACTIVE
