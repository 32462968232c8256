"""Standard C2PA files for the tests: a throw-away test CA (``cryptography``) and JPEGs
signed with c2pa-python's Builder.

c2pa-python 0.38 (c2pa-rs 0.91) signs with Ed25519 and checks the end-entity certificate's
profile (C2PA 2.1 §14.5): key usage ``digitalSignature``, not a CA, and an extended key
usage from its list.  The C2PA claim-signing EKU 1.3.6.1.4.1.62558.2.1 alone was refused
("certificate missing required EKU") in this version, so the certificate also carries
``emailProtection``, which is on the list.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from PIL import Image

C2PA_CLAIM_SIGNING = ObjectIdentifier("1.3.6.1.4.1.62558.2.1")
IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"

_USAGE = dict.fromkeys(("digital_signature", "content_commitment", "key_encipherment",
                        "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign",
                        "encipher_only", "decipher_only"), False)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Sceau Tests")])


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class TestCA:
    """A root CA and one end-entity signing certificate it issued (TEST keys, made at
    test time, never written to the repository)."""

    __test__ = False  # not a pytest class

    anchor_pem: str
    chain_pem: bytes
    key_pem: bytes
    signer_name: str

    @classmethod
    def create(cls, name: str = "Sceau Test CA", signer: str = "Sceau Test Signer") -> TestCA:
        """A new CA and signer certificate, valid from yesterday for 30 days."""
        now = dt.datetime.now(dt.UTC)
        ca_key = ed25519.Ed25519PrivateKey.generate()
        ca = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
              .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - dt.timedelta(days=1))
              .not_valid_after(now + dt.timedelta(days=30))
              .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
              .add_extension(x509.KeyUsage(**{**_USAGE, "key_cert_sign": True,
                                              "crl_sign": True}), critical=True)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                             critical=False)
              .sign(ca_key, None))
        key = ed25519.Ed25519PrivateKey.generate()
        cert = (x509.CertificateBuilder().subject_name(_name(signer)).issuer_name(ca.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                               critical=True)
                .add_extension(x509.KeyUsage(**{**_USAGE, "digital_signature": True}),
                               critical=True)
                .add_extension(x509.ExtendedKeyUsage(
                    [C2PA_CLAIM_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                    critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    ca_key.public_key()), critical=False)
                .sign(ca_key, None))
        key_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        return cls(_pem(ca).decode("ascii"), _pem(cert) + _pem(ca), key_pem, signer)

    def signer(self) -> Any:
        """A fresh c2pa-python signer for this certificate."""
        import c2pa

        return c2pa.Signer.from_info(c2pa.C2paSignerInfo(
            c2pa.C2paSigningAlg.ED25519, self.chain_pem, self.key_pem, None))


def jpeg_bytes(width: int = 96, height: int = 64, seed: int = 0) -> bytes:
    """A real JPEG (Pillow) whose pixels depend on ``seed``."""
    img = Image.new("RGB", (width, height))
    img.putdata([((x * 7 + y + seed) % 256, (y * 5 + seed) % 256, (x * y) % 256)
                 for y in range(height) for x in range(width)])
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def actions(source_type: str | None, *later: dict[str, Any]) -> list[dict[str, Any]]:
    """A C2PA action list: ``c2pa.created`` with an IPTC digital source type, then
    ``later``."""
    first: dict[str, Any] = {"action": "c2pa.created"}
    if source_type is not None:
        first["digitalSourceType"] = IPTC + source_type
    return [first, *later]


def sign_jpeg(jpeg: bytes, ca: TestCA, action_list: list[dict[str, Any]],
              title: str = "c2pa test asset") -> bytes:
    """``jpeg`` with a C2PA manifest holding ``action_list``, signed by ``ca``'s signer."""
    import c2pa

    manifest = {
        "claim_generator_info": [{"name": "sceau-tests", "version": "1"}],
        "title": title,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": action_list}}],
    }
    context = c2pa.Context(c2pa.Settings.from_dict(
        {"builder": {"thumbnail": {"enabled": False}}}))
    builder = c2pa.Builder(manifest, context=context)
    out = io.BytesIO()
    builder.sign(ca.signer(), "image/jpeg", io.BytesIO(jpeg), out)
    return out.getvalue()


def tamper_pixels(signed: bytes) -> bytes:
    """``signed`` with one byte of its entropy-coded image data flipped (the manifest
    untouched): the C2PA data hash no longer matches."""
    end = signed.rindex(b"\xff\xd9")
    at = end - 10
    return signed[:at] + bytes([signed[at] ^ 0x01]) + signed[at + 1:]
