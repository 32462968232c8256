"""WebP: the seal in a RIFF chunk ``SCAU`` at the end of the RIFF (SPEC.md §6.3.4).

RIFF container (WebP container specification, RFC 9649 §2): ``RIFF`` size(u32 LE)
``WEBP`` then chunks of FourCC, size (u32 LE), data, and one pad byte when the size is
odd.  The RIFF size counts everything after its own field, so adding our chunk changes it;
the content (what the seal hashes) has the RIFF size as it was without our chunk, so that
the seal's digest is still the SHA-256 of the unsealed file.

Our chunk goes after the last chunk, in the simple (VP8/VP8L) and the extended (VP8X)
format alike, as C2PA's ``C2PA`` chunk does: the extended format allows unknown chunks
there (RFC 9649 §2.7), and libwebp stops reading a simple-format file after its image
chunk, so no VP8X conversion (which would change the image's own bytes) is needed.
"""

from __future__ import annotations

import struct

from sceau.errors import MalformedMediaError
from sceau.media._base import Layout, Region, Source

__all__ = ["CHUNK_OVERHEAD", "FOURCC", "MAX_CHUNKS", "build_region", "parse", "riff_patch"]

FOURCC = b"SCAU"
CHUNK_OVERHEAD = 8
MAX_CHUNKS = 65536
_IMAGE_CHUNKS = frozenset({b"VP8 ", b"VP8L", b"VP8X"})


def riff_patch(riff_size: int) -> tuple[int, bytes]:
    """The 4 bytes at offset 4 for a RIFF of ``riff_size``."""
    return (4, struct.pack("<I", riff_size))


def parse(src: Source) -> Layout:
    """Walk the RIFF's chunk headers."""
    if src.read(0, 4, "RIFF") != b"RIFF" or src.read(8, 4, "form type") != b"WEBP":
        raise MalformedMediaError("not a WebP file")
    riff_size = src.le32(4, "RIFF size")
    riff_end = 8 + riff_size
    if riff_size < 4 or riff_end > src.size:
        raise MalformedMediaError(f"RIFF size {riff_size} does not fit the file "
                                  f"({src.size} bytes)")
    pos = 12
    count = 0
    region: Region | None = None
    while pos < riff_end:
        count += 1
        if count > MAX_CHUNKS:
            raise MalformedMediaError(f"more than {MAX_CHUNKS} RIFF chunks")
        fourcc = src.read(pos, 4, "chunk FourCC")
        size = src.le32(pos + 4, "chunk size")
        end = pos + CHUNK_OVERHEAD + size + (size & 1)
        if end > riff_end:
            raise MalformedMediaError(f"the {fourcc!r} chunk at byte {pos} runs past the "
                                      "RIFF's end")
        if count == 1 and fourcc not in _IMAGE_CHUNKS:
            raise MalformedMediaError("the first WebP chunk is not VP8, VP8L or VP8X")
        if fourcc == FOURCC:
            if region is not None:
                raise MalformedMediaError("more than one SCAU chunk (two seals?)")
            region = Region(pos, end - pos)
        pos = end
    if count == 0:
        raise MalformedMediaError("a WebP RIFF with no chunk")
    record = None
    patches: tuple[tuple[int, bytes], ...] = ()
    insert = riff_end
    if region is not None:
        chunk = src.region_bytes(region.start, region.length)
        size = struct.unpack("<I", chunk[4:8])[0]
        record = chunk[8:8 + size]
        patches = (riff_patch(riff_size - region.length),)
        insert -= region.length
    return Layout("webp", src.size, region, record, insert, content_patches=patches,
                  content_riff_size=riff_size - (region.length if region else 0))


def build_region(record: bytes) -> bytes:
    """The ``SCAU`` chunk holding ``record`` (padded to an even length)."""
    return (FOURCC + struct.pack("<I", len(record)) + record
            + (b"\x00" if len(record) & 1 else b""))
