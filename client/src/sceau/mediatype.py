"""Media type detection from a file's first bytes ("magic numbers").

Pure: bytes in, a media type out.  Only the container signatures Sceau cares about are
recognised; anything else is ``application/octet-stream``, never a guess from a file name.
"""

from __future__ import annotations

__all__ = ["HEAD_SIZE", "OCTET_STREAM", "sniff"]

#: How many leading bytes :func:`sniff` needs to see to decide.
HEAD_SIZE = 32
OCTET_STREAM = "application/octet-stream"

# ISO base media file format (ISO/IEC 14496-12) major brands that are not plain MP4 video.
# Everything else with an ``ftyp`` box is reported as video/mp4.
_FTYP_BRANDS: dict[bytes, str] = {
    b"qt  ": "video/quicktime",
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"heim": "image/heic",
    b"heis": "image/heic",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
    b"M4A ": "audio/mp4",
    b"M4B ": "audio/mp4",
}


def sniff(head: bytes) -> str:
    """The media type of content starting with ``head`` (pass at least :data:`HEAD_SIZE`
    bytes): JPEG, PNG, GIF, WebP, MP4/MOV (and the HEIF/AVIF/M4A ``ftyp`` brands), PDF;
    ``application/octet-stream`` otherwise."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand.startswith(b"3gp"):
            return "video/3gpp"
        if brand.startswith(b"3g2"):
            return "video/3gpp2"
        return _FTYP_BRANDS.get(brand, "video/mp4")
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return OCTET_STREAM
