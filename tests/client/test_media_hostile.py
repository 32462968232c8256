"""Hostile media files: every container parser ends with MalformedMediaError (or parses),
quickly and in little memory, whatever the bytes (docs/SPEC.md §6.3.6).

Hand-made worst cases (truncations, lying lengths, zero-size and 64-bit boxes, floods of
tiny segments, chunks and boxes), then hypothesis mutating real sealed files.
"""

from __future__ import annotations

import contextlib
import hashlib
import struct
import tempfile
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sceau import LocalSigner
from sceau.errors import MalformedMediaError
from sceau.media import MediaFile, probe, seal_file_locally
from sceau.media.bmff import SCEAU_UUID

from .. import mediafiles

SIGNER = LocalSigner.from_seed(hashlib.sha256(b"sceau hostile media key").digest())
#: Every parse of a hostile file must end within this (generous for a loaded 2-core box).
TIME_LIMIT = 2.0


def _probe_bytes(data: bytes, suffix: str = ".bin") -> MediaFile | None:
    """Write ``data`` to a file and probe it; also read the seal and hash the content."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"f{suffix}"
        path.write_bytes(data)
        start = time.monotonic()
        media = probe(path)
        if media is not None:
            media.embedded_seal()
            media.content_digest(chunked=False)
        assert time.monotonic() - start < TIME_LIMIT
        return media


def _malformed(data: bytes, match: str | None = None) -> None:
    with pytest.raises(MalformedMediaError, match=match):
        _probe_bytes(data)


def _png_chunk(ctype: bytes, data: bytes = b"") -> bytes:
    return (struct.pack(">I", len(data)) + ctype + data
            + struct.pack(">I", zlib.crc32(ctype + data)))


IHDR = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
PNG_SIG = b"\x89PNG\r\n\x1a\n"
FTYP = struct.pack(">I", 16) + b"ftypisom" + b"\x00\x00\x02\x00"


def _riff(chunks: bytes, size: int | None = None) -> bytes:
    return b"RIFF" + struct.pack("<I", 4 + len(chunks) if size is None else size) + b"WEBP" \
        + chunks


VP8L = b"VP8L" + struct.pack("<I", 6) + b"\x2f\x00\x00\x00\x00\x00"


# -- JPEG -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "why"), [
    (b"\xff\xd8\xff", "truncated"),
    (b"\xff\xd8\xff\xe0\x00", "truncated"),
    (b"\xff\xd8\xff\xe0\x00\x01", "length 1"),
    (b"\xff\xd8\xff\xe0\xff\xff" + bytes(10), "runs past"),
    (b"\xff\xd8\xff\xd9", "unexpected marker"),
    (b"\xff\xd8\xff\xd8", "unexpected marker"),
    (b"\xff\xd8\xff\x00", "unexpected marker"),
    (b"\xff\xd8\xff\xe0\x00\x02\x00\x00", "expected a marker"),
    (b"\xff\xd8" + b"\xff" * 5000 + b"\xda", "fill bytes"),
    (b"\xff\xd8\xff\xe0\x00\x04ab", "truncated"),  # no SOS before the end
])
def test_jpeg_hostile(data: bytes, why: str) -> None:
    _malformed(data, why)


def test_jpeg_million_tiny_segments() -> None:
    data = b"\xff\xd8" + b"\xff\xe0\x00\x02" * 1_000_000 + b"\xff\xda"
    tracemalloc.start()
    try:
        _malformed(data, "more than 65536")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < len(data) + (8 << 20)  # the test's own copy of the bytes, and little else


def test_jpeg_two_seals_or_disordered_segments() -> None:
    def ours(seq: int) -> bytes:
        payload = b"SCEAU\x00" + struct.pack(">H", seq) + b"x"
        return b"\xff\xeb" + struct.pack(">H", 2 + len(payload)) + payload

    sos = b"\xff\xda\x00\x02"
    _malformed(b"\xff\xd8" + ours(0) + ours(0) + sos, "one run")
    _malformed(b"\xff\xd8" + ours(1) + sos, "one run")
    _malformed(b"\xff\xd8" + ours(0) + b"\xff\xe1\x00\x02" + ours(1) + sos, "one run")


def test_jpeg_other_app11_is_not_ours() -> None:
    jumbf = b"\xff\xeb\x00\x0cJP\x02\x11\x00\x01\x00\x00\x00\x00"
    media = _probe_bytes(b"\xff\xd8" + jumbf + b"\xff\xda\x00\x02")
    assert media is not None and media.layout.region is None


# -- PNG --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "why"), [
    (PNG_SIG, "truncated"),
    (PNG_SIG + _png_chunk(b"IDAT", b"x"), "IHDR"),
    (PNG_SIG + IHDR + struct.pack(">I", 2**31) + b"IDAT", "invalid chunk"),
    (PNG_SIG + IHDR + struct.pack(">I", 1000) + b"IDAT" + bytes(10), "runs past"),
    (PNG_SIG + IHDR + struct.pack(">I", 0) + b"ID\x00T" + bytes(4), "invalid chunk"),
    (PNG_SIG + IHDR + _png_chunk(b"IDAT", b"x"), "truncated"),  # no IEND
    (PNG_SIG + IHDR + _png_chunk(b"scAu", b"a") + _png_chunk(b"scAu", b"b")
     + _png_chunk(b"IEND"), "more than one"),
])
def test_png_hostile(data: bytes, why: str) -> None:
    _malformed(data, why)


def test_png_flood_of_chunks() -> None:
    tiny = _png_chunk(b"tEXt")
    _malformed(PNG_SIG + IHDR + tiny * 300_000 + _png_chunk(b"IEND"), "more than")


# -- WebP -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "why"), [
    (_riff(VP8L, size=10_000), "does not fit"),
    (_riff(VP8L, size=2), "does not fit"),
    (_riff(b"VP8L" + struct.pack("<I", 100) + bytes(6)), "past the RIFF"),
    (_riff(b"ICCP" + struct.pack("<I", 2) + b"ab"), "not VP8"),
    (_riff(b""), "no chunk"),
    (_riff(VP8L + b"SCAU\x02\x00\x00\x00ab" + b"SCAU\x02\x00\x00\x00ab"), "more than one"),
    (_riff(b"VP8L" + struct.pack("<I", 0xFFFFFFFF)), "past the RIFF"),
])
def test_webp_hostile(data: bytes, why: str) -> None:
    _malformed(data, why)


def test_webp_flood_of_chunks() -> None:
    _malformed(_riff(VP8L + b"JUNK\x00\x00\x00\x00" * 70_000), "more than")


# -- ISO BMFF ---------------------------------------------------------------------------------


def _box(btype: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I", 8 + len(payload)) + btype + payload


@pytest.mark.parametrize(("data", "why"), [
    (FTYP + struct.pack(">I", 4) + b"free", "smaller than its header"),
    (FTYP + struct.pack(">I", 1) + b"mdat" + struct.pack(">Q", 8), "smaller than"),
    (FTYP + struct.pack(">I", 1) + b"mdat" + struct.pack(">Q", 2**63), "runs past"),
    (FTYP + struct.pack(">I", 1) + b"mdat", "truncated"),
    (FTYP + struct.pack(">I", 0xFFFFFFFF) + b"mdat", "runs past"),
    (FTYP + b"\x00\x00", "truncated"),
    (FTYP + _box(b"uuid", SCEAU_UUID + b"a") + _box(b"uuid", SCEAU_UUID + b"b"),
     "more than one"),
])
def test_bmff_hostile(data: bytes, why: str) -> None:
    _malformed(data, why)


def test_what_the_magic_bytes_do_not_say_is_not_parsed() -> None:
    assert _probe_bytes(_box(b"moov") + FTYP, ".mp4") is None  # ftyp must come first
    assert _probe_bytes(b"\xff\xd8", ".jpg") is None
    assert _probe_bytes(b"RIFF\x04\x00\x00\x00WAVE", ".webp") is None


def test_bmff_zero_size_box_is_the_last() -> None:
    # Size 0 = "to the end of the file": the walk ends there, whatever follows.
    media = _probe_bytes(FTYP + b"\x00\x00\x00\x00mdat" + FTYP * 100)
    assert media is not None and media.layout.unembeddable is not None


def test_bmff_flood_of_boxes() -> None:
    _malformed(FTYP + _box(b"free") * 300_000, "more than")


# -- hypothesis: mutations of real sealed files ---------------------------------------------


@pytest.fixture(scope="module")
def sealed_files() -> Iterator[dict[str, bytes]]:
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for kind in ("jpeg", "png", "webp-extended", "mp4-h264"):
            path = mediafiles.make(kind, Path(tmp))
            seal_file_locally(path, SIGNER, tenant="newsroom", created=datetime.now(UTC))
            files[kind] = path.read_bytes()
        yield files


_FIELD_VALUES = st.sampled_from([0, 1, 2, 7, 8, 12, 16, 0xFF, 0xFFFF, 0x7FFFFFFF,
                                 0xFFFFFFFF, 0xFFFFFFF0])


@st.composite
def mutations(draw: st.DrawFn, data: bytes) -> bytes:
    """A sealed file with a few structure-aware mutations: byte flips (mostly near the
    headers), a 4-byte field set to an extreme value, a truncation, an insertion."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "field", "truncate", "insert", "delete"]))
        if not out:
            break
        hot = min(len(out), 8192)  # headers and our region live near the start (or end)
        at = draw(st.one_of(st.integers(0, hot - 1),
                            st.integers(max(0, len(out) - 8192), len(out) - 1)))
        if kind == "flip":
            out[at] ^= draw(st.integers(1, 255))
        elif kind == "field":
            value = draw(_FIELD_VALUES)
            fmt = draw(st.sampled_from([">I", "<I", ">H"]))
            packed = struct.pack(fmt, value & (0xFFFF if fmt == ">H" else 0xFFFFFFFF))
            out[at:at + len(packed)] = packed
        elif kind == "truncate":
            del out[at:]
        elif kind == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=64))
        else:
            del out[at:at + draw(st.integers(1, 64))]
    return bytes(out)


@pytest.mark.parametrize("kind", ["jpeg", "png", "webp-extended", "mp4-h264"])
@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_files_parse_or_fail_cleanly(kind: str, sealed_files: dict[str, bytes],
                                             data: st.DataObject) -> None:
    mutated = data.draw(mutations(sealed_files[kind]))
    with contextlib.suppress(MalformedMediaError):
        _probe_bytes(mutated)
