"""X.509 for C2PA interop: a tenant CA and claim-signing certificates for custody keys,
checked with cryptography, and accepted by c2pa-python when signing a real JPEG through a
callback (the private key stays in custody: an encrypted file or a SoftHSM2 token)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import c2pa
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from sceau.errors import ValidationError
from sceau_keys import EncryptedFileCustody
from sceau_keys.pkcs8 import ScryptCost
from sceau_keys.pkcs11 import Pkcs11Custody
from sceau_keys.x509 import (
    C2PA_CLAIM_SIGNING,
    EMAIL_PROTECTION,
    create_ca_certificate,
    issue_signing_certificate,
    to_pem,
)

from ..c2pafiles import jpeg_bytes
from ..softhsm import SoftHsm

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
CHEAP = ScryptCost(n=1 << 4, r=1, p=1)


@pytest.fixture(params=["file", "pkcs11"])
def custodies(request: pytest.FixtureRequest,
              tmp_path: Path) -> tuple[Any, Any]:
    """(root custody, signing custody) of one backend."""
    if request.param == "file":
        return (EncryptedFileCustody(tmp_path / "root", b"x509-test-passphrase", cost=CHEAP),
                EncryptedFileCustody(tmp_path / "keys", b"x509-test-passphrase", cost=CHEAP))
    hsm: SoftHsm = request.getfixturevalue("softhsm")
    return (Pkcs11Custody(hsm.module, "sceau-test", hsm.pin, role="root"),
            Pkcs11Custody(hsm.module, "sceau-test", hsm.pin))


def _chain(custodies: tuple[Any, Any], now: datetime = NOW,
           purposes: tuple[str, ...] = (C2PA_CLAIM_SIGNING, EMAIL_PROTECTION)
           ) -> tuple[bytes, bytes, Any]:
    root, keys = custodies
    root_key, signing_key = root.generate(), keys.generate()
    ca = create_ca_certificate(root, root_key.keyid, "Acme Tenant CA", now=now,
                               organization="Acme News")
    ee = issue_signing_certificate(root, root_key.keyid, ca, keys, signing_key.keyid,
                                   "Acme News signer", now=now, purposes=purposes)
    return ca, ee, signing_key


def test_certificate_profile(custodies: tuple[Any, Any]) -> None:
    ca_der, ee_der, signing_key = _chain(custodies)
    ca, ee = x509.load_der_x509_certificate(ca_der), x509.load_der_x509_certificate(ee_der)
    ca.verify_directly_issued_by(ca)
    ee.verify_directly_issued_by(ca)
    assert ca.version is x509.Version.v3 and ee.version is x509.Version.v3
    assert 0 < ee.serial_number < 1 << 159 and ee.serial_number != ca.serial_number
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    ku = ca.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and not ku.value.digital_signature
    bc = ee.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and not bc.value.ca
    ku = ee.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.key_cert_sign
    eku = ee.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ObjectIdentifier(C2PA_CLAIM_SIGNING),
                         ExtendedKeyUsageOID.EMAIL_PROTECTION]
    aki = ee.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    # The subject key is the custody key's, read from custody.
    assert ee.public_key().public_bytes_raw() == signing_key.public_key  # type: ignore[union-attr]
    assert ee.not_valid_before_utc <= NOW < ee.not_valid_after_utc
    assert ee.issuer == ca.subject


def test_refusals(custodies: tuple[Any, Any]) -> None:
    root, keys = custodies
    ca_der, ee_der, signing_key = _chain(custodies)
    ca = x509.load_der_x509_certificate(ca_der)
    other_root = root.generate()
    with pytest.raises(ValidationError, match="claim-signing"):
        issue_signing_certificate(root, other_root.keyid, ca_der, keys, signing_key.keyid,
                                  "x", now=NOW, purposes=(EMAIL_PROTECTION,))
    with pytest.raises(ValidationError, match="anyExtendedKeyUsage"):
        issue_signing_certificate(root, other_root.keyid, ca_der, keys, signing_key.keyid,
                                  "x", now=NOW, purposes=(C2PA_CLAIM_SIGNING, "2.5.29.37.0"))
    with pytest.raises(ValidationError, match="not the certificate of that CA key"):
        issue_signing_certificate(root, other_root.keyid, ca_der, keys, signing_key.keyid,
                                  "x", now=NOW)
    with pytest.raises(ValidationError, match="not a CA"):
        issue_signing_certificate(root, other_root.keyid, ee_der, keys, signing_key.keyid,
                                  "x", now=NOW)
    with pytest.raises(ValidationError, match=r"not a DER X\.509"):
        issue_signing_certificate(root, other_root.keyid, b"\x30\x00", keys,
                                  signing_key.keyid, "x", now=NOW)
    short_ca = create_ca_certificate(root, other_root.keyid, "Short CA", now=NOW, days=30)
    with pytest.raises(ValidationError, match="outlive"):
        issue_signing_certificate(root, other_root.keyid, short_ca, keys, signing_key.keyid,
                                  "x", now=NOW, days=60)
    with pytest.raises(ValidationError, match="characters"):
        create_ca_certificate(root, other_root.keyid, "", now=NOW)
    assert ca.subject.rfc4514_string() == "CN=Acme Tenant CA,O=Acme News"


def _sign_jpeg(chain_pem: str, signing_key: Any, jpeg: bytes,
               settings: dict[str, Any] | None = None) -> bytes:
    # The callback signer: c2pa-rs hands over the COSE Sig_structure, custody signs it.
    signer = c2pa.Signer.from_callback(signing_key.sign, c2pa.C2paSigningAlg.ED25519,
                                       chain_pem, None)
    manifest = {
        "claim_generator_info": [{"name": "sceau-tests", "version": "1"}],
        "title": "custody-signed",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [
            {"action": "c2pa.created", "digitalSourceType": IPTC + "digitalCapture"}]}}],
    }
    context = c2pa.Context(c2pa.Settings.from_dict(
        {"builder": {"thumbnail": {"enabled": False}}, **(settings or {})}))
    out = io.BytesIO()
    c2pa.Builder(manifest, context=context).sign(signer, "image/jpeg", io.BytesIO(jpeg), out)
    return out.getvalue()


def _read(signed: bytes, anchors: str | None, trust: dict[str, str] | None = None
          ) -> tuple[str | None, dict[str, list[str]]]:
    settings: dict[str, Any] = {"verify": {"verify_trust": True,
                                           "remote_manifest_fetch": False,
                                           "ocsp_fetch": False},
                                "trust": dict(trust or {})}
    if anchors:
        settings["trust"]["trust_anchors"] = anchors
    context = c2pa.Context(c2pa.Settings.from_dict(settings))
    reader = c2pa.Reader("image/jpeg", io.BytesIO(signed), context=context)
    results = json.loads(reader.json())["validation_results"]["activeManifest"]
    codes = {kind: sorted({entry["code"] for entry in results.get(kind, [])})
             for kind in ("success", "informational", "failure")}
    return reader.get_validation_state(), codes


def test_c2pa_python_accepts_the_chain(custodies: tuple[Any, Any]) -> None:
    ca_der, ee_der, signing_key = _chain(custodies, now=datetime.now(UTC))
    jpeg = jpeg_bytes(seed=7)
    signed = _sign_jpeg(to_pem(ee_der, ca_der), signing_key, jpeg)
    state, codes = _read(signed, to_pem(ca_der))
    assert state == "Trusted", codes
    assert codes["failure"] == []
    assert {"signingCredential.trusted", "claimSignature.validated",
            "claimSignature.insideValidity", "assertion.dataHash.match"} <= set(
                codes["success"])
    # Without the tenant CA as a trust anchor: valid, but the signer is not trusted.
    state, codes = _read(signed, None)
    assert state == "Valid"
    assert codes["failure"] == ["signingCredential.untrusted"]
    assert "claimSignature.validated" in codes["success"]
    # Another CA as the anchor: not trusted either.
    other_ca, _, _ = _chain(custodies, now=datetime.now(UTC))
    assert _read(signed, to_pem(other_ca))[1]["failure"] == ["signingCredential.untrusted"]


def test_claim_signing_eku_alone(custodies: tuple[Any, Any]) -> None:
    """c2pa-rs 0.91 refuses the claim-signing EKU alone with its default EKU list, and
    accepts it once its trust configuration lists it (hence emailProtection by default)."""
    ca_der, ee_der, signing_key = _chain(custodies, now=datetime.now(UTC),
                                         purposes=(C2PA_CLAIM_SIGNING,))
    chain = to_pem(ee_der, ca_der)
    with pytest.raises(c2pa.C2paError, match="missing required EKU"):
        _sign_jpeg(chain, signing_key, jpeg_bytes(seed=8))
    eku_list = {"trust_config": C2PA_CLAIM_SIGNING + "\n"}
    signed = _sign_jpeg(chain, signing_key, jpeg_bytes(seed=8), {"trust": eku_list})
    assert _read(signed, to_pem(ca_der))[1]["failure"] == ["signingCredential.invalid",
                                                           "signingCredential.untrusted"]
    state, codes = _read(signed, to_pem(ca_der), eku_list)
    assert state == "Trusted" and codes["failure"] == []


def test_expired_certificate_is_reported(custodies: tuple[Any, Any]) -> None:
    ca_der, ee_der, signing_key = _chain(custodies,
                                         now=datetime.now(UTC) - timedelta(days=400))
    with pytest.raises(c2pa.C2paError, match="not valid at time of signing"):
        _sign_jpeg(to_pem(ee_der, ca_der), signing_key, jpeg_bytes(seed=9))
