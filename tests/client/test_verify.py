"""Offline verification (docs/SPEC.md §7): each key-state path, each verdict axis, and
robustness against mutated or hostile seals."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sceau.canonical import canonicalize
from sceau.envelope import (
    KEY_STATEMENT_PAYLOAD_TYPE,
    Envelope,
    Signature,
    pae,
    parse_envelope,
    sign_envelope,
)
from sceau.hashing import hash_bytes
from sceau.keyring import KeyRecord, KeyRing, KeyStatus
from sceau.local import LocalSigner
from sceau.verify import (
    CLOCK_SKEW,
    ContentDigest,
    Integrity,
    KeyState,
    SignatureState,
    Status,
    Verdict,
    seal_id,
    verify_seal,
)

# The same values as tests/client/conftest.py (not imported: a root conftest may shadow it).
CREATED = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)
NOW = datetime(2026, 3, 15, tzinfo=UTC)
CONTENT = b"content bytes for the SDK core tests\n"
H = timedelta(hours=1)
Sealer = Callable[..., Envelope]


def _ring(signer: LocalSigner, trusted: list[str] | None = None, **kw: Any) -> KeyRing:
    return KeyRing([KeyRecord(signer.public_key, "example-news", **kw)], trusted)


def _verify(envelope: Envelope, ring: KeyRing, content: ContentDigest | None = None,
            now: datetime = NOW) -> Verdict:
    return verify_seal(envelope.to_bytes(), ring, now=now, content=content)


def test_fixtures_use_these_values(signer: LocalSigner,
                                   make_claim: Callable[..., dict[str, Any]]) -> None:
    obj = make_claim(signer)
    assert obj["created"] == "2026-03-14T09:26:53Z"
    binding = next(a["data"] for a in obj["assertions"] if a["label"] == "c2pa.hash.data")
    assert binding["hash"] == hashlib.sha256(CONTENT).hexdigest()


# -- key state at the seal's time (SPEC.md §7.1 step 8) -------------------------------------

KEY_CASES = [
    # (status, not_before, not_after, compromised_since, key_state, code or None)
    (KeyStatus.ACTIVE, None, None, None, KeyState.ACTIVE, None),
    (KeyStatus.ACTIVE, CREATED - H, CREATED + H, None, KeyState.ACTIVE, None),
    (KeyStatus.ACTIVE, CREATED, CREATED, None, KeyState.ACTIVE, None),  # bounds inclusive
    (KeyStatus.ACTIVE, CREATED + timedelta(seconds=1), None, None, KeyState.EXPIRED,
     Status.CREDENTIAL_EXPIRED),
    (KeyStatus.ACTIVE, None, CREATED - timedelta(seconds=1), None, KeyState.EXPIRED,
     Status.CREDENTIAL_EXPIRED),
    (KeyStatus.RETIRED, CREATED - H, CREATED + H, None, KeyState.RETIRED, Status.KEY_RETIRED),
    (KeyStatus.RETIRED, None, None, None, KeyState.RETIRED, Status.KEY_RETIRED),
    (KeyStatus.RETIRED, None, CREATED - H, None, KeyState.EXPIRED, Status.CREDENTIAL_EXPIRED),
    (KeyStatus.PENDING, None, None, None, KeyState.PENDING, Status.CREDENTIAL_INVALID),
    (KeyStatus.REVOKED, None, None, None, KeyState.REVOKED, Status.CREDENTIAL_REVOKED),
    (KeyStatus.REVOKED, None, None, CREATED - H, KeyState.REVOKED, Status.CREDENTIAL_REVOKED),
    (KeyStatus.REVOKED, None, None, CREATED, KeyState.REVOKED, Status.CREDENTIAL_REVOKED),
    (KeyStatus.REVOKED, None, None, CREATED + timedelta(seconds=1), KeyState.RETIRED,
     Status.KEY_RETIRED),
    (KeyStatus.REVOKED, None, CREATED - H, CREATED + H, KeyState.EXPIRED,
     Status.CREDENTIAL_EXPIRED),
    # A compromise time before the seal wins over every other state.
    (KeyStatus.ACTIVE, None, None, CREATED - H, KeyState.REVOKED, Status.CREDENTIAL_REVOKED),
    (KeyStatus.PENDING, None, None, CREATED - H, KeyState.REVOKED, Status.CREDENTIAL_REVOKED),
    (KeyStatus.RETIRED, None, CREATED - 2 * H, CREATED - H, KeyState.REVOKED,
     Status.CREDENTIAL_REVOKED),
    (KeyStatus.ACTIVE, None, None, CREATED + H, KeyState.ACTIVE, None),
]


@pytest.mark.parametrize(("status", "not_before", "not_after", "compromised", "state", "code"),
                         KEY_CASES)
def test_key_state(signer: LocalSigner, seal: Sealer, status: KeyStatus,
                   not_before: datetime | None, not_after: datetime | None,
                   compromised: datetime | None, state: KeyState, code: str | None) -> None:
    ring = _ring(signer, status=status, not_before=not_before, not_after=not_after,
                 compromised_since=compromised)
    verdict = _verify(seal(signer), ring, hash_bytes(CONTENT))
    expected = [Status.SIGNATURE_VALIDATED, Status.CREDENTIAL_TRUSTED,
                Status.TIME_SIGNER_ASSERTED, *([code] if code else []), Status.DATA_HASH_MATCH]
    assert list(verdict.status_codes) == expected
    assert verdict.key_state is state
    assert verdict.ok is (code is None or code in Status.SUCCESS)
    assert verdict.signature is SignatureState.VALID
    assert verdict.to_json()["signer"]["key_status"] == state.value


def test_unknown_key(signer: LocalSigner, other_signer: LocalSigner, seal: Sealer) -> None:
    verdict = _verify(seal(signer), _ring(other_signer), hash_bytes(CONTENT))
    assert verdict.status_codes == (Status.CREDENTIAL_UNKNOWN,)
    assert verdict.key_state is KeyState.UNKNOWN
    assert verdict.signature is SignatureState.NOT_CHECKED
    assert verdict.integrity is Integrity.NOT_CHECKED
    assert verdict.keyid == signer.keyid
    assert verdict.tenant is None
    assert not verdict.ok


# -- the axes --------------------------------------------------------------------------------


def test_valid_verdict_and_its_json(signer: LocalSigner, seal: Sealer) -> None:
    envelope = seal(signer, title="harbour.jpg")
    verdict = _verify(envelope, _ring(signer, ["example-news"]), hash_bytes(CONTENT))
    assert verdict.ok
    assert verdict.failures == ()
    assert verdict.seal_id == hashlib.sha256(envelope.payload).hexdigest() == seal_id(envelope)
    assert verdict.claim is not None and verdict.claim.title == "harbour.jpg"
    doc = verdict.to_json()
    assert doc == {
        "ok": True,
        "seal_id": verdict.seal_id,
        "status_codes": ["claimSignature.validated", "signingCredential.trusted",
                         "sceau.time.signerAsserted", "assertion.dataHash.match"],
        "signature": "valid",
        "integrity": "match",
        "signer": {"keyid": signer.keyid, "tenant": "example-news", "trusted": True,
                   "key_status": "active"},
        "time": {"signer_time": "2026-03-14T09:26:53Z", "trusted_time": None,
                 "attested": False},
        "log": None,
        "claim": dict(verdict.claim.raw),
    }
    assert canonicalize(doc["claim"]) == envelope.payload


def test_integrity_axis(signer: LocalSigner, seal: Sealer) -> None:
    envelope, ring = seal(signer), _ring(signer)
    good = hash_bytes(CONTENT)
    cases = [
        (None, Integrity.NOT_CHECKED, Status.CONTENT_NOT_CHECKED, True),
        (good, Integrity.MATCH, Status.DATA_HASH_MATCH, True),
        (hash_bytes(CONTENT + b"x"), Integrity.MISMATCH, Status.DATA_HASH_MISMATCH, False),
        (replace(good, size=good.size + 1), Integrity.MISMATCH, Status.DATA_HASH_MISMATCH,
         False),
        (replace(good, alg="sha512"), Integrity.MISMATCH, Status.DATA_HASH_MISMATCH, False),
    ]
    for content, integrity, code, ok in cases:
        verdict = _verify(envelope, ring, content)
        assert verdict.integrity is integrity
        assert verdict.status_codes[-1] == code
        assert verdict.ok is ok


def test_signer_axis_trust_list(signer: LocalSigner, seal: Sealer) -> None:
    envelope = seal(signer)
    trusted = _verify(envelope, _ring(signer, ["example-news", "example-ai"]))
    assert trusted.signer_trusted and Status.CREDENTIAL_TRUSTED in trusted.status_codes
    untrusted = _verify(envelope, _ring(signer, ["example-ai"]))
    assert not untrusted.signer_trusted and not untrusted.ok
    assert untrusted.failures == (Status.CREDENTIAL_UNTRUSTED,)
    assert untrusted.tenant == "example-news"
    assert untrusted.signature is SignatureState.VALID


def test_time_axis(signer: LocalSigner, seal: Sealer) -> None:
    envelope, ring = seal(signer), _ring(signer)
    verdict = _verify(envelope, ring)
    assert verdict.signer_time == CREATED
    assert verdict.trusted_time is None
    assert _verify(envelope, ring, now=CREATED - CLOCK_SKEW).ok
    late = _verify(envelope, ring, now=CREATED - CLOCK_SKEW - timedelta(seconds=1))
    assert late.failures == (Status.TIME_IN_FUTURE,)


def test_signature_axis(signer: LocalSigner, other_signer: LocalSigner, seal: Sealer) -> None:
    envelope, ring = seal(signer), _ring(signer)
    sig = envelope.signatures[0]
    cases = [
        (replace(envelope, signatures=()), SignatureState.MALFORMED, Status.SIGNATURE_MISSING),
        (replace(envelope, signatures=(sig, sig)), SignatureState.MALFORMED,
         Status.SIGNATURE_MALFORMED),
        (replace(envelope, signatures=(Signature(sig.keyid, sig.sig[:63]),)),
         SignatureState.MALFORMED, Status.SIGNATURE_MALFORMED),
        (replace(envelope, signatures=(Signature(sig.keyid, other_signer.sign(
            pae(envelope.payload_type, envelope.payload))),)), SignatureState.INVALID,
         Status.SIGNATURE_MISMATCH),
        (replace(envelope, payload_type=KEY_STATEMENT_PAYLOAD_TYPE), SignatureState.NOT_CHECKED,
         Status.PAYLOAD_TYPE_UNEXPECTED),
    ]
    for bad, state, code in cases:
        verdict = verify_seal(bad, ring, now=NOW)
        assert verdict.signature is state
        assert verdict.status_codes == (code,)
        assert verdict.seal_id == seal_id(envelope)


def test_malformed_envelope_has_no_seal_id(signer: LocalSigner) -> None:
    verdict = verify_seal(b"{}", _ring(signer), now=NOW)
    assert verdict.status_codes == (Status.ENVELOPE_MALFORMED,)
    assert verdict.seal_id is None
    assert verdict.signature is SignatureState.NOT_CHECKED


def test_a_key_statement_signature_does_not_verify_as_a_claim(
        signer: LocalSigner, make_claim: Callable[..., dict[str, Any]]) -> None:
    payload = canonicalize(make_claim(signer))
    statement = sign_envelope(payload, signer, KEY_STATEMENT_PAYLOAD_TYPE)
    relabelled = replace(statement, payload_type="application/vnd.sceau.claim.v1+json")
    verdict = verify_seal(relabelled, _ring(signer), now=NOW)
    assert verdict.status_codes == (Status.SIGNATURE_MISMATCH,)


def test_failures_after_the_signature_keep_the_validated_code(
        signer: LocalSigner, seal: Sealer, make_claim: Callable[..., dict[str, Any]]) -> None:
    obj = make_claim(signer)
    obj["signer"]["tenant"] = "example-ai"
    verdict = _verify(seal(signer, obj), _ring(signer))
    assert verdict.status_codes == (Status.SIGNATURE_VALIDATED, Status.CLAIM_SIGNER_MISMATCH)
    assert verdict.signature is SignatureState.VALID
    assert verdict.failures == (Status.CLAIM_SIGNER_MISMATCH,)
    assert verdict.claim is not None  # parsed, so the reader can see what it claimed


def test_signer_keyid_must_name_the_signing_key(
        signer: LocalSigner, other_signer: LocalSigner,
        make_claim: Callable[..., dict[str, Any]]) -> None:
    obj = make_claim(other_signer)  # names the other key...
    envelope = sign_envelope(canonicalize(obj), signer)  # ...but signed by this one
    ring = KeyRing([KeyRecord(signer.public_key, "example-news"),
                    KeyRecord(other_signer.public_key, "example-news")])
    verdict = _verify(envelope, ring)
    assert verdict.failures == (Status.CLAIM_SIGNER_MISMATCH,)


def test_non_canonical_payload(signer: LocalSigner,
                               make_claim: Callable[..., dict[str, Any]]) -> None:
    payload = canonicalize(make_claim(signer)) + b"\n"
    verdict = verify_seal(sign_envelope(payload, signer), _ring(signer), now=NOW)
    assert verdict.status_codes == (Status.SIGNATURE_VALIDATED, Status.CLAIM_NOT_CANONICAL)


def test_accepts_envelope_bytes_and_text(signer: LocalSigner, seal: Sealer) -> None:
    envelope, ring = seal(signer), _ring(signer)
    by_object = verify_seal(envelope, ring, now=NOW)
    assert verify_seal(envelope.to_bytes(), ring, now=NOW) == by_object
    assert verify_seal(envelope.to_bytes().decode(), ring, now=NOW) == by_object
    assert parse_envelope(envelope.to_bytes()) == envelope


@pytest.mark.parametrize("seal_input", [
    b"", b"\xff\xfe", "\ud800", '{"sceau":1,"payloadType":"\ud800"}', b"null", b"[]",
    b"{" * 100_000, b" " * (300 * 1024), b'{"sceau":1,"payloadType":"x","payload":"",'
    b'"signatures":[' + b'{"keyid":"k","sig":""},' * 16 + b'{"keyid":"k","sig":""}]}',
])
def test_hostile_input_never_raises(signer: LocalSigner, seal_input: bytes | str) -> None:
    verdict = verify_seal(seal_input, _ring(signer), now=NOW)
    assert verdict.status_codes == (Status.ENVELOPE_MALFORMED,)


# -- single-byte mutations never verify --------------------------------------------------


@pytest.fixture(scope="module")
def sealed_pair(signer: LocalSigner, seal: Sealer) -> tuple[Envelope, KeyRing]:
    return seal(signer, title="mutation target"), _ring(signer)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(part=st.sampled_from(["payload", "sig"]), position=st.integers(min_value=0),
       value=st.integers(min_value=1, max_value=255))
def test_single_byte_mutation_never_verifies(sealed_pair: tuple[Envelope, KeyRing], part: str,
                                             position: int, value: int) -> None:
    envelope, ring = sealed_pair
    sig = envelope.signatures[0]
    data = bytearray(envelope.payload if part == "payload" else sig.sig)
    data[position % len(data)] ^= value  # value != 0: the byte always changes
    if part == "payload":
        mutated = replace(envelope, payload=bytes(data))
    else:
        mutated = replace(envelope, signatures=(Signature(sig.keyid, bytes(data)),))
    for form in (mutated, mutated.to_bytes()):
        verdict = verify_seal(form, ring, now=NOW, content=hash_bytes(CONTENT))
        assert not verdict.ok
        assert verdict.status_codes == (Status.SIGNATURE_MISMATCH,)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0), value=st.integers(min_value=0, max_value=255))
def test_envelope_byte_mutation_never_verifies(sealed_pair: tuple[Envelope, KeyRing],
                                               position: int, value: int) -> None:
    envelope, ring = sealed_pair
    data = bytearray(envelope.to_bytes())
    i = position % len(data)
    if data[i] == value:
        return
    data[i] = value
    verdict = verify_seal(bytes(data), ring, now=NOW, content=hash_bytes(CONTENT))
    if verdict.ok:
        # Only a change outside the signed material and the key lookup may leave the
        # verdict valid: nothing in a canonical v1 envelope qualifies.
        pytest.fail(f"mutation at {i} to {value:#x} verified: {bytes(data)!r}")
