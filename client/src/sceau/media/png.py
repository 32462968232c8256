"""PNG: the seal in an ancillary, private, safe-to-copy chunk ``scAu`` (SPEC.md §6.3.3).

PNG specification (ISO/IEC 15948, W3C PNG 3rd ed.) §5: a chunk is length (4, big-endian,
at most 2^31-1), type (4 ASCII letters), data, CRC-32 of type and data.  The case of each
type letter is a property bit (§5.4): ``s`` lowercase = ancillary (a decoder may ignore
it), ``c`` lowercase = private, ``A`` uppercase = the reserved bit (must be 0), ``u``
lowercase = safe to copy.  Only chunk headers are read, never image data.
"""

from __future__ import annotations

import struct
import zlib

from sceau.errors import MalformedMediaError
from sceau.media._base import Layout, Region, Source

__all__ = ["CHUNK_OVERHEAD", "CHUNK_TYPE", "MAX_CHUNKS", "SIGNATURE", "build_region", "parse"]

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHUNK_TYPE = b"scAu"
#: Length (4) + type (4) + CRC (4).
CHUNK_OVERHEAD = 12
MAX_CHUNKS = 262144
_MAX_LENGTH = 2**31 - 1
#: IHDR is the first chunk and has 13 bytes of data: it ends at 8 + 12 + 13.
_AFTER_IHDR = 33


def parse(src: Source) -> Layout:
    """Walk the chunk headers from IHDR to IEND."""
    if src.read(0, 8, "signature") != SIGNATURE:
        raise MalformedMediaError("not a PNG file: bad signature")
    pos = 8
    count = 0
    region: Region | None = None
    crc_ok = True
    while True:
        count += 1
        if count > MAX_CHUNKS:
            raise MalformedMediaError(f"more than {MAX_CHUNKS} chunks")
        length = src.be32(pos, "chunk length")
        ctype = src.read(pos + 4, 4, "chunk type")
        if length > _MAX_LENGTH or not ctype.isalpha() or not ctype.isascii():
            raise MalformedMediaError(f"invalid chunk at byte {pos}")
        end = pos + CHUNK_OVERHEAD + length
        if end > src.size:
            raise MalformedMediaError(f"truncated file: the {ctype.decode()} chunk at byte "
                                      f"{pos} runs past the end")
        if count == 1 and (ctype != b"IHDR" or length != 13):
            raise MalformedMediaError("the first chunk is not a 13-byte IHDR")
        if ctype == CHUNK_TYPE:
            if region is not None:
                raise MalformedMediaError("more than one scAu chunk (two seals?)")
            region = Region(pos, end - pos)
        if ctype == b"IEND":
            break
        pos = end
    record = None
    notes: tuple[str, ...] = ()
    if region is not None:
        chunk = src.region_bytes(region.start, region.length)
        record = chunk[8:-4]
        crc_ok = zlib.crc32(chunk[4:-4]) == struct.unpack(">I", chunk[-4:])[0]
        if not crc_ok:
            notes = ("the scAu chunk's CRC does not match its data",)
    return Layout("png", src.size, region, record, _AFTER_IHDR, notes=notes)


def build_region(record: bytes) -> bytes:
    """The ``scAu`` chunk holding ``record``, CRC included."""
    body = CHUNK_TYPE + record
    return struct.pack(">I", len(record)) + body + struct.pack(">I", zlib.crc32(body))
