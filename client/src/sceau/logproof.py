"""The envelope's ``log`` member: a seal's inclusion proof in the transparency log.

Pure: no I/O.  Every seal the service issues is an entry of an append-only Merkle log
(RFC 9162 hashing, :mod:`sceau.merkle`).  The entry of a seal is the 50 bytes::

    "sceau-log-leaf-v1" 0x0A || seal id (the 32 bytes of SHA-256(payload))

(SPEC.md §6.1), so a leaf names exactly one signed payload and nothing else can pass for
it.  The envelope carries ``{"checkpoint", "index", "proof"}``: a signed checkpoint
(:mod:`sceau.checkpoint`) of a tree that holds the seal, the seal's leaf index, and the
RFC 9162 inclusion proof from that leaf to the checkpoint's root.  The member is outside
the envelope's signature: it authenticates itself through the log's signature and the
proof, and the seal id it proves does not depend on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sceau.canonical import canonicalize
from sceau.checkpoint import (
    MAX_NOTE_BYTES,
    CheckpointError,
    LogKey,
    SignedCheckpoint,
    UnknownLogKeyError,
    open_checkpoint,
)
from sceau.encoding import b64url_decode, b64url_encode, hex_decode
from sceau.merkle import HASH_SIZE, MAX_TREE_SIZE, ProofError, leaf_hash, verify_inclusion

__all__ = [
    "LEAF_PREFIX",
    "MAX_PROOF_HASHES",
    "LogCheck",
    "LogOutcome",
    "LogProof",
    "LogProofError",
    "attach_log",
    "attach_logs",
    "check_log",
    "seal_leaf",
    "seal_leaf_hash",
]

#: Domain separation of log entries that are seals (SPEC.md §6.1).
LEAF_PREFIX = b"sceau-log-leaf-v1\n"
#: Longest inclusion proof accepted: a tree of at most 2**53 - 1 leaves needs 53 hashes.
MAX_PROOF_HASHES = 64
_MEMBERS = frozenset({"checkpoint", "index", "proof"})


class LogProofError(ValueError):
    """The ``log`` member does not have the shape SPEC.md §6.1 defines."""


def _seal_id_bytes(seal_id: str | bytes) -> bytes:
    raw = seal_id if isinstance(seal_id, bytes) else hex_decode(seal_id, HASH_SIZE)
    if len(raw) != HASH_SIZE:
        raise ValueError("a seal id is 32 bytes (64 lowercase hex digits)")
    return raw


def seal_leaf(seal_id: str | bytes) -> bytes:
    """The log entry of a seal: ``LEAF_PREFIX || seal id`` (50 bytes)."""
    return LEAF_PREFIX + _seal_id_bytes(seal_id)


def seal_leaf_hash(seal_id: str | bytes) -> bytes:
    """``SHA-256(0x00 || seal_leaf(seal_id))``: the seal's leaf hash (RFC 9162 §2.1.1)."""
    return leaf_hash(seal_leaf(seal_id))


@dataclass(frozen=True, slots=True)
class LogProof:
    """The ``log`` member: where the seal is in the log, and the proof of it."""

    index: int
    proof: tuple[bytes, ...]
    checkpoint: str

    def to_json(self) -> dict[str, Any]:
        """The member as JSON (SPEC.md §6.1); proof hashes in base64url."""
        return {"checkpoint": self.checkpoint, "index": self.index,
                "proof": [b64url_encode(h) for h in self.proof]}

    @classmethod
    def from_json(cls, value: Any) -> LogProof:
        """Read the member strictly; raise :class:`LogProofError` on any other shape."""
        if not isinstance(value, Mapping) or set(value) != _MEMBERS:
            raise LogProofError("'log' is exactly {checkpoint, index, proof}")
        index, proof, checkpoint = value["index"], value["proof"], value["checkpoint"]
        if (isinstance(index, bool) or not isinstance(index, int)
                or not 0 <= index < MAX_TREE_SIZE):
            raise LogProofError("'log.index' must be an integer in [0, 2**53 - 2]")
        if not isinstance(proof, list) or len(proof) > MAX_PROOF_HASHES:
            raise LogProofError(f"'log.proof' is an array of at most {MAX_PROOF_HASHES} "
                                "hashes")
        hashes = []
        for item in proof:
            try:
                h = b64url_decode(item, max_len=HASH_SIZE)
            except ValueError as exc:
                raise LogProofError(f"'log.proof': {exc}") from None
            if len(h) != HASH_SIZE:
                raise LogProofError(f"'log.proof' hashes are {HASH_SIZE} bytes")
            hashes.append(h)
        if (not isinstance(checkpoint, str) or not checkpoint
                or len(checkpoint) > MAX_NOTE_BYTES):
            raise LogProofError(f"'log.checkpoint' is a signed note of at most "
                                f"{MAX_NOTE_BYTES} bytes")
        return cls(index, tuple(hashes), checkpoint)


