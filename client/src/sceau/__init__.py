"""Sceau: seal media with signed provenance manifests, and check them.

The format and verification core (claim, canonical bytes, envelope, verification) is pure;
hashing, sidecars and the HTTP client do the I/O around it.
"""

from sceau.canonical import canonicalize
from sceau.checkpoint import LogKey
from sceau.claim import Claim, HardBinding, build_claim, read_claim
from sceau.client import Client, SealResult
from sceau.envelope import (
    CLAIM_PAYLOAD_TYPE,
    Envelope,
    Signature,
    Signer,
    parse_envelope,
    seal_claim,
    sign_envelope,
)
from sceau.errors import (
    AuthenticationError,
    MalformedEnvelopeError,
    MalformedJSONError,
    MalformedMediaError,
    NoSealFoundError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    SceauError,
    TransportError,
    UnsupportedMediaError,
    ValidationError,
    VerificationError,
    error_from_code,
)
from sceau.hashing import hash_bytes, hash_file, hash_file_chunked, hash_stream
from sceau.keyring import KeyRecord, KeyRing, KeyStatus, key_id
from sceau.local import LocalSigner
from sceau.sidecar import read_sidecar, sidecar_path, write_sidecar
from sceau.verify import (
    ContentDigest,
    Integrity,
    KeyState,
    SignatureState,
    Status,
    Verdict,
    seal_id,
    verify_seal,
)

__version__ = "0.1.0"

__all__ = [
    "CLAIM_PAYLOAD_TYPE",
    "AuthenticationError",
    "Claim",
    "Client",
    "ContentDigest",
    "Envelope",
    "HardBinding",
    "Integrity",
    "KeyRecord",
    "KeyRing",
    "KeyState",
    "KeyStatus",
    "LocalSigner",
    "LogKey",
    "MalformedEnvelopeError",
    "MalformedJSONError",
    "MalformedMediaError",
    "NoSealFoundError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "SceauError",
    "SealResult",
    "Signature",
    "SignatureState",
    "Signer",
    "Status",
    "TransportError",
    "UnsupportedMediaError",
    "ValidationError",
    "Verdict",
    "VerificationError",
    "__version__",
    "build_claim",
    "canonicalize",
    "error_from_code",
    "hash_bytes",
    "hash_file",
    "hash_file_chunked",
    "hash_stream",
    "key_id",
    "parse_envelope",
    "read_claim",
    "read_sidecar",
    "seal_claim",
    "seal_id",
    "sidecar_path",
    "sign_envelope",
    "verify_seal",
    "write_sidecar",
]
