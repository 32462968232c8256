"""X.509 certificates for interoperability: a tenant CA and C2PA claim-signing certificates
for keys held in custody, so that standard C2PA manifests can be signed with the same keys.

Both certificates are Ed25519 (RFC 8410) and are signed through a custody
:class:`sceau.Signer`: the CA's private key never leaves custody (an encrypted file or a
PKCS#11 token), and the end-entity's subject public key is read from custody by key id,
never taken from a caller.  The profile follows C2PA 2.1 §14.5.1 (certificate profile):
v3, key usage critical, the end-entity with ``digitalSignature`` only, no CA flag, and an
extended key usage holding the C2PA claim-signing purpose (1.3.6.1.4.1.62558.2.1) and never
``anyExtendedKeyUsage``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sceau.errors import KeyCustodyError, ValidationError
from sceau_keys.custody import Custody

__all__ = ["C2PA_CLAIM_SIGNING", "EMAIL_PROTECTION", "create_ca_certificate",
           "issue_signing_certificate", "to_pem"]

#: id-kp-c2pa-claimSigning (C2PA 2.1 §14.5.1.2).
C2PA_CLAIM_SIGNING = "1.3.6.1.4.1.62558.2.1"
#: id-kp-emailProtection (RFC 5280 §4.2.1.12), also on C2PA's list of accepted purposes.
EMAIL_PROTECTION = "1.3.6.1.5.5.7.3.4"
_ANY_EKU = "2.5.29.37.0"
_MAX_NAME = 64  # ub-common-name (RFC 5280 Appendix A)


def _name(common_name: str, organization: str | None) -> Any:
    if not common_name or len(common_name) > _MAX_NAME or (
            organization is not None and not 0 < len(organization) <= _MAX_NAME):
        raise ValidationError(f"certificate names are 1 to {_MAX_NAME} characters")
    fields = {"common_name": common_name}
    if organization:
        fields["organization_name"] = organization
    return asn1_x509.Name.build(fields, use_printable=False)


def _time(when: datetime) -> Any:
    # RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
    when = when.astimezone(UTC).replace(microsecond=0)
    return asn1_x509.Time({"utc_time" if when.year < 2050 else "general_time": when})


def _key_id(public_key: bytes) -> bytes:
    # RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits.
    return hashlib.sha1(public_key, usedforsecurity=False).digest()


def _spki(public_key: bytes) -> Any:
    return asn1_keys.PublicKeyInfo({"algorithm": {"algorithm": "ed25519"},
                                    "public_key": public_key})


def _sign(tbs: Any, signer: Any, signer_public: bytes) -> bytes:
    tbs_der = tbs.dump()
    signature = signer.sign(tbs_der)
    cert = asn1_x509.Certificate({"tbs_certificate": tbs,
                                  "signature_algorithm": {"algorithm": "ed25519"},
                                  "signature_value": signature})
    der: bytes = cert.dump()
    # The signer is a custody key: check its signature before handing the certificate out.
    loaded = x509.load_der_x509_certificate(der)
    try:
        Ed25519PublicKey.from_public_bytes(signer_public).verify(
            loaded.signature, loaded.tbs_certificate_bytes)
    except InvalidSignature:
        raise KeyCustodyError("the CA key in custody did not sign as its public key "
                              "says") from None
    return der


def _validity(now: datetime, days: int) -> dict[str, Any]:
    if not 1 <= days <= 36_500:
        raise ValidationError("validity is 1 to 36,500 days")
    return {"not_before": _time(now - timedelta(minutes=5)),
            "not_after": _time(now + timedelta(days=days))}


def _serial() -> int:
    # RFC 5280 §4.1.2.2: positive, at most 20 octets; 159 random bits.
    return secrets.randbits(159) | 1


def create_ca_certificate(custody: Custody, keyid: str, common_name: str, *,
                          now: datetime, days: int = 3650,
                          organization: str | None = None) -> bytes:
    """A self-signed Ed25519 CA certificate (DER) for the custody key ``keyid`` (a
    tenant's root key, typically): basic constraints CA (critical), key usage
    keyCertSign + cRLSign (critical), subject key identifier."""
    public_key = custody.public_key(keyid)
    signer = custody.signer(keyid)
    name = _name(common_name, organization)
    tbs = asn1_x509.TbsCertificate({
        "version": "v3",
        "serial_number": _serial(),
        "signature": {"algorithm": "ed25519"},
        "issuer": name,
        "validity": _validity(now, days),
        "subject": name,
        "subject_public_key_info": _spki(public_key),
        "extensions": [
            {"extn_id": "basic_constraints", "critical": True,
             "extn_value": {"ca": True}},
            {"extn_id": "key_usage", "critical": True,
             "extn_value": {"key_cert_sign", "crl_sign"}},
            {"extn_id": "key_identifier", "critical": False,
             "extn_value": _key_id(public_key)},
        ],
    })
    return _sign(tbs, signer, public_key)


def issue_signing_certificate(ca_custody: Custody, ca_keyid: str, ca_certificate: bytes,
                              custody: Custody, keyid: str, common_name: str, *,
                              now: datetime, days: int = 365,
                              organization: str | None = None,
                              purposes: Sequence[str] = (C2PA_CLAIM_SIGNING,
                                                         EMAIL_PROTECTION)) -> bytes:
    """An end-entity certificate (DER) for the signing key ``keyid`` in ``custody``,
    issued by the CA whose key is ``ca_keyid`` in ``ca_custody`` and whose certificate is
    ``ca_certificate`` (DER).

    The subject public key is read from ``custody``; the CA's key signs the certificate.
    ``purposes`` are the extended key usages (OIDs); the C2PA claim-signing one is
    required and anyExtendedKeyUsage refused.  The default adds emailProtection, which
    c2pa-rs 0.91 (c2pa-python 0.38) needs besides claim-signing (docs/DECISIONS.md).
    """
    if C2PA_CLAIM_SIGNING not in purposes:
        raise ValidationError("a C2PA signing certificate needs the claim-signing EKU")
    if _ANY_EKU in purposes or len(set(purposes)) != len(purposes):
        raise ValidationError("no anyExtendedKeyUsage, no repeated key usage")
    try:
        ca = x509.load_der_x509_certificate(ca_certificate)
        ca_asn1 = asn1_x509.Certificate.load(ca_certificate)
        ca_constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    except (ValueError, x509.ExtensionNotFound):
        raise ValidationError("the CA certificate is not a DER X.509 CA certificate") from None
    if not ca_constraints.ca:
        raise ValidationError("the issuing certificate is not a CA")
    ca_public = ca_custody.public_key(ca_keyid)
    if ca_asn1.public_key["public_key"].native != ca_public:
        raise ValidationError("the CA certificate is not the certificate of that CA key")
    ca_signer = ca_custody.signer(ca_keyid)
    public_key = custody.public_key(keyid)
    if public_key == ca_public:
        raise ValidationError("a signing key is not its own CA")
    not_after = now + timedelta(days=days)
    if not_after > ca.not_valid_after_utc:
        raise ValidationError("the certificate would outlive its CA")
    tbs = asn1_x509.TbsCertificate({
        "version": "v3",
        "serial_number": _serial(),
        "signature": {"algorithm": "ed25519"},
        "issuer": ca_asn1.subject,
        "validity": _validity(now, days),
        "subject": _name(common_name, organization),
        "subject_public_key_info": _spki(public_key),
        "extensions": [
            {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": False}},
            {"extn_id": "key_usage", "critical": True,
             "extn_value": {"digital_signature"}},
            {"extn_id": "extended_key_usage", "critical": False,
             "extn_value": list(purposes)},
            {"extn_id": "key_identifier", "critical": False,
             "extn_value": _key_id(public_key)},
            {"extn_id": "authority_key_identifier", "critical": False,
             "extn_value": {"key_identifier": _key_id(ca_public)}},
        ],
    })
    return _sign(tbs, ca_signer, ca_public)


def to_pem(*certificates: bytes) -> str:
    """PEM text of DER certificates, in order (a chain: end-entity first)."""
    return "".join(asn1_pem.armor("CERTIFICATE", der).decode("ascii")
                   for der in certificates)