def attach_log(envelope: bytes, log: LogProof) -> bytes:
    """The canonical envelope bytes with ``log`` set, from canonical bytes without it.

    Writers emit canonical envelopes (SPEC.md §3.1), whose members sort as
    ``keyHistory, log, payload, ...``: without ``keyHistory`` the ``log`` member goes
    first, which is spliced in without re-serialising the payload.
    """
    member = canonicalize(log.to_json())
    if envelope.startswith(b'{"payload":'):
        return b'{"log":' + member + b"," + envelope[1:]
    from sceau.envelope import parse_envelope  # noqa: PLC0415 (general case, rare)

    parsed = parse_envelope(envelope)
    doc = parsed.to_json()
    doc["log"] = log.to_json()
    return canonicalize(doc)


def attach_logs(envelopes: Sequence[bytes], first_index: int,
                proofs: Sequence[Sequence[bytes]], checkpoint: str) -> list[bytes]:
    """:func:`attach_log` for a batch: envelope ``i`` gets index ``first_index + i``,
    ``proofs[i]`` and the batch's ``checkpoint``.  Same bytes, built faster: the
    checkpoint's JSON string is encoded once and each distinct proof hash once (the hashes
    high in the tree are shared by most of a batch's proofs)."""
    if len(envelopes) != len(proofs):
        raise ValueError("one proof per envelope")
    head = b'{"log":{"checkpoint":' + canonicalize(checkpoint) + b',"index":'
    encoded: dict[bytes, bytes] = {}
    out = []
    for i, (envelope, proof) in enumerate(zip(envelopes, proofs, strict=True)):
        if not envelope.startswith(b'{"payload":'):
            out.append(attach_log(envelope, LogProof(first_index + i, tuple(proof),
                                                     checkpoint)))
            continue
        items = []
        for h in proof:
            item = encoded.get(h)
            if item is None:
                if len(h) != HASH_SIZE:
                    raise ValueError(f"proof hashes are {HASH_SIZE} bytes")
                item = encoded[h] = b'"' + b64url_encode(h).encode("ascii") + b'"'
            items.append(item)
        out.append(b"".join((head, str(first_index + i).encode("ascii"), b',"proof":[',
                             b",".join(items), b"]},", envelope[1:])))
    return out


class LogOutcome(StrEnum):
    """What checking a ``log`` member found (SPEC.md §7.1 step 8)."""

    INCLUDED = "included"
    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknownKey"
    CHECKPOINT_INVALID = "checkpointInvalid"
    PROOF_INVALID = "proofInvalid"


@dataclass(frozen=True, slots=True)
class LogCheck:
    """The outcome of :func:`check_log`, the verified checkpoint when included, and why
    (for people, not a stable format)."""

    outcome: LogOutcome
    checkpoint: SignedCheckpoint | None = None
    detail: str = ""


def check_log(member: Any, seal_id: str | bytes, keys: Sequence[LogKey]) -> LogCheck:
    """Check a ``log`` member (the parsed JSON value) for the seal ``seal_id`` against the
    log keys the verifier trusts.  Never raises for a bad member."""
    try:
        proof = LogProof.from_json(member)
    except LogProofError as exc:
        return LogCheck(LogOutcome.MALFORMED, detail=str(exc))
    try:
        signed = open_checkpoint(proof.checkpoint, keys)
    except UnknownLogKeyError as exc:
        return LogCheck(LogOutcome.UNKNOWN_KEY, detail=str(exc))
    except CheckpointError as exc:
        return LogCheck(LogOutcome.CHECKPOINT_INVALID, detail=str(exc))
    cp = signed.checkpoint
    try:
        verify_inclusion(proof.index, cp.size, seal_leaf_hash(seal_id), proof.proof, cp.root)
    except ProofError as exc:
        return LogCheck(LogOutcome.PROOF_INVALID, detail=str(exc))
    return LogCheck(LogOutcome.INCLUDED, signed)
