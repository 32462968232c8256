"""Offline verification of a seal: envelope + key ring + content digest -> verdict.

Pure (SPEC.md §7): no I/O, no clock; ``now`` is passed in.  The signature is checked over
the exact payload bytes before the payload is parsed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature

from sceau.canonical import canonicalize
from sceau.checkpoint import LogKey
from sceau.claim import Claim, ClaimError, HardBinding, read_claim
from sceau.envelope import CLAIM_PAYLOAD_TYPE, SIGNATURE_LEN, Envelope, pae, parse_envelope
from sceau.errors import SceauError
from sceau.keyring import KeyRecord, KeyRing, KeyStatus
from sceau.logproof import LogOutcome, check_log
from sceau.strictjson import loads
from sceau.timefmt import format_time

__all__ = [
    "CLOCK_SKEW",
    "ContentDigest",
    "Integrity",
    "KeyState",
    "SignatureState",
    "Status",
    "Verdict",
    "seal_id",
    "verify_seal",
]

#: How far in the future a signer's time may lie before the seal is rejected.
CLOCK_SKEW = timedelta(minutes=5)


class Status:
    """Status codes (SPEC.md §7.3).  C2PA's names where C2PA has one, ``sceau.*`` else."""

    # success / informational
    SIGNATURE_VALIDATED = "claimSignature.validated"
    CREDENTIAL_TRUSTED = "signingCredential.trusted"
    DATA_HASH_MATCH = "assertion.dataHash.match"
    CONTENT_NOT_CHECKED = "sceau.content.notChecked"
    TIME_SIGNER_ASSERTED = "sceau.time.signerAsserted"
    KEY_RETIRED = "sceau.key.retired"
    LOG_INCLUDED = "sceau.log.included"
    # failures
    ENVELOPE_MALFORMED = "sceau.envelope.malformed"
    PAYLOAD_TYPE_UNEXPECTED = "sceau.payloadType.unexpected"
    SIGNATURE_MISSING = "claimSignature.missing"
    SIGNATURE_MALFORMED = "claimSignature.malformed"
    SIGNATURE_MISMATCH = "claimSignature.mismatch"
    CREDENTIAL_UNKNOWN = "signingCredential.unknown"
    CREDENTIAL_UNTRUSTED = "signingCredential.untrusted"
    CREDENTIAL_REVOKED = "signingCredential.revoked"
    CREDENTIAL_EXPIRED = "signingCredential.expired"
    CREDENTIAL_INVALID = "signingCredential.invalid"
    CLAIM_MALFORMED = "claim.malformed"
    CLAIM_NOT_CANONICAL = "sceau.claim.notCanonical"
    CLAIM_SIGNER_MISMATCH = "sceau.claim.signerMismatch"
    TIME_IN_FUTURE = "sceau.time.inFuture"
    TIME_CREATED_AFTER_LOG = "sceau.time.createdAfterLog"
    LOG_MISSING = "sceau.log.missing"
    LOG_MALFORMED = "sceau.log.malformed"
    LOG_UNKNOWN_KEY = "sceau.log.unknownKey"
    LOG_CHECKPOINT_INVALID = "sceau.log.checkpointInvalid"
    LOG_PROOF_INVALID = "sceau.log.proofInvalid"
    DATA_HASH_MISMATCH = "assertion.dataHash.mismatch"

    SUCCESS = frozenset({SIGNATURE_VALIDATED, CREDENTIAL_TRUSTED, DATA_HASH_MATCH,
                         CONTENT_NOT_CHECKED, TIME_SIGNER_ASSERTED, KEY_RETIRED,
                         LOG_INCLUDED})


_LOG_CODES = {
    LogOutcome.INCLUDED: Status.LOG_INCLUDED,
    LogOutcome.MALFORMED: Status.LOG_MALFORMED,
    LogOutcome.UNKNOWN_KEY: Status.LOG_UNKNOWN_KEY,
    LogOutcome.CHECKPOINT_INVALID: Status.LOG_CHECKPOINT_INVALID,
    LogOutcome.PROOF_INVALID: Status.LOG_PROOF_INVALID,
}


