"""Key rotation, table-driven in the style of python-tuf's metadata tests: each row builds
one scenario (a tenant's signed key history, a trust anchor, a seal, the verifier's time)
and states the verdict it must get: ok or not, the signer's key status, and the status code
that decides it (SPEC.md §6.2, §7.2, §7.3)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sceau import errors
from sceau.canonical import canonicalize
from sceau.checkpoint import Checkpoint, LogKey, LogSigner, sign_checkpoint
from sceau.claim import build_claim
from sceau.envelope import (
    KEY_STATEMENT_PAYLOAD_TYPE,
    Envelope,
    Signature,
    pae,
    parse_envelope,
    seal_claim,
)
from sceau.keyhistory import (
    KeyStatement,
    TrustAnchor,
    build_history_document,
    read_statement,
    sign_history_head,
    sign_statement,
    statement_digest,
    verify_key_history,
    verify_seal_with_history,
)
from sceau.keyring import KeyRecord, KeyStatus
from sceau.local import LocalSigner
from sceau.logproof import LogProof, attach_log, seal_leaf_hash
from sceau.merkle import tree_root
from sceau.strictjson import loads
from sceau.verify import Status, Verdict, seal_id

TENANT = "acme"
T0 = datetime(2026, 1, 1, tzinfo=UTC)       # version 1: key A
T_ROTATE = datetime(2026, 2, 1, tzinfo=UTC)  # version 2: A retired, B active
T_REVOKE = datetime(2026, 2, 20, tzinfo=UTC)  # version 3 (when a row revokes A)
SEALED_BY_A = datetime(2026, 1, 15, tzinfo=UTC)
SEALED_BY_B = datetime(2026, 2, 15, tzinfo=UTC)
NOW = datetime(2026, 3, 1, tzinfo=UTC)
EXPIRES = NOW + timedelta(days=1)
LOG_ORIGIN = "log.example/rotation-table"


def _signer(label: str) -> LocalSigner:
    """Fixed test keys, so that a failing row reads the same on every run."""
    return LocalSigner.from_seed(hashlib.sha256(f"rotation table {label}".encode()).digest())


A, B, C, ROOT, OTHER_ROOT, STRANGER = (_signer(n) for n in
                                       ("A", "B", "C", "root", "other-root", "stranger"))
OTHER = _signer("other-tenant")
LOG = _signer("log")
LOG_SIGNER = LogSigner(LOG_ORIGIN, LOG.public_key, LOG.sign)


def rec(signer: LocalSigner, status: KeyStatus = KeyStatus.ACTIVE, tenant: str = TENANT,
        **kw: Any) -> KeyRecord:
    return KeyRecord(signer.public_key, tenant, status, **kw)


def raw_sign(statement: KeyStatement, signers: Sequence[LocalSigner]) -> bytes:
    """A statement envelope signed by exactly ``signers``, bypassing the builder's rules
    (to make the histories an attacker or a buggy registry would serve)."""
    payload = statement.payload()
    message = pae(KEY_STATEMENT_PAYLOAD_TYPE, payload)
    return Envelope(KEY_STATEMENT_PAYLOAD_TYPE, payload,
                    tuple(Signature(s.keyid, s.sign(message)) for s in signers)).to_bytes()


def document(envelopes: list[bytes], *, head_signer: LocalSigner | None = None,
             issued: datetime = NOW - timedelta(hours=1),
             expires: datetime = EXPIRES) -> bytes:
    head = sign_history_head(tenant=read_statement(envelopes[-1]).tenant,
                             statement=envelopes[-1], issued=issued, expires=expires,
                             signer=head_signer or _active_signer(envelopes[-1]))
    return build_history_document(envelopes, head)


def _active_signer(envelope: bytes) -> LocalSigner:
    active = read_statement(envelope).active.keyid
    return next(s for s in (A, B, C, OTHER) if s.keyid == active)


# The common history: v1 (A, root), v2 (A retired, B active), signed by the builder.
V1 = KeyStatement.first(TENANT, [rec(A)], T0, root=ROOT.public_key)
E1 = sign_statement(V1, [A, ROOT])
V2 = V1.successor([rec(A, KeyStatus.RETIRED), rec(B)], T_ROTATE)
E2 = sign_statement(V2, [A, B, ROOT], previous=V1)
PIN_ROOT = TrustAnchor(TENANT, root_keyid=ROOT.keyid)


def revoke_a(compromised_since: datetime | None) -> tuple[KeyStatement, bytes]:
    """Version 3: A revoked (with a compromise time), signed by B (active) and the root."""
    v3 = V2.successor([rec(A, KeyStatus.REVOKED, compromised_since=compromised_since),
                       rec(B)], T_REVOKE)
    return v3, sign_statement(v3, [B, ROOT], previous=V2)


def seal(signer: LocalSigner, created: datetime, tenant: str = TENANT) -> bytes:
    obj = build_claim(sha256=hashlib.sha256(b"photo").digest(), size=5,
                      media_type="image/jpeg", tenant=tenant, keyid=signer.keyid,
                      created=created)
    return seal_claim(obj, signer).to_bytes()


def logged(envelope: bytes, when: datetime) -> bytes:
    """The seal with a log proof: the only entry of a one-entry log checkpointed at
    ``when`` (the trusted time, SPEC.md §6.1)."""
    sid = bytes.fromhex(seal_id(parse_envelope(envelope)))
    root = tree_root([seal_leaf_hash(sid)])
    note = sign_checkpoint(Checkpoint(LOG_ORIGIN, 1, root), LOG_SIGNER, int(when.timestamp()))
    return attach_log(envelope, LogProof(0, (), note))


@dataclass(frozen=True)
class Scenario:
    history: bytes
    anchor: TrustAnchor
    seal: bytes
    now: datetime = NOW
    log_keys: tuple[LogKey, ...] = ()


def rotate() -> Scenario:
    return Scenario(document([E1, E2]), PIN_ROOT, seal(B, SEALED_BY_B))


def retired_key() -> Scenario:
    return Scenario(document([E1, E2]), PIN_ROOT, seal(A, SEALED_BY_A))


def retired_key_after_retirement() -> Scenario:
    # A retired key stays valid for what it signed, by its status alone (SPEC.md §7.2
    # row 4): a seal dated after retirement is what not_after (or revocation) is for.
    return Scenario(document([E1, E2]), PIN_ROOT, seal(A, SEALED_BY_B))


def revoked_before_seal() -> Scenario:
    _, e3 = revoke_a(SEALED_BY_A - timedelta(days=5))
    return Scenario(document([E1, E2, e3]), PIN_ROOT, seal(A, SEALED_BY_A))


def revoked_after_seal() -> Scenario:
    _, e3 = revoke_a(SEALED_BY_A + timedelta(days=5))
    return Scenario(document([E1, E2, e3]), PIN_ROOT, seal(A, SEALED_BY_A))


def revoked_no_time() -> Scenario:
    _, e3 = revoke_a(None)
    return Scenario(document([E1, E2, e3]), PIN_ROOT, seal(A, SEALED_BY_A))


def backdated_seal_log_time_after_compromise() -> Scenario:
    # The thief writes created = before the compromise; the log saw the seal after it.
    _, e3 = revoke_a(SEALED_BY_A + timedelta(days=5))
    logged_seal = logged(seal(A, SEALED_BY_A), SEALED_BY_A + timedelta(days=6))
    return Scenario(document([E1, E2, e3]), PIN_ROOT, logged_seal,
                    log_keys=(LOG_SIGNER.key,))


def logged_before_compromise() -> Scenario:
    _, e3 = revoke_a(SEALED_BY_A + timedelta(days=5))
    logged_seal = logged(seal(A, SEALED_BY_A), SEALED_BY_A + timedelta(hours=1))
    return Scenario(document([E1, E2, e3]), PIN_ROOT, logged_seal,
                    log_keys=(LOG_SIGNER.key,))


def expired_history() -> Scenario:
    return Scenario(document([E1, E2]), PIN_ROOT, seal(B, SEALED_BY_B), now=EXPIRES)


def rollback_attempt() -> Scenario:
    # The verifier has already seen version 3; the server (or a mirror) serves version 2.
    v3, _ = revoke_a(SEALED_BY_A - timedelta(days=5))
    seen = TrustAnchor(TENANT, root_keyid=ROOT.keyid, version=3,
                       digest=statement_digest(v3))
    return Scenario(document([E1, E2]), seen, seal(A, SEALED_BY_A))


def fork() -> Scenario:
    # Version 2 already seen is another statement than the one served now.
    other_v2 = V1.successor([rec(A, KeyStatus.RETIRED), rec(C)], T_ROTATE)
    seen = TrustAnchor(TENANT, root_keyid=ROOT.keyid, version=2,
                       digest=statement_digest(other_v2))
    return Scenario(document([E1, E2]), seen, seal(B, SEALED_BY_B))


def missing_outgoing_signature() -> Scenario:
    return Scenario(document([E1, raw_sign(V2, [B, ROOT])]), PIN_ROOT, seal(B, SEALED_BY_B))


def missing_incoming_signature() -> Scenario:
    return Scenario(document([E1, raw_sign(V2, [A, ROOT])]), PIN_ROOT, seal(B, SEALED_BY_B))


def missing_root_signature() -> Scenario:
    return Scenario(document([E1, raw_sign(V2, [A, B])]), PIN_ROOT, seal(B, SEALED_BY_B))


def rotation_without_root_by_one_key() -> Scenario:
    # No root: the outgoing and incoming keys are the "two signatures"; one is missing.
    v1 = KeyStatement.first(TENANT, [rec(A)], T0)
    v2 = v1.successor([rec(A, KeyStatus.RETIRED), rec(B)], T_ROTATE)
    pin = TrustAnchor(TENANT, keyid=A.keyid)
    return Scenario(document([sign_statement(v1, [A]), raw_sign(v2, [B])]), pin,
                    seal(B, SEALED_BY_B))


def forged_signature() -> Scenario:
    env = Envelope(KEY_STATEMENT_PAYLOAD_TYPE, V2.payload(), (
        Signature(A.keyid, A.sign(b"something else")),
        *(Signature(s.keyid, s.sign(pae(KEY_STATEMENT_PAYLOAD_TYPE, V2.payload())))
          for s in (B, ROOT))))
    return Scenario(document([E1, env.to_bytes()]), PIN_ROOT, seal(B, SEALED_BY_B))


def stranger_adds_itself() -> Scenario:
    # An attacker with no key of the tenant appends a statement activating its own key.
    v3 = V2.successor([rec(A, KeyStatus.RETIRED), rec(B, KeyStatus.RETIRED), rec(STRANGER)],
                      T_REVOKE)
    return Scenario(document([E1, E2, raw_sign(v3, [STRANGER])], head_signer=STRANGER),
                    PIN_ROOT, seal(STRANGER, T_REVOKE))


def emergency_root_and_new_key() -> Scenario:
    # A stolen: the root and the new key C revoke it without A's signature (§6.2.3 rule 4).
    v3 = V2.successor([rec(A, KeyStatus.RETIRED), rec(B, KeyStatus.REVOKED,
                                                      compromised_since=T_REVOKE), rec(C)],
                      T_REVOKE)
    e3 = sign_statement(v3, [C, ROOT], previous=V2)
    return Scenario(document([E1, E2, e3]), PIN_ROOT, seal(C, NOW - timedelta(days=1)))


def emergency_seal_by_stolen_key() -> Scenario:
    s = emergency_root_and_new_key()
    return replace(s, seal=seal(B, T_REVOKE + timedelta(days=1)))


def revoked_key_comes_back() -> Scenario:
    v3, e3 = revoke_a(None)
    v4 = v3.successor([rec(A, KeyStatus.RETIRED), rec(B)], NOW - timedelta(days=2))
    return Scenario(document([E1, E2, e3, raw_sign(v4, [B, ROOT])]), PIN_ROOT,
                    seal(B, SEALED_BY_B))


def unknown_key() -> Scenario:
    return Scenario(document([E1, E2]), PIN_ROOT, seal(STRANGER, SEALED_BY_B))


def _other_history() -> bytes:
    v1 = KeyStatement.first("other", [rec(OTHER, tenant="other")], T0)
    return document([sign_statement(v1, [OTHER])])


def key_of_another_tenant() -> Scenario:
    # A seal by another tenant's (valid, published) key: not in acme's ring.
    return Scenario(document([E1, E2]), PIN_ROOT, seal(OTHER, SEALED_BY_B, tenant="other"))


def history_of_another_tenant() -> Scenario:
    # The other tenant's history, served for acme.
    return Scenario(_other_history(), PIN_ROOT, seal(OTHER, SEALED_BY_B, tenant="other"))


def wrong_pinned_root() -> Scenario:
    return Scenario(document([E1, E2]), TrustAnchor(TENANT, root_keyid=OTHER_ROOT.keyid),
                    seal(B, SEALED_BY_B))


def pinned_first_key() -> Scenario:
    return Scenario(document([E1, E2]), TrustAnchor(TENANT, keyid=A.keyid),
                    seal(B, SEALED_BY_B))


def broken_chain() -> Scenario:
    v2 = replace(V2, previous=hashlib.sha256(b"not version 1").digest())
    return Scenario(document([E1, raw_sign(v2, [A, B, ROOT])]), PIN_ROOT,
                    seal(B, SEALED_BY_B))


def pending_key_seals() -> Scenario:
    v3 = V2.successor([rec(A, KeyStatus.RETIRED), rec(B), rec(C, KeyStatus.PENDING)],
                      T_REVOKE)
    e3 = sign_statement(v3, [B, ROOT], previous=V2)
    return Scenario(document([E1, E2, e3]), PIN_ROOT, seal(C, NOW - timedelta(days=1)))


OK, FAIL = True, False
KH = "sceau.keyHistory."
# (scenario, ok, key_status, the deciding code (None: an ok verdict by an active key)).
TABLE: list[tuple[Callable[[], Scenario], bool, str, str | None]] = [
    (rotate, OK, "active", None),
    (pinned_first_key, OK, "active", None),
    (retired_key, OK, "retired", Status.KEY_RETIRED),
    (retired_key_after_retirement, OK, "retired", Status.KEY_RETIRED),
    (revoked_before_seal, FAIL, "revoked", Status.CREDENTIAL_REVOKED),
    (revoked_after_seal, OK, "retired", Status.KEY_RETIRED),
    (revoked_no_time, FAIL, "revoked", Status.CREDENTIAL_REVOKED),
    (backdated_seal_log_time_after_compromise, FAIL, "revoked", Status.CREDENTIAL_REVOKED),
    (logged_before_compromise, OK, "retired", Status.KEY_RETIRED),
    (pending_key_seals, FAIL, "pending", Status.CREDENTIAL_INVALID),
    (emergency_root_and_new_key, OK, "active", None),
    (emergency_seal_by_stolen_key, FAIL, "revoked", Status.CREDENTIAL_REVOKED),
    (expired_history, FAIL, "unknown", KH + "expired"),
    (rollback_attempt, FAIL, "unknown", KH + "rollback"),
    (fork, FAIL, "unknown", KH + "fork"),
    (missing_outgoing_signature, FAIL, "unknown", KH + "signatureMissing"),
    (missing_incoming_signature, FAIL, "unknown", KH + "signatureMissing"),
    (missing_root_signature, FAIL, "unknown", KH + "signatureMissing"),
    (rotation_without_root_by_one_key, FAIL, "unknown", KH + "signatureMissing"),
    (forged_signature, FAIL, "unknown", KH + "signatureInvalid"),
    (stranger_adds_itself, FAIL, "unknown", KH + "signatureMissing"),
    (revoked_key_comes_back, FAIL, "unknown", KH + "transitionInvalid"),
    (broken_chain, FAIL, "unknown", KH + "chainBroken"),
    (wrong_pinned_root, FAIL, "unknown", KH + "untrustedAnchor"),
    (unknown_key, FAIL, "unknown", Status.CREDENTIAL_UNKNOWN),
    (key_of_another_tenant, FAIL, "unknown", Status.CREDENTIAL_UNKNOWN),
    (history_of_another_tenant, FAIL, "unknown", KH + "tenantMismatch"),
]


def _verdict(s: Scenario) -> Verdict:
    return verify_seal_with_history(s.seal, s.history, s.anchor, now=s.now,
                                    log_keys=list(s.log_keys) or None)


@pytest.mark.parametrize(("build", "ok", "key_status", "code"), TABLE,
                         ids=[row[0].__name__ for row in TABLE])
def test_rotation_table(build: Callable[[], Scenario], ok: bool, key_status: str,
                        code: str | None) -> None:
    scenario = build()
    verdict = _verdict(scenario)
    doc = verdict.to_json()
    assert verdict.ok is ok, verdict.status_codes
    assert doc["signer"]["key_status"] == key_status
    if code is None:
        assert verdict.failures == ()
        assert Status.KEY_RETIRED not in verdict.status_codes
    else:
        assert code in verdict.status_codes
        if not ok:
            assert verdict.failures[0] == code
    if code is not None and code.startswith(KH):
        # A history that fails is the verdict's only code, never an exception.
        assert verdict.status_codes == (code,)
        assert doc["signature"] == "not_checked"
        with pytest.raises(Exception) as info:
            verify_key_history(scenario.history, scenario.anchor, now=scenario.now)
        assert getattr(info.value, "code", None) == code
        assert getattr(info.value, "http_status", None) == 422
    else:
        assert doc["signature"] == "valid" or code == Status.CREDENTIAL_UNKNOWN


@pytest.mark.parametrize("build", [backdated_seal_log_time_after_compromise,
                                   logged_before_compromise])
def test_trusted_time_comes_from_the_log(build: Callable[[], Scenario]) -> None:
    s = build()
    verdict = _verdict(s)
    assert Status.LOG_INCLUDED in verdict.status_codes
    assert verdict.to_json()["time"]["attested"] is True
    # Without the log's keys the signer's (backdated) time decides: the thief's seal passes
    # and the verdict says its time is not attested, which is why require_log exists.
    plain = verify_seal_with_history(s.seal, s.history, s.anchor, now=s.now)
    assert plain.ok
    assert Status.TIME_SIGNER_ASSERTED in plain.status_codes
    assert plain.to_json()["time"]["attested"] is False


def test_table_covers_every_history_code() -> None:
    codes = {cls.code for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, errors.KeyHistoryError)}
    covered = {row[3] for row in TABLE}
    # malformed is the parser's (test_keyhistory.py feeds it broken documents).
    assert codes - covered == {KH + "malformed"}


def test_rows_are_canonical_documents() -> None:
    s = rotate()
    assert canonicalize(loads(s.history)) == s.history
