"""The signed key history (SPEC.md §6.2): builders, the offline walk, trust bundles, the
key-history test vectors, and robustness of the verifier against mutated documents."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sceau.canonical import canonicalize
from sceau.claim import build_claim
from sceau.encoding import b64url_decode, b64url_encode
from sceau.envelope import (
    KEY_STATEMENT_PAYLOAD_TYPE,
    Envelope,
    Signature,
    pae,
    parse_envelope,
    seal_claim,
)
from sceau.errors import (
    KeyHistoryError,
    KeyHistorySignatureInvalidError,
    KeyHistorySignatureMissingError,
    KeyHistoryTransitionError,
    error_from_code,
)
from sceau.keyhistory import (
    MAX_HISTORY_BYTES,
    HistoryHead,
    KeyStatement,
    TrustAnchor,
    TrustBundle,
    build_history_document,
    read_statement,
    required_signers,
    sign_history_head,
    sign_statement,
    statement_digest,
    update_trust_bundle,
    verify_key_history,
    verify_seal_with_history,
)
from sceau.keyring import KeyRecord, KeyStatus
from sceau.local import LocalSigner
from sceau.strictjson import loads
from sceau.timefmt import parse_time

ROOT_DIR = Path(__file__).resolve().parents[2]
VECTORS = ROOT_DIR / "tests" / "vectors" / "keyhistory"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def _signer(label: str) -> LocalSigner:
    return LocalSigner.from_seed(hashlib.sha256(f"keyhistory unit {label}".encode()).digest())


A, B, C, ROOT = (_signer(n) for n in ("A", "B", "C", "root"))


def rec(signer: LocalSigner, status: KeyStatus = KeyStatus.ACTIVE, **kw: Any) -> KeyRecord:
    return KeyRecord(signer.public_key, "acme", status, **kw)


V1 = KeyStatement.first("acme", [rec(A)], T0, root=ROOT.public_key)
E1 = sign_statement(V1, [A, ROOT])
V2 = V1.successor([rec(A, KeyStatus.RETIRED), rec(B)], T0 + DAY)
E2 = sign_statement(V2, [A, B, ROOT], previous=V1)


def _doc(envs: list[bytes], signer: LocalSigner = B, issued: datetime = NOW - DAY,
         expires: datetime = NOW + DAY) -> bytes:
    head = sign_history_head(tenant="acme", statement=envs[-1], issued=issued,
                             expires=expires, signer=signer)
    return build_history_document(envs, head)


DOC = _doc([E1, E2])
PIN = TrustAnchor("acme", root_keyid=ROOT.keyid)


# -- builders ----------------------------------------------------------------------------


def test_statement_round_trip_and_ring() -> None:
    assert KeyStatement.from_payload(V2.payload()) == V2
    assert read_statement(E2) == V2
    assert V2.previous == statement_digest(V1) == hashlib.sha256(V1.payload()).digest()
    assert V2.active.keyid == B.keyid
    assert set(V2.ring()) == {A.keyid, B.keyid}
    assert V2.ring().is_trusted("acme") and not V2.ring().is_trusted("other")


def test_signing_rules() -> None:
    assert required_signers(V1) == {A.keyid, ROOT.keyid}
    assert required_signers(V2, V1) == {A.keyid, B.keyid, ROOT.keyid}
    # Activating a pre-published key: no key added or revoked, so no root needed.
    v2p = V1.successor([rec(A), rec(B, KeyStatus.PENDING)], T0 + DAY)
    v3p = v2p.successor([rec(A, KeyStatus.RETIRED), rec(B)], T0 + 2 * DAY)
    assert required_signers(v2p, V1) == {A.keyid, ROOT.keyid}
    assert required_signers(v3p, v2p) == {A.keyid, B.keyid}
    # Emergency: the outgoing key revoked, the root and the new key suffice.
    v3 = V2.successor([rec(A, KeyStatus.RETIRED),
                       rec(B, KeyStatus.REVOKED, compromised_since=T0 + DAY), rec(C)],
                      T0 + 2 * DAY)
    assert required_signers(v3, V2) == {C.keyid, ROOT.keyid}
    # Without a root there is no emergency path.
    n1 = KeyStatement.first("acme", [rec(A)], T0)
    n2 = n1.successor([rec(A, KeyStatus.REVOKED, compromised_since=T0), rec(B)], T0 + DAY)
    assert required_signers(n2, n1) == {A.keyid, B.keyid}


def test_builder_refuses_wrong_signers() -> None:
    with pytest.raises(KeyHistorySignatureMissingError):
        sign_statement(V2, [B, ROOT], previous=V1)
    with pytest.raises(KeyHistorySignatureInvalidError):
        sign_statement(V2, [A, B, ROOT, C], previous=V1)
    with pytest.raises(KeyHistorySignatureInvalidError):
        sign_history_head(tenant="acme", statement=E2, issued=NOW, expires=NOW + DAY,
                          signer=A)


@pytest.mark.parametrize("keys", [
    pytest.param([rec(B)], id="key-disappears"),
    pytest.param([rec(A), rec(B)], id="two-active"),
    pytest.param([rec(A, KeyStatus.RETIRED)], id="no-active"),
    pytest.param([rec(A, KeyStatus.RETIRED), rec(B), rec(B)], id="key-twice"),
    pytest.param([rec(A, KeyStatus.RETIRED), rec(B, KeyStatus.RETIRED), rec(C)],
                 id="new-key-retired"),
    pytest.param([rec(A, KeyStatus.RETIRED, not_after=NOW), rec(B)], id="window-changes"),
])
def test_builder_refuses_bad_transitions(keys: list[KeyRecord]) -> None:
    with pytest.raises(KeyHistoryError):
        sign_statement(V1.successor(keys, T0 + DAY), [A, B, C, ROOT], previous=V1)


def test_compromise_time_only_moves_earlier() -> None:
    v3 = V2.successor([rec(A, KeyStatus.REVOKED, compromised_since=T0 + DAY), rec(B)],
                      T0 + 2 * DAY)
    e3 = sign_statement(v3, [B, ROOT], previous=V2)
    earlier = v3.successor([rec(A, KeyStatus.REVOKED, compromised_since=T0), rec(B)],
                           T0 + 3 * DAY)
    sign_statement(earlier, [B, ROOT], previous=v3)
    later = v3.successor([rec(A, KeyStatus.REVOKED, compromised_since=T0 + 2 * DAY), rec(B)],
                         T0 + 3 * DAY)
    with pytest.raises(KeyHistoryTransitionError):
        sign_statement(later, [B, ROOT], previous=v3)
    assert verify_key_history(_doc([E1, E2, e3]), PIN, now=NOW).version == 3


def test_document_shape() -> None:
    doc = loads(DOC)
    assert set(doc) == {"head", "statements", "tenant"}
    assert canonicalize(doc) == DOC
    head = HistoryHead.from_payload(Envelope(**_env_kwargs(doc["head"])).payload)
    assert head.version == 2 and head.statement == statement_digest(V2)


def _env_kwargs(obj: dict[str, Any]) -> dict[str, Any]:
    env = parse_envelope(canonicalize(obj))
    return {"payload_type": env.payload_type, "payload": env.payload,
            "signatures": env.signatures}


# -- verification ------------------------------------------------------------------------


def test_verify_returns_the_ring() -> None:
    verified = verify_key_history(DOC, PIN, now=NOW)
    assert verified.version == 2 and verified.tenant == "acme"
    assert verified.ring[A.keyid].status is KeyStatus.RETIRED
    assert verified.digest == statement_digest(V2)
    # Any key that was active may be pinned: its signature commits to the prefix.
    assert verify_key_history(DOC, TrustAnchor("acme", keyid=B.keyid), now=NOW).version == 2


def test_verify_before_parse() -> None:
    # A statement 2 whose payload is garbage and that only a stranger signed is rejected for
    # its missing signature, before its payload is looked at.
    garbage = b"\xff not json"
    env = Envelope(KEY_STATEMENT_PAYLOAD_TYPE, garbage,
                   (Signature(C.keyid, C.sign(pae(KEY_STATEMENT_PAYLOAD_TYPE, garbage))),))
    doc = loads(DOC)
    doc["statements"][1] = env.to_json()
    with pytest.raises(KeyHistorySignatureMissingError):
        verify_key_history(canonicalize(doc), PIN, now=NOW)
    # Signed by the outgoing key, it is read, and fails as malformed.
    env = Envelope(KEY_STATEMENT_PAYLOAD_TYPE, garbage,
                   (Signature(A.keyid, A.sign(pae(KEY_STATEMENT_PAYLOAD_TYPE, garbage))),))
    doc["statements"][1] = env.to_json()
    with pytest.raises(KeyHistoryError) as info:
        verify_key_history(canonicalize(doc), PIN, now=NOW)
    assert info.value.code == "sceau.keyHistory.malformed"


def test_head_rules() -> None:
    old_head = _doc([E1, E2], issued=NOW - 2 * DAY)
    seen = TrustAnchor("acme", root_keyid=ROOT.keyid, version=2,
                       digest=statement_digest(V2), head_issued=NOW - DAY)
    with pytest.raises(KeyHistoryError) as info:
        verify_key_history(old_head, seen, now=NOW)
    assert info.value.code == "sceau.keyHistory.rollback"
    doc = loads(DOC)
    doc["head"] = loads(sign_history_head(tenant="acme", statement=E1, issued=NOW - DAY,
                                          expires=NOW + DAY, signer=A))
    with pytest.raises(KeyHistoryError) as info:
        verify_key_history(canonicalize(doc), PIN, now=NOW)
    assert info.value.code == "sceau.keyHistory.signatureMissing"  # A is not active at v2
    with pytest.raises(KeyHistoryError) as info:
        verify_key_history(DOC, PIN, now=NOW + DAY)
    assert info.value.code == "sceau.keyHistory.expired"
    assert verify_key_history(DOC, PIN, now=NOW + DAY - timedelta(seconds=1))


@pytest.mark.parametrize("data", [
    b"", b"[]", b"{}", b'{"tenant":"acme","statements":[],"head":{}}',
    b'{"tenant":"acme","statements":[1],"head":{}}',
    b'{"tenant":"ACME","statements":[],"head":{}}',
    b'{"tenant":"acme","statements":[{}],"head":{},"x":1}',
    b"\xff",
])
def test_malformed_documents(data: bytes) -> None:
    with pytest.raises(KeyHistoryError) as info:
        verify_key_history(data, PIN, now=NOW)
    assert info.value.code in {"sceau.keyHistory.malformed",
                               "sceau.keyHistory.tenantMismatch"}


def test_size_cap() -> None:
    big = b'{"tenant":"acme","statements":[' + b" " * MAX_HISTORY_BYTES + b"]}"
    with pytest.raises(KeyHistoryError):
        verify_key_history(big, PIN, now=NOW)


def test_errors_map_back_from_codes() -> None:
    for code in ("sceau.keyHistory.rollback", "sceau.keyHistory.expired"):
        err = error_from_code(code, "x")
        assert isinstance(err, KeyHistoryError) and err.code == code


def test_seal_with_verified_history_object() -> None:
    obj = build_claim(sha256=bytes(32), size=0, media_type="image/png", tenant="acme",
                      keyid=B.keyid, created=NOW - DAY)
    seal = seal_claim(obj, B).to_bytes()
    verified = verify_key_history(DOC, PIN, now=NOW)
    assert verify_seal_with_history(seal, verified, now=NOW).ok
    assert verify_seal_with_history(seal, DOC, PIN, now=NOW).ok
    bad = verify_seal_with_history(seal, DOC[:-1], PIN, now=NOW)
    assert bad.status_codes == ("sceau.keyHistory.malformed",)
    assert bad.keyid == B.keyid and bad.seal_id is not None and not bad.ok
    with pytest.raises(ValueError, match="anchor"):
        verify_seal_with_history(seal, DOC, now=NOW)


# -- trust bundles -----------------------------------------------------------------------


def test_bundle_first_use_and_forward_walk() -> None:
    with pytest.raises(KeyHistoryError) as info:
        update_trust_bundle(None, DOC, now=NOW, tenant="acme")
    assert info.value.code == "sceau.keyHistory.untrustedAnchor"
    first = _doc([E1], signer=A)
    bundle = update_trust_bundle(None, first, now=NOW, tenant="acme",
                                 trust_on_first_use=True)
    assert bundle.anchor.keyid == A.keyid and bundle.anchor.version == 1
    again = TrustBundle.from_bytes(bundle.to_bytes())
    assert again == bundle and again.verify(NOW).version == 1
    newer = update_trust_bundle(again, DOC, now=NOW)
    assert newer.anchor.version == 2 and newer.verify(NOW).ring[B.keyid]
    with pytest.raises(KeyHistoryError) as info:
        update_trust_bundle(newer, first, now=NOW)
    assert info.value.code == "sceau.keyHistory.rollback"
    with pytest.raises(KeyHistoryError) as info:
        update_trust_bundle(newer, DOC, now=NOW + 2 * DAY)
    assert info.value.code == "sceau.keyHistory.expired"


def test_bundle_with_tampered_marks_is_refused() -> None:
    bundle = update_trust_bundle(None, DOC, now=NOW, tenant="acme", pin_root=ROOT.keyid)
    doc = loads(bundle.to_bytes())
    doc["version"] = 1
    with pytest.raises(KeyHistoryError):
        TrustBundle.from_bytes(canonicalize(doc)).verify(NOW)
    for broken in (b"{}", b"[]", canonicalize({**loads(bundle.to_bytes()), "pin": {}})):
        with pytest.raises(KeyHistoryError):
            TrustBundle.from_bytes(broken)


# -- robustness --------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_byte_mutations_never_verify(data: st.DataObject) -> None:
    """Any change to the document's bytes is rejected with a KeyHistoryError, unless it
    leaves the parsed document the same (it cannot, for canonical bytes: shown here)."""
    pos = data.draw(st.integers(0, len(DOC) - 1))
    op = data.draw(st.sampled_from(["flip", "delete", "insert"]))
    byte = data.draw(st.integers(0, 255))
    if op == "flip":
        if DOC[pos] == byte:
            return
        mutated = DOC[:pos] + bytes([byte]) + DOC[pos + 1:]
    elif op == "delete":
        mutated = DOC[:pos] + DOC[pos + 1:]
    else:
        mutated = DOC[:pos] + bytes([byte]) + DOC[pos:]
    try:
        verified = verify_key_history(mutated, PIN, now=NOW)
    except KeyHistoryError:
        return
    # Only whitespace between tokens can leave the meaning unchanged.
    assert canonicalize(loads(mutated)) == DOC
    assert verified.digest == statement_digest(V2)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_structural_mutations_never_verify(data: st.DataObject) -> None:
    doc = loads(_doc([E1, E2, sign_statement(
        V2.successor([rec(A, KeyStatus.RETIRED), rec(B, KeyStatus.RETIRED), rec(C)],
                     T0 + 2 * DAY), [B, C, ROOT], previous=V2)], signer=C))
    envs = doc["statements"]
    choice = data.draw(st.sampled_from(["drop", "swap", "duplicate", "tenant", "head",
                                        "signature", "payload"]))
    i = data.draw(st.integers(0, len(envs) - 1))
    if choice == "drop":
        del envs[i]
    elif choice == "swap":
        j = data.draw(st.integers(0, len(envs) - 1).filter(lambda j: j != i))
        envs[i], envs[j] = envs[j], envs[i]
    elif choice == "duplicate":
        envs.insert(i, envs[i])
    elif choice == "tenant":
        doc["tenant"] = "other"
    elif choice == "head":
        doc["head"] = envs[i]
    elif choice == "signature":
        envs[i]["signatures"] = envs[i]["signatures"][:-1]
    else:
        envs[i]["payload"] = b64url_encode(
            KeyStatement.from_payload(_payload(envs[i])).payload() + b" ")
    with pytest.raises(KeyHistoryError):
        verify_key_history(canonicalize(doc), PIN, now=NOW)


def _payload(obj: dict[str, Any]) -> bytes:
    return parse_envelope(canonicalize(obj)).payload


keys_strategy = st.lists(st.sampled_from([A, B, C]), min_size=1, max_size=3, unique=True)


@settings(max_examples=60, deadline=None)
@given(keys_strategy, st.integers(0, 2), st.booleans(), st.integers(0, 10**8))
def test_statement_round_trip(signers: list[LocalSigner], active: int, with_root: bool,
                              offset: int) -> None:
    active %= len(signers)
    keys = [rec(s, KeyStatus.ACTIVE if n == active else KeyStatus.RETIRED,
                compromised_since=T0 if n != active and offset % 2 else None)
            for n, s in enumerate(signers)]
    st1 = KeyStatement.first("acme", keys, T0 + timedelta(seconds=offset),
                             root=ROOT.public_key if with_root else None)
    env = sign_statement(st1, [signers[active], *([ROOT] if with_root else [])])
    assert read_statement(env) == st1
    doc = _doc([env], signer=signers[active], issued=st1.issued,
               expires=st1.issued + DAY)
    pin = TrustAnchor("acme", keyid=signers[active].keyid)
    verified = verify_key_history(doc, pin, now=st1.issued)
    assert verified.statement == st1


# -- the key-history test vectors (tests/vectors/keyhistory/) ----------------------------

VECTOR_FILES = sorted(VECTORS.glob("*.json"))


def test_there_are_vectors() -> None:
    names = {p.stem for p in VECTOR_FILES}
    assert any(n.startswith("valid-") for n in names)
    assert any(n.startswith("invalid-") for n in names)


def _anchor(doc: dict[str, Any]) -> TrustAnchor:
    a = doc["anchor"]
    return TrustAnchor(doc["tenant"], root_keyid=a.get("root"), keyid=a.get("key"),
                       version=a.get("version", 0),
                       digest=None if a.get("statement") is None
                       else b64url_decode(a["statement"]))


@pytest.mark.parametrize("path", VECTOR_FILES, ids=[p.stem for p in VECTOR_FILES])
def test_key_history_vector(path: Path) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["format"] == "sceau-key-history-vector/1"
    expected = doc["expected"]
    anchor = _anchor(doc)
    history = doc["history"].encode("utf-8")
    now = parse_time(doc["now"])
    if expected["ok"]:
        verified = verify_key_history(history, anchor, now=now)
        assert verified.version == expected["version"]
        assert verified.ring.to_jwks() == expected["keys"]
    else:
        with pytest.raises(KeyHistoryError) as info:
            verify_key_history(history, anchor, now=now)
        assert info.value.code == expected["code"]
    assert path.name.startswith("valid-" if expected["ok"] else "invalid-")


def test_key_history_vectors_are_reproducible() -> None:
    name = "sceau_test_vector_generator"
    gen = sys.modules.get(name)
    if gen is None:
        spec = importlib.util.spec_from_file_location(name, VECTORS.parent / "generate.py")
        assert spec is not None and spec.loader is not None
        gen = importlib.util.module_from_spec(spec)
        sys.modules[name] = gen  # dataclasses look their module up while building
        spec.loader.exec_module(gen)
    fresh = gen.build_key_history()
    on_disk = {f"keyhistory/{p.name}": p.read_bytes() for p in VECTOR_FILES}
    assert fresh == on_disk
    codes = {json.loads(b)["expected"].get("code") for b in fresh.values()}
    # Every history failure code has a vector.
    assert {c for c in codes if c} == {
        "sceau.keyHistory." + c for c in (
            "malformed", "tenantMismatch", "untrustedAnchor", "signatureMissing",
            "signatureInvalid", "chainBroken", "transitionInvalid", "rollback", "fork",
            "expired")}
