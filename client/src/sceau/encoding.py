"""Byte encodings used on the wire: strict base64url (RFC 4648 §5, no padding) and hex."""

from __future__ import annotations

import base64
import binascii
import re

__all__ = ["b64url_decode", "b64url_encode", "hex_decode"]

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_HEX = re.compile(r"[0-9a-f]*")


def b64url_encode(data: bytes) -> str:
    """Base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str, *, max_len: int | None = None) -> bytes:
    """Decode canonical unpadded base64url; raise ValueError on anything else.

    Canonical means: only the URL-safe alphabet, no padding, no whitespace, and zero
    unused trailing bits, so each byte string has exactly one accepted encoding.
    """
    if not isinstance(text, str):
        raise ValueError("base64url value must be a string")
    if max_len is not None and len(text) > (max_len * 4 + 2) // 3:
        raise ValueError("base64url value is too long")
    if len(text) % 4 == 1 or _B64URL.fullmatch(text) is None:
        raise ValueError("not canonical unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not canonical unpadded base64url") from None
    if b64url_encode(data) != text:
        raise ValueError("base64url value has non-zero trailing bits")
    return data


def hex_decode(text: str, length: int) -> bytes:
    """Decode exactly ``length`` bytes of lowercase hex; raise ValueError otherwise."""
    if not isinstance(text, str) or len(text) != 2 * length or _HEX.fullmatch(text) is None:
        raise ValueError(f"expected {2 * length} lowercase hex digits")
    return bytes.fromhex(text)
