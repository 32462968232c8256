"""Key custody: where private keys live and how a signer is obtained from them.

A custody backend hands out :class:`sceau.Signer` objects and never private key bytes.
The signing path derives everything (public key, key id) from the private key it holds;
it never takes a public key from a caller (the Ed25519 "double public key" oracle).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InternalError, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from sceau import LocalSigner, Signer
from sceau.atomic import atomic_write
from sceau.errors import KeyCustodyError, ValidationError
from sceau_keys.pkcs8 import ScryptCost, check_encrypted_pem, encrypt_pkcs8

__all__ = ["MIN_PASSPHRASE_LEN", "Custody", "EncryptedFileCustody"]

MIN_PASSPHRASE_LEN = 16
_MAX_KEY_FILE = 64 * 1024
_KEYID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class Custody(Protocol):
    """A place that holds private signing keys."""

    def generate(self) -> Signer:
        """Create a new key inside custody and return a signer for it."""
        ...

    def signer(self, keyid: str) -> Signer:
        """A signer for a key already in custody."""
        ...

    def public_key(self, keyid: str) -> bytes:
        """The raw 32-byte public key of a key in custody."""
        ...


class EncryptedFileCustody:
    """Ed25519 keys as passphrase-encrypted PKCS#8 PEM files, one per key, mode 0600.

    Files are named ``<keyid>.pem`` and written atomically as standard
    ``EncryptedPrivateKeyInfo`` with PBES2, scrypt and AES-256-CBC (RFC 8018 §6.2,
    RFC 7914 §7; ``openssl pkey`` reads them).  Files written before scrypt (PBES2 with
    PBKDF2) still load.  Loading refuses files that group or others can read or write,
    files whose key derivation would cost more than a bound, and files whose key does not
    match their name.
    """

    backend = "file"

    def __init__(self, directory: str | os.PathLike[str], passphrase: bytes, *,
                 cost: ScryptCost | None = None) -> None:
        if len(passphrase) < MIN_PASSPHRASE_LEN:
            raise KeyCustodyError(
                f"key passphrase must be at least {MIN_PASSPHRASE_LEN} bytes")
        self.directory = Path(directory)
        self._passphrase = passphrase
        self._cost = cost or ScryptCost()
        # Public halves of keys this instance generated or loaded (each checked against
        # its file name), so public_key() need not run scrypt again.
        self._public: dict[str, bytes] = {}

    def _path(self, keyid: str) -> Path:
        if not keyid or len(keyid) > 128 or not set(keyid) <= _KEYID_CHARS:
            raise ValidationError("invalid key id")
        return self.directory / f"{keyid}.pem"

    def generate(self) -> LocalSigner:
        """Create a key, store it encrypted, and return its signer."""
        key = Ed25519PrivateKey.generate()
        signer = LocalSigner(key)
        pem = encrypt_pkcs8(key.private_bytes(Encoding.DER, PrivateFormat.PKCS8,
                                              NoEncryption()), self._passphrase, self._cost)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self._path(signer.keyid)
        if path.exists():  # keys are never overwritten (ids are never reused)
            raise KeyCustodyError(f"key file {path.name} already exists")
        atomic_write(path, pem, mode=0o600)
        self._public[signer.keyid] = signer.public_key
        return signer

    def signer(self, keyid: str) -> LocalSigner:
        """Decrypt ``<keyid>.pem`` and return its signer."""
        path = self._path(keyid)
        try:
            # O_NONBLOCK: a FIFO planted under the key's name must not block the open.
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            raise KeyCustodyError(f"no key file for {keyid}") from None
        except OSError as exc:
            raise KeyCustodyError(f"cannot open key file {path.name}: {exc.strerror}") from None
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode) or mode & 0o077:
            os.close(fd)
            raise KeyCustodyError(
                f"key file {path.name} must be a regular file with mode 0600")
        with os.fdopen(fd, "rb") as f:
            pem = f.read(_MAX_KEY_FILE + 1)
        if len(pem) > _MAX_KEY_FILE:
            raise KeyCustodyError(f"key file {path.name} is too large")
        # Bounds the key derivation before any work is done (a planted file must not make
        # the service spend unbounded memory or time).
        check_encrypted_pem(pem, path.name)
        try:
            key = load_pem_private_key(pem, password=self._passphrase)
        except (ValueError, TypeError, UnsupportedAlgorithm, InternalError):
            # InternalError: OpenSSL refusing damaged parameters it was handed (found by
            # the property test on garbled files).
            raise KeyCustodyError(f"cannot decrypt key file {path.name} (wrong passphrase "
                                  "or damaged file)") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyCustodyError(f"key file {path.name} does not hold an Ed25519 key")
        signer = LocalSigner(key)
        if signer.keyid != keyid:
            raise KeyCustodyError(f"key file {path.name} holds another key")
        self._public[keyid] = signer.public_key
        return signer

    def public_key(self, keyid: str) -> bytes:
        """The public key of a stored key (decrypts it once to derive the public half)."""
        known = self._public.get(keyid)
        if known is not None and self._path(keyid).is_file():
            return known
        return self.signer(keyid).public_key
