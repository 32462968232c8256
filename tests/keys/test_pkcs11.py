"""PKCS#11 custody against a real SoftHSM2 token (the session's private one)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sceau.errors import KeyCustodyError, ValidationError
from sceau.keyring import key_id
from sceau_keys import Custody
from sceau_keys.pkcs11 import Pkcs11Custody, Pkcs11Signer

from ..softhsm import SoftHsm, require_python_pkcs11
from ..threads import run_threads

pkcs11 = require_python_pkcs11()
Attribute, KeyType, ObjectClass = pkcs11.Attribute, pkcs11.KeyType, pkcs11.ObjectClass


def _custody(hsm: SoftHsm, role: str = "", token: str = "sceau-test") -> Pkcs11Custody:
    return Pkcs11Custody(hsm.module, token, hsm.pin, role=role)


def _session(hsm: SoftHsm, token: str = "sceau-test") -> Any:
    # A plain session sharing the login the custody made in this process.
    return pkcs11.lib(hsm.module).get_token(token_label=token).open(rw=True)


def _verify(signer: Pkcs11Signer, message: bytes) -> None:
    Ed25519PublicKey.from_public_bytes(signer.public_key).verify(signer.sign(message), message)


def test_keys_are_generated_on_the_token_non_extractable(softhsm: SoftHsm) -> None:
    custody: Custody = _custody(softhsm)
    signer = custody.generate()
    assert isinstance(signer, Pkcs11Signer)
    _verify(signer, b"hello")
    with _session(softhsm) as sess:
        private = sess.get_key(ObjectClass.PRIVATE_KEY, KeyType.EC_EDWARDS,
                               id=signer.keyid.encode())
        public = sess.get_key(ObjectClass.PUBLIC_KEY, KeyType.EC_EDWARDS, label=signer.keyid)
        for attr in (Attribute.TOKEN, Attribute.SENSITIVE, Attribute.ALWAYS_SENSITIVE,
                     Attribute.NEVER_EXTRACTABLE, Attribute.LOCAL, Attribute.PRIVATE):
            assert private[attr] is True, attr
        assert private[Attribute.EXTRACTABLE] is False
        assert private[Attribute.LABEL] == signer.keyid
        with pytest.raises(pkcs11.exceptions.AttributeSensitive):
            private[Attribute.VALUE]  # the read itself is refused
        point = bytes(public[Attribute.EC_POINT])
    assert key_id(point[2:]) == signer.keyid  # DER OCTET STRING of the 32-byte key
    assert custody.public_key(signer.keyid) == signer.public_key


def test_signer_found_again_by_key_id(softhsm: SoftHsm) -> None:
    signer = _custody(softhsm).generate()
    again = _custody(softhsm).signer(signer.keyid)
    assert again.keyid == signer.keyid and again.public_key == signer.public_key
    _verify(again, b"x" * 10_000)
    assert signer.keyid in _custody(softhsm).keyids()


def test_missing_key_and_bad_ids(softhsm: SoftHsm) -> None:
    custody = _custody(softhsm)
    with pytest.raises(KeyCustodyError, match="no key"):
        custody.signer("A" * 43)
    with pytest.raises(KeyCustodyError, match="no key"):
        custody.public_key("A" * 43)
    for bad in ("", "root/x", "a b", "x" * 129):
        with pytest.raises(ValidationError):
            custody.signer(bad)


def test_roles_are_separate(softhsm: SoftHsm) -> None:
    signing, root = _custody(softhsm), _custody(softhsm, role="root")
    s, r = signing.generate(), root.generate()
    with pytest.raises(KeyCustodyError, match="no key"):
        root.signer(s.keyid)
    with pytest.raises(KeyCustodyError, match="no key"):
        signing.signer(r.keyid)
    assert r.keyid in root.keyids() and r.keyid not in signing.keyids()
    assert s.keyid not in root.keyids()
    with _session(softhsm) as sess:
        assert sess.get_key(ObjectClass.PRIVATE_KEY, label=f"root/{r.keyid}") is not None
    with pytest.raises(ValidationError):
        Pkcs11Custody(softhsm.module, "sceau-test", softhsm.pin, role="Root/")


def test_root_keys_on_their_own_token(softhsm: SoftHsm) -> None:
    root = _custody(softhsm, role="root", token="sceau-root")
    key = root.generate()
    _verify(root.signer(key.keyid), b"root statement")
    with pytest.raises(KeyCustodyError, match="no key"):
        _custody(softhsm, role="root").signer(key.keyid)


def test_wrong_pin(softhsm: SoftHsm) -> None:
    # This token is logged in by no other test: the first login decides.
    with pytest.raises(KeyCustodyError, match="wrong PIN"):
        Pkcs11Custody(softhsm.module, "sceau-pin-check", "not-the-pin")
    custody = Pkcs11Custody(softhsm.module, "sceau-pin-check", softhsm.pin)
    _verify(custody.generate(), b"m")
    # Once the process is logged in, another PIN is still refused (not silently shared).
    with pytest.raises(KeyCustodyError, match="wrong PIN"):
        Pkcs11Custody(softhsm.module, "sceau-pin-check", "not-the-pin")
    with pytest.raises(KeyCustodyError, match="PIN"):
        Pkcs11Custody(softhsm.module, "sceau-pin-check", "")


def test_missing_module_or_token(softhsm: SoftHsm, tmp_path: Path) -> None:
    with pytest.raises(KeyCustodyError, match="module not found"):
        Pkcs11Custody(str(tmp_path / "nope.so"), "sceau-test", softhsm.pin)
    not_a_module = tmp_path / "not-a-module.so"
    not_a_module.write_bytes(b"\x7fELF garbage")
    with pytest.raises(KeyCustodyError, match="cannot load PKCS#11 module"):
        Pkcs11Custody(str(not_a_module), "sceau-test", softhsm.pin)
    with pytest.raises(KeyCustodyError, match="no PKCS#11 token labelled 'no-such-token'"):
        Pkcs11Custody(softhsm.module, "no-such-token", softhsm.pin)


def _raw_keypair(sess: Any, label: str, *, extractable: bool) -> tuple[Any, Any]:
    public, private = sess.generate_keypair(
        KeyType.EC_EDWARDS, store=True, label=label, id=label.encode(),
        public_template={Attribute.EC_PARAMS: bytes.fromhex("06032b6570")},
        private_template={Attribute.SENSITIVE: not extractable,
                          Attribute.EXTRACTABLE: extractable})
    keyid = key_id(bytes(public[Attribute.EC_POINT])[2:])
    for obj in (public, private):
        obj[Attribute.LABEL] = keyid
        obj[Attribute.ID] = keyid.encode()
    return public, private


def test_extractable_keys_refused(softhsm: SoftHsm) -> None:
    custody = _custody(softhsm)
    with _session(softhsm) as sess:
        public, _ = _raw_keypair(sess, "extractable", extractable=True)
        keyid = key_id(bytes(public[Attribute.EC_POINT])[2:])
    with pytest.raises(KeyCustodyError, match="extractable"):
        custody.signer(keyid)


def test_swapped_key_pair_detected(softhsm: SoftHsm) -> None:
    custody = _custody(softhsm)
    a, b = custody.generate(), custody.generate()
    with _session(softhsm) as sess:
        # b's private key replaced by a's, under b's label and id.
        sess.get_key(ObjectClass.PRIVATE_KEY, label=b.keyid).destroy()
        private_a = sess.get_key(ObjectClass.PRIVATE_KEY, label=a.keyid)
        private_a[Attribute.LABEL] = b.keyid
        private_a[Attribute.ID] = b.keyid.encode()
    with pytest.raises(KeyCustodyError, match="does not match its public key"):
        _custody(softhsm).signer(b.keyid)


def test_concurrent_signing(softhsm: SoftHsm) -> None:
    custody = _custody(softhsm)
    signers = [custody.generate(), _custody(softhsm).generate()]
    results: list[tuple[Pkcs11Signer, bytes, bytes]] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        for i in range(60):
            signer = signers[(n + i) % 2]
            message = f"{n}:{i}".encode()
            signature = signer.sign(message)
            with lock:
                results.append((signer, message, signature))

    assert not run_threads(work, 8)
    assert len(results) == 8 * 60
    for signer, message, signature in results:
        Ed25519PublicKey.from_public_bytes(signer.public_key).verify(signature, message)
    with pytest.raises(InvalidSignature):  # two keys, not one
        Ed25519PublicKey.from_public_bytes(signers[0].public_key).verify(
            signers[1].sign(b"m"), b"m")


def test_key_removed_from_the_token_while_in_use(softhsm: SoftHsm) -> None:
    custody = _custody(softhsm)
    signer = custody.generate()
    _verify(signer, b"before")
    with _session(softhsm) as sess:
        sess.get_key(ObjectClass.PRIVATE_KEY, label=signer.keyid).destroy()
    # The cached handle is stale: a custody error, never a raw PKCS#11 exception.
    with pytest.raises(KeyCustodyError):
        signer.sign(b"after")
    with pytest.raises(KeyCustodyError, match="no key"):
        signer.sign(b"after")
    with pytest.raises(KeyCustodyError, match="no key"):
        custody.signer(signer.keyid)


def test_without_python_pkcs11(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pkcs11", None)  # import -> ImportError
    with pytest.raises(KeyCustodyError, match=r"sceau-keys\[pkcs11\]"):
        Pkcs11Custody("/nonexistent.so", "t", "pin")
