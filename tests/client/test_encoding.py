"""Wire encodings (docs/SPEC.md §2.3): canonical unpadded base64url, lowercase hex."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sceau.encoding import b64url_decode, b64url_encode, hex_decode

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_round_trip(data: bytes) -> None:
    text = b64url_encode(data)
    assert "=" not in text
    assert set(text) <= set(ALPHABET)
    assert len(text) == (len(data) * 4 + 2) // 3
    assert text == base64.urlsafe_b64encode(data).decode().rstrip("=")
    assert b64url_decode(text) == data
    assert b64url_decode(text, max_len=len(data)) == data


@settings(max_examples=400, deadline=None)
@given(st.text(st.sampled_from(ALPHABET + "=+/ \n."), max_size=16))
def test_one_encoding_per_byte_string(text: str) -> None:
    """Whatever decodes re-encodes to exactly the same text: there is no second spelling."""
    try:
        data = b64url_decode(text)
    except ValueError:
        return
    assert b64url_encode(data) == text


@pytest.mark.parametrize("text", [
    "AA==", "AAA=", "AA=", "QUJD=",          # padding
    "+w", "/w", "ab+c", "ab/c",               # standard alphabet
    "AB", "AAB", "AAAAAB", "AF", "AAd",       # non-zero unused trailing bits
    "A", "AAAAA",                              # impossible length (4n+1)
    "QU JD", "QUJD\n", " QUJD", "QU\tJD",      # whitespace
    "QUJD.", "QUJ*", "ÀÁ", "٠١٢٣",             # outside the alphabet (incl. non-ASCII digits)
])
def test_rejects_non_canonical(text: str) -> None:
    with pytest.raises(ValueError):
        b64url_decode(text)


@pytest.mark.parametrize("value", [None, b"QUJD", 123, ["QUJD"]])
def test_rejects_non_strings(value: object) -> None:
    with pytest.raises(ValueError):
        b64url_decode(value)  # type: ignore[arg-type]


def test_trailing_bit_rule_examples() -> None:
    assert b64url_decode("AA") == b"\x00"
    assert b64url_decode("AAA") == b"\x00\x00"
    assert b64url_decode("") == b""
    assert b64url_decode("_w") == b"\xff"
    assert b64url_decode("__8") == b"\xff\xff"


def test_max_len() -> None:
    text = b64url_encode(bytes(64))
    assert len(b64url_decode(text, max_len=64)) == 64
    with pytest.raises(ValueError):
        b64url_decode(text, max_len=63)


def test_hex_decode() -> None:
    assert hex_decode("00ff10", 3) == b"\x00\xff\x10"
    for bad in ["00FF10", "00ff1", "00ff1000", "0xff10", "00 ff1", "gg0000", "٠٠ff10", None]:
        with pytest.raises(ValueError):
            hex_decode(bad, 3)  # type: ignore[arg-type]
