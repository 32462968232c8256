"""Public keys as a verifier knows them: key ids, key records, the key ring, JWKS.

Pure: no I/O.  Key ids are RFC 7638 JWK thumbprints of the Ed25519 public key
(RFC 8037 §2 gives the JWK members), so an id can never be chosen by a caller.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sceau.encoding import b64url_decode, b64url_encode
from sceau.errors import ValidationError
from sceau.timefmt import format_time, parse_time

__all__ = ["KeyRecord", "KeyRing", "KeyStatus", "key_id"]

ED25519_PUBLIC_KEY_LEN = 32


class KeyStatus(StrEnum):
    """Lifecycle state of a signing key (DESIGN.md §5)."""

    PENDING = "pending"
    ACTIVE = "active"
    RETIRED = "retired"
    REVOKED = "revoked"


def key_id(public_key: bytes) -> str:
    """RFC 7638 thumbprint (SHA-256, base64url) of an Ed25519 public key's JWK.

    The required members in lexicographic order with no whitespace (RFC 7638 §3.2,
    RFC 8037 §2): ``{"crv":"Ed25519","kty":"OKP","x":"<b64url>"}``.
    """
    if len(public_key) != ED25519_PUBLIC_KEY_LEN:
        raise ValidationError("an Ed25519 public key is 32 bytes")
    jwk = '{"crv":"Ed25519","kty":"OKP","x":"' + b64url_encode(public_key) + '"}'
    return b64url_encode(hashlib.sha256(jwk.encode("ascii")).digest())


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What a verifier knows about one public key."""

    public_key: bytes
    tenant: str
    status: KeyStatus = KeyStatus.ACTIVE
    not_before: datetime | None = None
    not_after: datetime | None = None
    compromised_since: datetime | None = None

    @property
    def keyid(self) -> str:
        """The key's id, derived from its bytes."""
        return key_id(self.public_key)

    def verifier(self) -> Ed25519PublicKey:
        """A pyca/cryptography key object for signature checks."""
        return Ed25519PublicKey.from_public_bytes(self.public_key)

    def to_jwk(self) -> dict[str, Any]:
        """JWK (RFC 8037) with Sceau's lifecycle members (SPEC.md §5.2)."""
        jwk: dict[str, Any] = {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64url_encode(self.public_key),
            "kid": self.keyid,
            "use": "sig",
            "alg": "EdDSA",
            "sceau_tenant": self.tenant,
            "sceau_status": self.status.value,
        }
        for name, value in (("sceau_not_before", self.not_before),
                            ("sceau_not_after", self.not_after),
                            ("sceau_compromised_since", self.compromised_since)):
            if value is not None:
                jwk[name] = format_time(value)
        return jwk

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> KeyRecord:
        """Read a JWK written by :meth:`to_jwk`; the ``kid`` must equal the thumbprint."""
        try:
            if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
                raise ValueError("only OKP/Ed25519 keys are supported")
            public = b64url_decode(jwk["x"], max_len=ED25519_PUBLIC_KEY_LEN)
            if len(public) != ED25519_PUBLIC_KEY_LEN:
                raise ValueError("x must be 32 bytes")
            tenant = jwk["sceau_tenant"]
            if not isinstance(tenant, str) or not tenant:
                raise ValueError("sceau_tenant must be a non-empty string")

            def when(name: str) -> datetime | None:
                value = jwk.get(name)
                return None if value is None else parse_time(value)

            record = cls(
                public_key=public,
                tenant=tenant,
                status=KeyStatus(jwk.get("sceau_status", "active")),
                not_before=when("sceau_not_before"),
                not_after=when("sceau_not_after"),
                compromised_since=when("sceau_compromised_since"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError(f"bad JWK: {exc}") from None
        if "kid" in jwk and jwk["kid"] != record.keyid:
            raise ValidationError("JWK kid is not the RFC 7638 thumbprint of its key")
        return record


class KeyRing(Mapping[str, KeyRecord]):
    """The keys a verifier knows, by key id, and the tenants it trusts.

    ``trusted_tenants=None`` trusts every tenant whose key is in the ring.
    """

    def __init__(self, records: Iterable[KeyRecord] = (),
                 trusted_tenants: Iterable[str] | None = None) -> None:
        self._by_id = {r.keyid: r for r in records}
        self.trusted_tenants = None if trusted_tenants is None else frozenset(trusted_tenants)

    def __getitem__(self, keyid: str) -> KeyRecord:
        return self._by_id[keyid]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def is_trusted(self, tenant: str) -> bool:
        """Whether the verifier's trust list admits ``tenant``."""
        return self.trusted_tenants is None or tenant in self.trusted_tenants

    def to_jwks(self) -> dict[str, Any]:
        """The ring as a JWKS document (RFC 7517 §5)."""
        return {"keys": [r.to_jwk() for r in self._by_id.values()]}

    @classmethod
    def from_jwks(cls, document: Mapping[str, Any],
                  trusted_tenants: Iterable[str] | None = None) -> KeyRing:
        """Build a ring from a JWKS document; other key types and malformed keys are skipped."""
        keys = document.get("keys")
        if not isinstance(keys, list):
            raise ValidationError("JWKS must have a 'keys' array")
        records = []
        for jwk in keys:
            if not (isinstance(jwk, Mapping) and jwk.get("kty") == "OKP"
                    and jwk.get("crv") == "Ed25519"):
                continue
            try:
                records.append(KeyRecord.from_jwk(jwk))
            except ValidationError:
                # One bad entry must not disable every other key: it is left out, and
                # seals by it read as signingCredential.unknown.
                continue
        return cls(records, trusted_tenants)
