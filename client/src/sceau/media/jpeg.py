"""JPEG: the seal in APP11 marker segments (SPEC.md §6.3.2; ITU-T T.81 Annex B).

Only the marker segments before the first start-of-scan (SOS) are walked: the entropy
coded data after it is never scanned (it would mean looking at every byte), and Sceau
never writes there.  Our segments are APP11 (0xFFEB) with the identifier ``SCEAU\\0``
and a 16-bit sequence number; any other APP11 (C2PA's JUMBF "JP" segments, JPEG XT) is
someone else's and is left alone.
"""

from __future__ import annotations

import struct

from sceau.errors import MalformedMediaError
from sceau.media._base import Layout, Region, Source

__all__ = ["IDENTIFIER", "MAX_SEGMENTS", "SEGMENT_OVERHEAD", "build_region", "fit_length",
           "parse"]

IDENTIFIER = b"SCEAU\x00"
#: Marker (2) + length field (2) + identifier (6) + sequence number (2).
SEGMENT_OVERHEAD = 12
#: A segment's length field counts itself and is at most 0xFFFF (T.81 B.1.1.4), so the
#: whole segment is at most 0xFFFF + 2 bytes.
MAX_SEGMENT = 0xFFFF + 2
MAX_FRAGMENT = MAX_SEGMENT - SEGMENT_OVERHEAD
#: Marker segments walked before the first SOS at most (real files have a few dozen).
MAX_SEGMENTS = 65536
_APP0, _APP1, _APP11, _SOS, _SOI, _EOI = 0xE0, 0xE1, 0xEB, 0xDA, 0xD8, 0xD9
#: Markers without a length field (T.81 B.1.1.3): TEM and RST0..RST7.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


def parse(src: Source) -> Layout:
    """Walk SOI and the marker segments up to the first SOS."""
    if src.read(0, 2, "SOI") != b"\xff\xd8":
        raise MalformedMediaError("not a JPEG file: no SOI marker")
    pos = 2
    segments: list[tuple[int, int, int]] = []  # (start of FF xx, marker, end)
    ours: list[tuple[int, int, int]] = []  # (start, end, sequence number)
    while True:
        if len(segments) >= MAX_SEGMENTS:
            raise MalformedMediaError(f"more than {MAX_SEGMENTS} marker segments before "
                                      "the image data")
        if src.u8(pos, "marker") != 0xFF:
            raise MalformedMediaError(f"expected a marker at byte {pos}")
        # T.81 B.1.1.2: any marker may be preceded by fill bytes 0xFF.
        fill = 0
        while (code := src.u8(pos + 1, "marker")) == 0xFF:
            pos += 1
            fill += 1
            if fill > 4096:
                raise MalformedMediaError("too many fill bytes")
        if code == _SOS:
            break
        if code in (_SOI, _EOI, 0x00):
            raise MalformedMediaError(f"unexpected marker 0xFF{code:02X} at byte {pos} "
                                      "before any image data")
        if code in _STANDALONE:
            pos += 2
            segments.append((pos - 2, code, pos))
            continue
        length = src.be16(pos + 2, "segment length")
        if length < 2:
            raise MalformedMediaError(f"segment length {length} at byte {pos + 2}")
        end = pos + 2 + length
        if end > src.size:
            raise MalformedMediaError(f"truncated file: the segment at byte {pos} runs past "
                                      "the end")
        if code == _APP11 and length >= 2 + len(IDENTIFIER) + 2 and src.read(
                pos + 4, len(IDENTIFIER), "APP11 identifier") == IDENTIFIER:
            ours.append((pos, end, src.be16(pos + 10, "sequence number")))
        segments.append((pos, code, end))
        pos = end
    region, record = _region(src, ours)
    # Where a region goes: after SOI and the APP0 (JFIF) / APP1 (Exif, XMP) segments that
    # follow it, which those formats require to come first; ours are skipped.
    insert = 2
    for start, code, end in segments:
        if region is not None and region.start <= start < region.end:
            continue
        if code not in (_APP0, _APP1):
            break
        insert = end
    if region is not None and region.start < insert:
        insert -= region.length
    return Layout("jpeg", src.size, region, record, insert)


def _region(src: Source, ours: list[tuple[int, int, int]]) -> tuple[Region | None,
                                                                     bytes | None]:
    if not ours:
        return None, None
    for i, (start, _, seq) in enumerate(ours):
        if seq != i or (i and start != ours[i - 1][1]):
            raise MalformedMediaError("the file's Sceau APP11 segments are not one run "
                                      "numbered from 0 (two seals, or a damaged one)")
    region = Region(ours[0][0], ours[-1][1] - ours[0][0])
    data = src.region_bytes(region.start, region.length)
    fragments = []
    for start, end, _ in ours:
        fragments.append(data[start - region.start + SEGMENT_OVERHEAD:end - region.start])
    return region, b"".join(fragments)


def fit_length(length: int) -> int:
    """The smallest valid region length >= ``length``: every segment, the last one
    included, must carry at least one byte of the record."""
    length = max(length, SEGMENT_OVERHEAD + 12)
    tail = length % MAX_SEGMENT
    if 0 < tail <= SEGMENT_OVERHEAD:
        length += SEGMENT_OVERHEAD + 1 - tail
    return length


def capacity(length: int) -> int:
    """Record bytes a region of ``length`` bytes holds (``length`` from fit_length)."""
    return length - SEGMENT_OVERHEAD * -(-length // MAX_SEGMENT)


def build_region(record: bytes) -> bytes:
    """APP11 segments carrying ``record``: full segments, then the remainder."""
    out = []
    for seq, start in enumerate(range(0, len(record), MAX_FRAGMENT)):
        fragment = record[start:start + MAX_FRAGMENT]
        out.append(b"\xff\xeb" + struct.pack(">H", 2 + len(IDENTIFIER) + 2 + len(fragment))
                   + IDENTIFIER + struct.pack(">H", seq) + fragment)
    return b"".join(out)
