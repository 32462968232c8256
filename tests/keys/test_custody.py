"""Encrypted-file custody: scrypt PKCS#8 files, legacy PBKDF2 files, hostile files."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import pem
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sceau import LocalSigner
from sceau.errors import KeyCustodyError, ValidationError
from sceau_keys import EncryptedFileCustody
from sceau_keys.pkcs8 import (
    ScryptCost,
    _EncryptedPrivateKeyInfo,
    check_encrypted_pem,
    encrypt_pkcs8,
)

PASS = b"custody-test-passphrase"
# The smallest cost keeps property tests fast; the default cost is tested on its own.
CHEAP = ScryptCost(n=1 << 4, r=1, p=1)


def _kdf(path: Path) -> tuple[str, dict[str, int]]:
    _, _, der = pem.unarmor(path.read_bytes())
    info = _EncryptedPrivateKeyInfo.load(der)
    kdf = info["encryption_algorithm"]["parameters"]["key_derivation_func"]
    params = {k: v for k, v in kdf["parameters"].native.items()
              if k in ("cost_parameter", "block_size", "parallelization_parameter",
                       "iteration_count")}
    return kdf["algorithm"].native, params


def test_round_trip_with_default_scrypt(tmp_path: Path) -> None:
    custody = EncryptedFileCustody(tmp_path / "keys", PASS)
    signer = custody.generate()
    path = tmp_path / "keys" / f"{signer.keyid}.pem"
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(tmp_path / "keys").st_mode & 0o777 == 0o700
    # PKCS#8 EncryptedPrivateKeyInfo in PEM (RFC 7468 §11): parse the armour itself.
    label, _, _ = pem.unarmor(path.read_bytes())
    assert label == "ENCRYPTED PRIVATE KEY"
    assert _kdf(path) == ("scrypt", {"cost_parameter": 1 << 14, "block_size": 8,
                                     "parallelization_parameter": 1})
    fresh = EncryptedFileCustody(tmp_path / "keys", PASS)  # no cached public key
    loaded = fresh.signer(signer.keyid)
    assert loaded.keyid == signer.keyid
    assert fresh.public_key(signer.keyid) == signer.public_key
    Ed25519PublicKey.from_public_bytes(signer.public_key).verify(loaded.sign(b"m"), b"m")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl command")
def test_openssl_reads_the_files(tmp_path: Path) -> None:
    custody = EncryptedFileCustody(tmp_path, PASS)
    signer = custody.generate()
    out = subprocess.run(
        ["openssl", "pkey", "-in", str(tmp_path / f"{signer.keyid}.pem"), "-passin",
         "env:PASS", "-pubout", "-outform", "DER"],
        env={**os.environ, "PASS": PASS.decode()}, capture_output=True, check=True)
    assert out.stdout[-32:] == signer.public_key  # SubjectPublicKeyInfo ends with the key
    bad = subprocess.run(
        ["openssl", "pkey", "-in", str(tmp_path / f"{signer.keyid}.pem"), "-passin",
         "pass:another-passphrase-entirely", "-noout"], capture_output=True, check=False)
    assert bad.returncode != 0


def test_legacy_pbkdf2_files_still_load(tmp_path: Path) -> None:
    # What the custody wrote before scrypt: cryptography's BestAvailableEncryption.
    key = Ed25519PrivateKey.generate()
    signer = LocalSigner(key)
    path = tmp_path / f"{signer.keyid}.pem"
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8,
                                       BestAvailableEncryption(PASS)))
    path.chmod(0o600)
    assert _kdf(path)[0] == "pbkdf2"
    custody = EncryptedFileCustody(tmp_path, PASS)
    assert custody.signer(signer.keyid).sign(b"x") == signer.sign(b"x")


def test_wrong_passphrase(tmp_path: Path) -> None:
    signer = EncryptedFileCustody(tmp_path, PASS, cost=CHEAP).generate()
    with pytest.raises(KeyCustodyError, match="cannot decrypt"):
        EncryptedFileCustody(tmp_path, b"another-passphrase-entirely").signer(signer.keyid)


def test_short_passphrase_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyCustodyError, match="at least 16"):
        EncryptedFileCustody(tmp_path, b"short")


@pytest.mark.parametrize("cut", [0, 1, 40, 100, -30, -2])
def test_truncated_file(tmp_path: Path, cut: int) -> None:
    custody = EncryptedFileCustody(tmp_path, PASS, cost=CHEAP)
    keyid = custody.generate().keyid
    path = tmp_path / f"{keyid}.pem"
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(KeyCustodyError):
        EncryptedFileCustody(tmp_path, PASS).signer(keyid)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_garbled_file_never_loads_another_key(tmp_path_factory: pytest.TempPathFactory,
                                              data: st.DataObject) -> None:
    tmp = tmp_path_factory.mktemp("garbled")
    custody = EncryptedFileCustody(tmp, PASS, cost=CHEAP)
    signer = custody.generate()
    path = tmp / f"{signer.keyid}.pem"
    raw = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    path.write_bytes(bytes(raw))
    try:
        loaded = EncryptedFileCustody(tmp, PASS).signer(signer.keyid)
    except KeyCustodyError:
        return
    # A change the PEM decoder ignores (e.g. a line ending) may still load: the same key.
    assert loaded.sign(b"m") == signer.sign(b"m")


def test_plain_or_foreign_files_refused(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    keyid = LocalSigner(key).keyid
    path = tmp_path / f"{keyid}.pem"
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    path.chmod(0o600)
    custody = EncryptedFileCustody(tmp_path, PASS)
    with pytest.raises(KeyCustodyError, match="not an encrypted PKCS#8"):
        custody.signer(keyid)
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(KeyCustodyError, match="damaged"):
        custody.signer(keyid)
    path.write_bytes(b"x" * (65 * 1024))
    with pytest.raises(KeyCustodyError, match="too large"):
        custody.signer(keyid)


def test_file_under_another_keys_name(tmp_path: Path) -> None:
    custody = EncryptedFileCustody(tmp_path, PASS, cost=CHEAP)
    a, b = custody.generate(), custody.generate()
    (tmp_path / f"{a.keyid}.pem").replace(tmp_path / f"{b.keyid}.pem")
    with pytest.raises(KeyCustodyError, match="holds another key"):
        EncryptedFileCustody(tmp_path, PASS).signer(b.keyid)
    with pytest.raises(KeyCustodyError, match="no key file"):
        custody.signer(a.keyid)
    with pytest.raises(KeyCustodyError, match="no key file"):
        custody.public_key(a.keyid)  # the cache does not outlive the file


@pytest.mark.parametrize("keyid", ["", "../x", "a/b", "a.pem", "é", "x" * 129])
def test_invalid_key_ids(tmp_path: Path, keyid: str) -> None:
    with pytest.raises(ValidationError):
        EncryptedFileCustody(tmp_path, PASS).signer(keyid)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o602, 0o620])
def test_group_or_world_access_refused(tmp_path: Path, mode: int) -> None:
    signer = EncryptedFileCustody(tmp_path, PASS, cost=CHEAP).generate()
    path = tmp_path / f"{signer.keyid}.pem"
    path.chmod(mode)
    with pytest.raises(KeyCustodyError, match="mode 0600"):
        EncryptedFileCustody(tmp_path, PASS).signer(signer.keyid)
    path.chmod(0o400)  # owner-only read is fine
    assert EncryptedFileCustody(tmp_path, PASS).signer(signer.keyid).keyid == signer.keyid


def test_symlinks_and_directories_refused(tmp_path: Path) -> None:
    signer = EncryptedFileCustody(tmp_path / "real", PASS, cost=CHEAP).generate()
    (tmp_path / "link").mkdir()
    (tmp_path / "link" / f"{signer.keyid}.pem").symlink_to(
        tmp_path / "real" / f"{signer.keyid}.pem")
    with pytest.raises(KeyCustodyError, match="cannot open"):
        EncryptedFileCustody(tmp_path / "link", PASS).signer(signer.keyid)
    (tmp_path / "dir" / f"{signer.keyid}.pem").mkdir(parents=True)
    with pytest.raises(KeyCustodyError, match="regular file"):
        EncryptedFileCustody(tmp_path / "dir", PASS).signer(signer.keyid)
    (tmp_path / "fifo").mkdir()
    os.mkfifo(tmp_path / "fifo" / f"{signer.keyid}.pem", 0o600)
    with pytest.raises(KeyCustodyError, match="regular file"):
        EncryptedFileCustody(tmp_path / "fifo", PASS).signer(signer.keyid)


def test_key_derivation_cost_is_bounded(tmp_path: Path) -> None:
    signer = EncryptedFileCustody(tmp_path, PASS, cost=CHEAP).generate()
    path = tmp_path / f"{signer.keyid}.pem"
    _, _, der = pem.unarmor(path.read_bytes())
    info = _EncryptedPrivateKeyInfo.load(der)
    kdf = info["encryption_algorithm"]["parameters"]["key_derivation_func"]["parameters"]
    kdf["cost_parameter"] = 1 << 20  # 1 GiB of memory with r=8... here r=1: 128 MiB
    path.write_bytes(pem.armor("ENCRYPTED PRIVATE KEY", info.dump(force=True)))
    with pytest.raises(KeyCustodyError, match="scrypt cost out of bounds"):
        EncryptedFileCustody(tmp_path, PASS).signer(signer.keyid)
    kdf["cost_parameter"] = 47  # not a power of two: OpenSSL would fail obscurely
    path.write_bytes(pem.armor("ENCRYPTED PRIVATE KEY", info.dump(force=True)))
    with pytest.raises(KeyCustodyError, match="scrypt cost out of bounds"):
        EncryptedFileCustody(tmp_path, PASS).signer(signer.keyid)
    with pytest.raises(ValueError, match="memory bound"):
        ScryptCost(n=1 << 15)
    with pytest.raises(ValueError, match="power of two"):
        ScryptCost(n=1000)


def test_check_rejects_unencrypted_pem_kinds() -> None:
    with pytest.raises(KeyCustodyError):
        check_encrypted_pem(pem.armor("CERTIFICATE", b"\x30\x00"), "x.pem")


_VALID_DER = pem.unarmor(encrypt_pkcs8(
    Ed25519PrivateKey.generate().private_bytes(Encoding.DER, PrivateFormat.PKCS8,
                                               NoEncryption()), PASS, CHEAP))[2]


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_parser_raises_only_custody_errors(data: st.DataObject) -> None:
    der = bytearray(_VALID_DER)
    for _ in range(data.draw(st.integers(1, 3))):
        der[data.draw(st.integers(0, len(der) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(der)))
    with contextlib.suppress(KeyCustodyError):
        check_encrypted_pem(pem.armor("ENCRYPTED PRIVATE KEY", bytes(der[:cut])), "k.pem")
