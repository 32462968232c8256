"""Local Ed25519 signing, for tests, development and the key registry's custody layer."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sceau.keyring import KeyRecord, KeyStatus, key_id

__all__ = ["LocalSigner"]


class LocalSigner:
    """A :class:`sceau.envelope.Signer` holding an Ed25519 private key in memory."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._keyid = key_id(self.public_key)

    @classmethod
    def generate(cls) -> LocalSigner:
        """A signer with a fresh random key."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> LocalSigner:
        """A signer from a 32-byte RFC 8032 seed (test vectors use fixed seeds)."""
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def keyid(self) -> str:
        """RFC 7638 thumbprint of the public key."""
        return self._keyid

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature over ``message``."""
        return self._key.sign(message)

    def sign_many(self, messages: Sequence[bytes]) -> list[bytes]:
        """Ed25519 signatures over ``messages``, in order.

        A plain loop: pyca/cryptography keeps the GIL while signing, so splitting a batch
        over threads measured no faster (docs/benchmarks.md, key custody).
        """
        sign = self._key.sign
        return [sign(m) for m in messages]

    def record(self, tenant: str, status: KeyStatus = KeyStatus.ACTIVE) -> KeyRecord:
        """The public :class:`KeyRecord` of this key for ``tenant``."""
        return KeyRecord(self.public_key, tenant, status)