class Integrity(StrEnum):
    """Does the content match the seal's hard binding?"""

    MATCH = "match"
    MISMATCH = "mismatch"
    NOT_CHECKED = "not_checked"


class SignatureState(StrEnum):
    """State of the envelope's signature."""

    VALID = "valid"
    INVALID = "invalid"
    MALFORMED = "malformed"
    NOT_CHECKED = "not_checked"


class KeyState(StrEnum):
    """The signing key's status at the seal's time."""

    ACTIVE = "active"
    RETIRED = "retired"
    REVOKED = "revoked"
    EXPIRED = "expired"
    PENDING = "pending"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ContentDigest:
    """What the verifier computed over the content (SPEC.md §4.4, §4.5).

    ``digest`` is over the file's bytes outside ``exclusions`` (the ranges the verifier
    itself left out: where it found an embedded seal, §6.3), and ``size`` is the whole
    file's.  With ``chunk_size`` set, ``digest`` is the Merkle root of the chunked binding
    and ``chunks`` may hold the leaf hashes, so that a mismatch can name the damaged
    chunks.
    """

    alg: str
    digest: bytes
    size: int
    exclusions: tuple[tuple[int, int], ...] = ()
    chunk_size: int | None = None
    chunks: tuple[bytes, ...] | None = None


