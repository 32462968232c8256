"""The seal envelope: exact payload bytes, payload type, signatures (SPEC.md §3).

DSSE-style: the signature covers a pre-authentication encoding (PAE) of the payload type
and the payload bytes, never a re-serialisation, so the verifier checks the signature
before it parses the payload.  The PAE prefix ``SCEAU-SIG-V1`` differs from DSSE's
``DSSEv1``, so a Sceau signature can never pass for a DSSE one, and each kind of signed
object has its own payload type (its signing domain).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sceau.canonical import canonicalize, encode_string
from sceau.encoding import b64url_decode, b64url_encode
from sceau.errors import MalformedEnvelopeError, SceauError
from sceau.strictjson import loads

__all__ = [
    "CLAIM_PAYLOAD_TYPE",
    "ENVELOPE_VERSION",
    "KEY_STATEMENT_PAYLOAD_TYPE",
    "MAX_ENVELOPE_BYTES",
    "MAX_PAYLOAD_BYTES",
    "Envelope",
    "Signature",
    "Signer",
    "pae",
    "parse_envelope",
    "seal_claim",
    "sign_envelope",
]

ENVELOPE_VERSION = 1
_VERSION_BYTES = str(ENVELOPE_VERSION).encode("ascii")
CLAIM_PAYLOAD_TYPE = "application/vnd.sceau.claim.v1+json"
#: Reserved for the key registry's rotation statements (SPEC.md §3.3).
KEY_STATEMENT_PAYLOAD_TYPE = "application/vnd.sceau.key-statement.v1+json"
PAE_PREFIX = b"SCEAU-SIG-V1"
MAX_ENVELOPE_BYTES = 256 * 1024
MAX_PAYLOAD_BYTES = 128 * 1024
SIGNATURE_LEN = 64
_MAX_KEYID_LEN = 128
_ENVELOPE_MEMBERS = frozenset({"sceau", "payloadType", "payload", "signatures",
                               "log", "keyHistory"})


class Signer(Protocol):
    """Anything that signs bytes with a private key it holds and never hands out."""

    @property
    def keyid(self) -> str:
        """The RFC 7638 thumbprint of the signing key."""
        ...

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature (64 bytes) over ``message``."""
        ...


def pae(payload_type: str, payload: bytes) -> bytes:
    """Pre-authentication encoding (SPEC.md §3.2).

    ``"SCEAU-SIG-V1" SP LEN(type) SP type SP LEN(payload) SP payload`` where LEN is the
    byte length in ASCII decimal without leading zeros, as in DSSE's PAE.
    """
    type_bytes = payload_type.encode("utf-8")
    return b"".join((PAE_PREFIX, b" ", str(len(type_bytes)).encode("ascii"), b" ",
                     type_bytes, b" ", str(len(payload)).encode("ascii"), b" ", payload))


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature: the signer's key id (a hint) and the raw signature bytes."""

    keyid: str
    sig: bytes


@dataclass(frozen=True, slots=True)
class Envelope:
    """A parsed envelope.  ``payload`` is the exact signed bytes, not yet parsed."""

    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]
    log: Any = None
    key_history: Any = None

    def to_json(self) -> dict[str, Any]:
        """The envelope as a JSON object."""
        doc: dict[str, Any] = {
            "sceau": ENVELOPE_VERSION,
            "payloadType": self.payload_type,
            "payload": b64url_encode(self.payload),
            "signatures": [{"keyid": s.keyid, "sig": b64url_encode(s.sig)}
                           for s in self.signatures],
        }
        if self.log is not None:
            doc["log"] = self.log
        if self.key_history is not None:
            doc["keyHistory"] = self.key_history
        return doc

    def to_bytes(self) -> bytes:
        """Canonical (JCS) bytes of the envelope: the form Sceau stores and ships."""
        if self.log is not None or self.key_history is not None:
            return canonicalize(self.to_json())
        # The common case spelled out (a service writes thousands a second): members in
        # JCS order (RFC 8785 §3.2.3), strings through the canonical string encoder.  A
        # property test checks these bytes equal canonicalize(self.to_json()).
        sigs = b",".join(b'{"keyid":' + encode_string(s.keyid) + b',"sig":"'
                         + b64url_encode(s.sig).encode("ascii") + b'"}'
                         for s in self.signatures)
        return b"".join((b'{"payload":"', b64url_encode(self.payload).encode("ascii"),
                         b'","payloadType":', encode_string(self.payload_type),
                         b',"sceau":', _VERSION_BYTES, b',"signatures":[', sigs, b"]}"))


