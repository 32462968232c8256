"""Passphrase-encrypted PKCS#8 with scrypt: PBES2 (RFC 8018 §6.2) + scrypt (RFC 7914 §7)
+ AES-256-CBC, the format ``openssl pkcs8 -topk8 -scrypt`` writes.

``cryptography`` reads this format but writes only PBKDF2 (2,048 iterations of
HMAC-SHA-256 in the version we use), so the DER is built here with asn1crypto, and the
key derivation and cipher come from ``cryptography``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

from asn1crypto import algos, core, pem
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.padding import PKCS7

from sceau.errors import KeyCustodyError

__all__ = ["MAX_SCRYPT_MEMORY", "ScryptCost", "check_encrypted_pem", "encrypt_pkcs8"]

#: Bytes of memory scrypt may use when reading a key file: 128·r·N, the 32 MiB that
#: OpenSSL allows by default (so every file we accept also opens with ``openssl pkey``).
MAX_SCRYPT_MEMORY = 32 * 1024 * 1024
_MAX_SCRYPT_P = 16
_MAX_PBKDF2_ITERATIONS = 10_000_000
_PBES2 = "1.2.840.113549.1.5.13"
_SCRYPT = "1.3.6.1.4.1.11591.4.11"
_PBKDF2 = "1.2.840.113549.1.5.12"


@dataclass(frozen=True, slots=True)
class ScryptCost:
    """scrypt's cost: ``n`` (a power of two), block size ``r``, parallelisation ``p``.

    The default N=2^14, r=8 (16 MiB) is RFC 7914 §2's interactive setting and the largest
    power of two that OpenSSL's default 32 MiB limit lets ``openssl pkey`` open.
    """

    n: int = 1 << 14
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        if self.n < 2 or self.n & (self.n - 1) or self.r < 1 or not 1 <= self.p <= _MAX_SCRYPT_P:
            raise ValueError("scrypt needs N a power of two >= 2, r >= 1, 1 <= p <= 16")
        if 128 * self.r * (self.n + 2) > MAX_SCRYPT_MEMORY:
            raise ValueError("scrypt cost above the 32 MiB memory bound")


class _ScryptParams(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    # RFC 7914 §7.1 scrypt-params
    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("salt", core.OctetString), ("cost_parameter", core.Integer),
        ("block_size", core.Integer), ("parallelization_parameter", core.Integer),
        ("key_length", core.Integer, {"optional": True})]


class _KdfId(core.ObjectIdentifier):  # type: ignore[misc]
    _map: ClassVar[dict[str, str]] = {_SCRYPT: "scrypt", _PBKDF2: "pbkdf2"}


class _Kdf(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("algorithm", _KdfId), ("parameters", core.Any, {"optional": True})]
    _oid_pair = ("algorithm", "parameters")
    _oid_specs: ClassVar[dict[str, Any]] = {"scrypt": _ScryptParams,
                                            "pbkdf2": algos.Pbkdf2Params}


class _Pbes2Params(core.Sequence):  # type: ignore[misc]
    # RFC 8018 §A.4 PBES2-params
    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("key_derivation_func", _Kdf), ("encryption_scheme", algos.EncryptionAlgorithm)]


class _SchemeId(core.ObjectIdentifier):  # type: ignore[misc]
    _map: ClassVar[dict[str, str]] = {_PBES2: "pbes2"}


class _Scheme(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("algorithm", _SchemeId), ("parameters", core.Any, {"optional": True})]
    _oid_pair = ("algorithm", "parameters")
    _oid_specs: ClassVar[dict[str, Any]] = {"pbes2": _Pbes2Params}


class _EncryptedPrivateKeyInfo(core.Sequence):  # type: ignore[misc]
    # RFC 5958 §3
    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("encryption_algorithm", _Scheme), ("encrypted_data", core.OctetString)]


def encrypt_pkcs8(private_key_info: bytes, passphrase: bytes,
                  cost: ScryptCost | None = None) -> bytes:
    """PEM ``ENCRYPTED PRIVATE KEY`` of a DER PKCS#8 ``PrivateKeyInfo``."""
    cost = cost or ScryptCost()
    salt = os.urandom(16)
    iv = os.urandom(16)
    key = Scrypt(salt=salt, length=32, n=cost.n, r=cost.r, p=cost.p).derive(passphrase)
    padder = PKCS7(128).padder()
    padded = padder.update(private_key_info) + padder.finalize()
    encryptor = Cipher(algorithms.AES256(key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    info = _EncryptedPrivateKeyInfo({
        "encryption_algorithm": {
            "algorithm": "pbes2",
            "parameters": _Pbes2Params({
                "key_derivation_func": {
                    "algorithm": "scrypt",
                    "parameters": _ScryptParams({
                        "salt": salt, "cost_parameter": cost.n, "block_size": cost.r,
                        "parallelization_parameter": cost.p, "key_length": 32}),
                },
                "encryption_scheme": {"algorithm": "aes256_cbc", "parameters": iv},
            }),
        },
        "encrypted_data": ciphertext,
    })
    armored: bytes = pem.armor("ENCRYPTED PRIVATE KEY", info.dump())
    return armored


def check_encrypted_pem(data: bytes, name: str) -> None:
    """Refuse a key file that is not PBES2 (scrypt or PBKDF2) encrypted PKCS#8 with a
    key derivation cost within bounds; raises :class:`KeyCustodyError`."""
    try:
        kind, _, der = pem.unarmor(data)
        if kind != "ENCRYPTED PRIVATE KEY":
            raise KeyCustodyError(f"key file {name} is not an encrypted PKCS#8 key")
        info = _EncryptedPrivateKeyInfo.load(der, strict=True)
        scheme = info["encryption_algorithm"]
        if scheme["algorithm"].native != "pbes2":
            raise KeyCustodyError(f"key file {name} is not PBES2-encrypted")
        kdf = scheme["parameters"]["key_derivation_func"]
        params = kdf["parameters"]
        if kdf["algorithm"].native == "scrypt":
            n = params["cost_parameter"].native
            r = params["block_size"].native
            p = params["parallelization_parameter"].native
            if not (n >= 2 and not n & (n - 1) and r >= 1 and 1 <= p <= _MAX_SCRYPT_P
                    and 128 * r * (n + 2) <= MAX_SCRYPT_MEMORY):
                raise KeyCustodyError(f"key file {name}: scrypt cost out of bounds")
        elif kdf["algorithm"].native == "pbkdf2":
            if not 1 <= params["iteration_count"].native <= _MAX_PBKDF2_ITERATIONS:
                raise KeyCustodyError(f"key file {name}: PBKDF2 cost out of bounds")
        else:  # pragma: no cover - _KdfId maps only the two
            raise KeyCustodyError(f"key file {name}: unknown key derivation")
    except KeyCustodyError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError):
        # asn1crypto reports malformed DER, unknown OIDs and PEM errors with these.
        raise KeyCustodyError(f"key file {name} is damaged or not a PKCS#8 key") from None
