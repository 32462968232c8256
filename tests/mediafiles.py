"""Real media files for the tests, made here by Pillow (JPEG, PNG, WebP), PyAV (MP4 with
H.264 or MPEG-4 Part 2, MOV) and c2pa-python (the same files with a standard C2PA
manifest, signed by a throw-away test CA made with ``cryptography``)."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

#: name -> (suffix, writer); each writer makes the file at the given path.
Maker = Callable[[Path], None]


def gradient(width: int = 96, height: int = 64, mode: str = "RGB") -> Image.Image:
    """A picture where every pixel differs from its neighbours (no flat areas)."""
    img = Image.new("RGB", (width, height))
    img.putdata([((x * 7 + y) % 256, (y * 5) % 256, (x * y) % 256)
                 for y in range(height) for x in range(width)])
    if mode == "RGBA":
        img = img.convert("RGBA")
        img.putalpha(Image.linear_gradient("L").resize((width, height)))
    return img


def jpeg(path: Path) -> None:
    """A baseline JPEG with JFIF and Exif segments (Pillow)."""
    exif = Image.Exif()
    exif[0x010F] = "Sceau Test Camera"  # Make
    gradient().save(path, "JPEG", quality=92, exif=exif.tobytes())


def png(path: Path) -> None:
    """An RGB PNG with a text chunk (Pillow)."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "made by the Sceau tests")
    gradient().save(path, "PNG", pnginfo=info)


def webp_lossy(path: Path) -> None:
    """A simple-format lossy WebP (a single VP8 chunk)."""
    gradient().save(path, "WEBP", quality=80)


def webp_lossless(path: Path) -> None:
    """A simple-format lossless WebP (a single VP8L chunk)."""
    gradient().save(path, "WEBP", lossless=True)


def webp_extended(path: Path) -> None:
    """An extended-format WebP (VP8X, ALPH, VP8): lossy with an alpha channel."""
    gradient(mode="RGBA").save(path, "WEBP", quality=80)


def _video(path: Path, container: str, codec: str, frames: int = 6) -> None:
    import av

    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=12)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            img = gradient(64, 48).rotate(i * 15)
            for packet in stream.encode(av.VideoFrame.from_image(img)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def mp4_h264(path: Path) -> None:
    """An MP4 with H.264 video (libx264)."""
    _video(path, "mp4", "libx264")


def mp4_mpeg4(path: Path) -> None:
    """An MP4 with MPEG-4 Part 2 video."""
    _video(path, "mp4", "mpeg4")


def mov(path: Path) -> None:
    """A QuickTime MOV with H.264 video."""
    _video(path, "mov", "libx264")


MAKERS: dict[str, tuple[str, Maker]] = {
    "jpeg": (".jpg", jpeg),
    "png": (".png", png),
    "webp-lossy": (".webp", webp_lossy),
    "webp-lossless": (".webp", webp_lossless),
    "webp-extended": (".webp", webp_extended),
    "mp4-h264": (".mp4", mp4_h264),
    "mp4-mpeg4": (".mp4", mp4_mpeg4),
    "mov": (".mov", mov),
}
MEDIA_TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
               ".mp4": "video/mp4", ".mov": "video/quicktime"}


def make(kind: str, directory: Path, name: str | None = None) -> Path:
    """Make a file of ``kind`` (a key of :data:`MAKERS`) in ``directory``."""
    suffix, maker = MAKERS[kind]
    path = directory / f"{name or kind}{suffix}"
    maker(path)
    return path


def pixels(path: Path) -> list[tuple[str, tuple[int, int], bytes]]:
    """What a decoder sees: each image's or frame's mode, size and pixel bytes."""
    if path.suffix in (".mp4", ".mov"):
        import av

        with av.open(str(path)) as container:
            return [("RGB", (f.width, f.height), f.to_image().tobytes())
                    for f in container.decode(video=0)]
    with Image.open(path) as img:
        img.load()
        return [(img.mode, img.size, img.tobytes())]


def frame_data_offset(path: Path) -> int:
    """An offset inside the image or frame data (not headers, not our region)."""
    data = path.read_bytes()
    if path.suffix == ".jpg":
        return data.index(b"\xff\xda") + 40  # inside the entropy-coded scan
    if path.suffix == ".png":
        return data.index(b"IDAT") + 40
    if path.suffix == ".webp":
        for tag in (b"VP8 ", b"VP8L"):
            if tag in data:
                return data.index(tag) + 30
    return data.index(b"mdat") + 64  # ISO BMFF: inside the media data


# -- C2PA ---------------------------------------------------------------------------------


def c2pa_signer() -> Any:
    """A c2pa-python Ed25519 signer with a throw-away CA and end-entity certificate."""
    import c2pa
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Sceau Tests")])

    now = dt.datetime.now(dt.UTC)
    ca_key = ed25519.Ed25519PrivateKey.generate()
    usage = {k: False for k in ("digital_signature", "content_commitment", "key_encipherment",
                                "data_encipherment", "key_agreement", "key_cert_sign",
                                "crl_sign", "encipher_only", "decipher_only")}
    ca = (x509.CertificateBuilder().subject_name(name("Sceau Test CA"))
          .issuer_name(name("Sceau Test CA")).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(**{**usage, "key_cert_sign": True, "crl_sign": True}),
                         critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, None))
    key = ed25519.Ed25519PrivateKey.generate()
    cert = (x509.CertificateBuilder().subject_name(name("Sceau Test Signer"))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(**{**usage, "digital_signature": True}),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, None))
    chain = cert.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(
        serialization.Encoding.PEM)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ED25519, chain, pem,
                                                     None))


C2PA_MANIFEST = {
    "claim_generator_info": [{"name": "sceau-tests", "version": "1"}],
    "title": "c2pa test asset",
    "assertions": [{"label": "c2pa.actions", "data": {"actions": [{
        "action": "c2pa.created",
        "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture",
    }]}}],
}


def c2pa_sign(source: Path, dest: Path, signer: Any) -> None:
    """Write ``source`` with a C2PA manifest (thumbnails off) to ``dest``."""
    import c2pa

    context = c2pa.Context(c2pa.Settings.from_dict(
        {"builder": {"thumbnail": {"enabled": False}}}))
    builder = c2pa.Builder(C2PA_MANIFEST, context=context)
    media_type = MEDIA_TYPES[source.suffix]
    with open(source, "rb") as src, open(dest, "w+b") as out:
        builder.sign(signer, media_type, src, out)


def c2pa_state(path: Path) -> tuple[str | None, list[str]]:
    """c2pa-python's validation state of a file and its failure codes."""
    import c2pa

    with open(path, "rb") as f:
        reader = c2pa.Reader(MEDIA_TYPES[path.suffix], f)
        results = reader.get_validation_results() or {}
        failures = [item["code"] for item in
                    results.get("activeManifest", {}).get("failure", [])]
        manifest = json.loads(reader.json())
        assert manifest.get("active_manifest")
        return reader.get_validation_state(), failures


def png_bytes(img: Image.Image) -> bytes:
    """``img`` as PNG bytes."""
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()