@dataclass(frozen=True)
class Verdict:
    """The result of verifying one seal: separate axes plus every status code."""

    status_codes: tuple[str, ...]
    signature: SignatureState
    integrity: Integrity
    key_state: KeyState
    keyid: str | None = None
    tenant: str | None = None
    signer_trusted: bool = False
    signer_time: datetime | None = None
    trusted_time: datetime | None = None
    seal_id: str | None = None
    claim: Claim | None = field(default=None, repr=False)
    #: Where the log proof put the seal (SPEC.md §6.1): the log's origin, the tree size of
    #: the checkpoint that includes it and its leaf index.  None without a verified proof.
    log_origin: str | None = None
    log_size: int | None = None
    log_index: int | None = None
    #: Chunked bindings only: indexes of the chunks whose hashes differ (SPEC.md §4.5).
    damaged_chunks: tuple[int, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no failure code was raised (content may be unchecked; see integrity)."""
        return all(code in Status.SUCCESS for code in self.status_codes)

    @property
    def failures(self) -> tuple[str, ...]:
        """The failure codes, in the order they were found."""
        return tuple(c for c in self.status_codes if c not in Status.SUCCESS)

    def to_json(self) -> dict[str, Any]:
        """JSON form used by the CLI and the service (SPEC.md §7.4)."""
        claim = self.claim
        signer_time, trusted_time = self.signer_time, self.trusted_time
        doc: dict[str, Any] = {
            "ok": self.ok,
            "seal_id": self.seal_id,
            "status_codes": list(self.status_codes),
            "signature": self.signature.value,
            "integrity": self.integrity.value,
            "signer": {
                "keyid": self.keyid,
                "tenant": self.tenant,
                "trusted": self.signer_trusted,
                "key_status": self.key_state.value,
            },
            "time": {
                "signer_time": None if signer_time is None else format_time(signer_time),
                "trusted_time": None if trusted_time is None else format_time(trusted_time),
                "attested": trusted_time is not None,
            },
            "log": None if self.log_index is None else {
                "origin": self.log_origin, "index": self.log_index,
                "tree_size": self.log_size},
            "claim": None if claim is None else dict(claim.raw),
        }
        if (claim is not None and claim.binding.chunk_size is not None
                and self.integrity is not Integrity.NOT_CHECKED):
            doc["damaged_chunks"] = list(self.damaged_chunks)
        return doc


def seal_id(envelope: Envelope) -> str:
    """A seal's id: lowercase hex SHA-256 of its payload bytes (SPEC.md §3.4)."""
    return hashlib.sha256(envelope.payload).hexdigest()


def _key_state(record: KeyRecord, at: datetime) -> tuple[KeyState, str | None]:
    if record.compromised_since is not None and at >= record.compromised_since:
        return KeyState.REVOKED, Status.CREDENTIAL_REVOKED
    if record.status is KeyStatus.PENDING:
        return KeyState.PENDING, Status.CREDENTIAL_INVALID
    if ((record.not_before is not None and at < record.not_before)
            or (record.not_after is not None and at > record.not_after)):
        return KeyState.EXPIRED, Status.CREDENTIAL_EXPIRED
    if record.status is KeyStatus.RETIRED:
        return KeyState.RETIRED, Status.KEY_RETIRED
    if record.status is KeyStatus.REVOKED:
        if record.compromised_since is None:
            # Revoked with no compromise time given: nothing it signed is trusted.
            return KeyState.REVOKED, Status.CREDENTIAL_REVOKED
        # Revoked, but compromised only after this seal's time (checked above): what it
        # signed before stays valid, as for a retired key (SPEC.md §7.2 row 6).
        return KeyState.RETIRED, Status.KEY_RETIRED
    return KeyState.ACTIVE, None


def _fail(code: str, signature: SignatureState, **kw: Any) -> Verdict:
    # Once the signature has verified, the codes say so before naming the failure.
    codes = (Status.SIGNATURE_VALIDATED, code) if signature is SignatureState.VALID else (code,)
    return Verdict(status_codes=codes, signature=signature,
                   integrity=Integrity.NOT_CHECKED, key_state=kw.pop("key_state", KeyState.UNKNOWN),
                   **kw)


def verify_seal(
    seal: bytes | str | Envelope,
    keys: KeyRing,
    *,
    now: datetime,
    content: ContentDigest | None = None,
    log_keys: Sequence[LogKey] | None = None,
    require_log: bool = False,
) -> Verdict:
    """Verify one seal offline, following SPEC.md §7 step by step.

    Never raises for a bad seal: every outcome is a :class:`Verdict` whose
    ``status_codes`` say what was found.  ``now`` bounds the seal's time (clock skew).

    ``log_keys`` are the transparency logs' keys the verifier trusts (SPEC.md §6.1).
    Without them the envelope's ``log`` member is ignored, as in v1.0.  With them a
    ``log`` member is checked, and when it proves the seal's inclusion the log's signed
    time becomes the seal's trusted time, which then decides the key status.
    ``require_log`` makes a seal without a ``log`` member fail (``sceau.log.missing``):
    a seal made outside the signing service, e.g. with a stolen key, has none.
    """
    if require_log and not log_keys:
        raise ValueError("require_log needs the log's keys (log_keys)")
    # §7.1 step 1-2: the envelope's outer structure.
    if isinstance(seal, Envelope):
        envelope = seal
    else:
        try:
            envelope = parse_envelope(seal)
        except SceauError:
            return _fail(Status.ENVELOPE_MALFORMED, SignatureState.NOT_CHECKED)
    sid = seal_id(envelope)
    if envelope.payload_type != CLAIM_PAYLOAD_TYPE:
        return _fail(Status.PAYLOAD_TYPE_UNEXPECTED, SignatureState.NOT_CHECKED, seal_id=sid)
    # step 3: exactly one signature in v1.
    if not envelope.signatures:
        return _fail(Status.SIGNATURE_MISSING, SignatureState.MALFORMED, seal_id=sid)
    if len(envelope.signatures) != 1:
        return _fail(Status.SIGNATURE_MALFORMED, SignatureState.MALFORMED, seal_id=sid)
    signature = envelope.signatures[0]
    if len(signature.sig) != SIGNATURE_LEN:
        return _fail(Status.SIGNATURE_MALFORMED, SignatureState.MALFORMED, seal_id=sid,
                     keyid=signature.keyid)
    # step 4: the key, from the verifier's own ring; never from the seal.
    record = keys.get(signature.keyid)
    if record is None:
        return _fail(Status.CREDENTIAL_UNKNOWN, SignatureState.NOT_CHECKED, seal_id=sid,
                     keyid=signature.keyid)
    # step 5: the signature over PAE(payloadType, payload), before any parsing.
    try:
        record.verifier().verify(signature.sig, pae(envelope.payload_type, envelope.payload))
    except InvalidSignature:
        return _fail(Status.SIGNATURE_MISMATCH, SignatureState.INVALID, seal_id=sid,
                     keyid=signature.keyid, tenant=record.tenant)
    codes = [Status.SIGNATURE_VALIDATED]
    common: dict[str, Any] = {"seal_id": sid, "keyid": signature.keyid, "tenant": record.tenant}
    # step 6: now the payload may be parsed: strict profile, canonical, valid claim.
    try:
        obj = loads(envelope.payload)
        if canonicalize(obj) != envelope.payload:
            return _fail(Status.CLAIM_NOT_CANONICAL, SignatureState.VALID, **common)
        claim = read_claim(obj)
    except ClaimError as exc:
        return _fail(exc.status, SignatureState.VALID, **common)
    except SceauError:
        return _fail(Status.CLAIM_MALFORMED, SignatureState.VALID, **common)
    common["claim"] = claim
    common["signer_time"] = claim.created
    # step 7: the claim names the key that signed it and the key's tenant.
    if claim.keyid != signature.keyid or claim.tenant != record.tenant:
        return _fail(Status.CLAIM_SIGNER_MISMATCH, SignatureState.VALID, **common)
    # step 8: the transparency log, when the verifier knows a log (SPEC.md §6.1).
    trusted_time: datetime | None = None
    if log_keys:
        if envelope.log is None:
            if require_log:
                codes.append(Status.LOG_MISSING)
        else:
            check = check_log(envelope.log, sid, log_keys)
            codes.append(_LOG_CODES[check.outcome])
            if check.checkpoint is not None:
                trusted_time = check.checkpoint.time
                common["trusted_time"] = trusted_time
                common["log_origin"] = check.checkpoint.checkpoint.origin
                common["log_size"] = check.checkpoint.checkpoint.size
                common["log_index"] = envelope.log["index"]
    # step 9: trust, time and key status at the seal's time: the log's time when step 8
    # proved the seal's inclusion, the signer's own time otherwise.
    trusted = keys.is_trusted(record.tenant)
    codes.append(Status.CREDENTIAL_TRUSTED if trusted else Status.CREDENTIAL_UNTRUSTED)
    if trusted_time is None:
        at = claim.created
        codes.append(Status.TIME_SIGNER_ASSERTED)
    else:
        at = trusted_time
    if at > now + CLOCK_SKEW:
        codes.append(Status.TIME_IN_FUTURE)
    if trusted_time is not None and claim.created > trusted_time + CLOCK_SKEW:
        codes.append(Status.TIME_CREATED_AFTER_LOG)
    key_state, key_code = _key_state(record, at)
    if key_code is not None:
        codes.append(key_code)
    # step 10: content against the hard binding.
    integrity = Integrity.NOT_CHECKED
    damaged: tuple[int, ...] = ()
    if content is None:
        codes.append(Status.CONTENT_NOT_CHECKED)
    elif _content_matches(content, claim.binding):
        integrity = Integrity.MATCH
        codes.append(Status.DATA_HASH_MATCH)
    else:
        integrity = Integrity.MISMATCH
        codes.append(Status.DATA_HASH_MISMATCH)
        damaged = _damaged_chunks(content, claim.binding)
    return Verdict(status_codes=tuple(codes), signature=SignatureState.VALID,
                   integrity=integrity, key_state=key_state, signer_trusted=trusted,
                   damaged_chunks=damaged, **common)


def _content_matches(content: ContentDigest, binding: HardBinding) -> bool:
    """SPEC.md §7.1 step 10: same algorithm, size, excluded ranges, kind of binding (and
    chunk size), and digest (or Merkle root)."""
    return (content.alg == binding.alg and content.size == binding.size
            and content.exclusions == binding.exclusions
            and content.chunk_size == binding.chunk_size
            and content.digest == binding.digest)


def _damaged_chunks(content: ContentDigest, binding: HardBinding) -> tuple[int, ...]:
    """Which chunks differ, when both sides have leaf hashes over the same layout."""
    if (binding.chunk_size is None or content.chunks is None
            or content.chunk_size != binding.chunk_size or content.size != binding.size
            or content.exclusions != binding.exclusions):
        return ()
    ours, theirs = content.chunks, binding.chunks
    return tuple(i for i in range(max(len(ours), len(theirs)))
                 if i >= len(ours) or i >= len(theirs) or ours[i] != theirs[i])