def _malformed(why: str) -> MalformedEnvelopeError:
    return MalformedEnvelopeError(f"malformed envelope: {why}")


def parse_envelope(data: bytes | str) -> Envelope:
    """Parse an envelope's outer structure without touching the payload.

    Raises :class:`MalformedEnvelopeError` (or a JSON profile error) when the document is
    not an envelope this version can read.  Signatures are decoded, not verified.
    """
    try:
        raw = data.encode("utf-8") if isinstance(data, str) else data
    except UnicodeEncodeError:
        raise _malformed("text holds a lone surrogate (not UTF-8)") from None
    try:
        doc = loads(raw, max_bytes=MAX_ENVELOPE_BYTES)
    except SceauError as exc:
        raise _malformed(exc.detail) from None
    if not isinstance(doc, dict):
        raise _malformed("top level is not an object")
    unknown = set(doc) - _ENVELOPE_MEMBERS
    if unknown:
        raise _malformed(f"unknown member(s) {sorted(unknown)[:5]}")
    if doc.get("sceau") != ENVELOPE_VERSION or isinstance(doc.get("sceau"), bool):
        raise _malformed(f"'sceau' must be {ENVELOPE_VERSION}")
    payload_type = doc.get("payloadType")
    if not isinstance(payload_type, str) or not 0 < len(payload_type) <= 256:
        raise _malformed("'payloadType' must be a non-empty string")
    try:
        payload = b64url_decode(doc.get("payload"), max_len=MAX_PAYLOAD_BYTES)  # type: ignore[arg-type]
    except ValueError as exc:
        raise _malformed(f"'payload': {exc}") from None
    sigs = doc.get("signatures")
    if not isinstance(sigs, list):
        raise _malformed("'signatures' must be an array")
    signatures = []
    for item in sigs[:16]:
        if not isinstance(item, dict) or set(item) != {"keyid", "sig"}:
            raise _malformed("each signature is exactly {keyid, sig}")
        keyid, sig = item["keyid"], item["sig"]
        if not isinstance(keyid, str) or not 0 < len(keyid) <= _MAX_KEYID_LEN:
            raise _malformed("'keyid' must be a non-empty string")
        try:
            sig_bytes = b64url_decode(sig, max_len=SIGNATURE_LEN * 2)
        except ValueError as exc:
            raise _malformed(f"'sig': {exc}") from None
        signatures.append(Signature(keyid, sig_bytes))
    if len(sigs) > 16:
        raise _malformed("too many signatures")
    return Envelope(payload_type, payload, tuple(signatures),
                    log=doc.get("log"), key_history=doc.get("keyHistory"))


def sign_envelope(payload: bytes, signer: Signer,
                  payload_type: str = CLAIM_PAYLOAD_TYPE) -> Envelope:
    """Sign ``payload`` (already canonical bytes) under ``payload_type``'s domain."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise _malformed(f"payload exceeds {MAX_PAYLOAD_BYTES} bytes")
    sig = signer.sign(pae(payload_type, payload))
    return Envelope(payload_type, payload, (Signature(signer.keyid, sig),))


def sign_envelopes(payloads: Sequence[bytes], signer: Signer,
                   payload_type: str = CLAIM_PAYLOAD_TYPE) -> list[Envelope]:
    """:func:`sign_envelope` for many payloads: one call to the signer's optional
    ``sign_many(messages) -> signatures`` when it has one (a hardware token signs a batch
    faster than message by message), else ``sign`` for each."""
    for payload in payloads:
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise _malformed(f"payload exceeds {MAX_PAYLOAD_BYTES} bytes")
    messages = [pae(payload_type, p) for p in payloads]
    sign_many = getattr(signer, "sign_many", None)
    sigs = (sign_many(messages) if sign_many is not None
            else [signer.sign(m) for m in messages])
    if len(sigs) != len(messages):
        raise ValueError("the signer returned another number of signatures than asked")
    keyid = signer.keyid
    return [Envelope(payload_type, p, (Signature(keyid, sig),))
            for p, sig in zip(payloads, sigs, strict=True)]


def seal_claim(claim: Any, signer: Signer) -> Envelope:
    """Canonicalise a claim object (RFC 8785) and sign it in the claim domain."""
    return sign_envelope(canonicalize(claim), signer, CLAIM_PAYLOAD_TYPE)
