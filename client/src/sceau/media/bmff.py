"""ISO BMFF (MP4, MOV, ...): the seal in a top-level ``uuid`` box (SPEC.md §6.3.5).

ISO/IEC 14496-12 §4.2: a box is size (u32 BE), type (4 bytes), then, when size is 1, a
64-bit ``largesize``; size 0 means the box runs to the end of the file (last box only);
type ``uuid`` is followed by a 16-byte extended type.  Only the top-level boxes are
walked; nothing inside them is parsed.

Our box is appended after the last top-level box, so no byte before it moves and no chunk
offset (``stco``/``co64``, ``tfhd``/``trun`` base offsets) changes; the file can be sealed
by appending in place.  When the last box is ``mfra`` (movie fragment random access, whose
trailing ``mfro`` readers look for at the very end of the file, §8.8.11), ours goes just
before it.  A file whose last box has size 0 cannot take a box after it.
"""

from __future__ import annotations

import struct
import uuid

from sceau.errors import MalformedMediaError
from sceau.media._base import Layout, Region, Source

__all__ = ["BOX_OVERHEAD", "MAX_BOXES", "SCEAU_UUID", "build_region", "parse"]

#: The extended type of Sceau's box (a random UUID, fixed for ever).
SCEAU_UUID = uuid.UUID("25d28ad6-71d5-4417-8da6-f440f64724e7").bytes
#: size (4) + ``uuid`` (4) + extended type (16).
BOX_OVERHEAD = 24
MAX_BOXES = 262144


def parse(src: Source) -> Layout:
    """Walk the top-level boxes."""
    pos = 0
    boxes: list[tuple[int, bytes, int]] = []  # (start, type, end)
    region: Region | None = None
    open_ended = False
    while pos < src.size:
        if len(boxes) >= MAX_BOXES:
            raise MalformedMediaError(f"more than {MAX_BOXES} top-level boxes")
        size = src.be32(pos, "box size")
        btype = src.read(pos + 4, 4, "box type")
        header = 8
        if size == 1:
            size = src.be64(pos + 8, "box largesize")
            header = 16
        elif size == 0:
            size = src.size - pos
            open_ended = True
        if size < header:
            raise MalformedMediaError(f"box at byte {pos} declares size {size}, smaller "
                                      "than its header")
        end = pos + size
        if end > src.size:
            raise MalformedMediaError(f"truncated file: the {btype!r} box at byte {pos} "
                                      "runs past the end")
        if not boxes and btype != b"ftyp":
            raise MalformedMediaError("the first box is not ftyp")
        if btype == b"uuid" and size >= header + 16 and src.read(
                pos + header, 16, "uuid extended type") == SCEAU_UUID:
            if region is not None:
                raise MalformedMediaError("more than one Sceau uuid box (two seals?)")
            if header != 8:
                raise MalformedMediaError("the Sceau uuid box uses a 64-bit size")
            region = Region(pos, size)
        boxes.append((pos, btype, end))
        pos = end
    if not boxes:
        raise MalformedMediaError("an empty file")
    record = None
    if region is not None:
        record = src.region_bytes(region.start, region.length)[BOX_OVERHEAD:]
    others = [b for b in boxes if region is None or b[0] != region.start]
    content_size = src.size - (region.length if region else 0)
    insert = content_size
    if others and others[-1][1] == b"mfra":
        insert = others[-1][0] - (region.length if region and region.start < others[-1][0]
                                  else 0)
    unembeddable = None
    if open_ended and (region is None or boxes[-1][0] != region.start):
        unembeddable = ("its last box runs to the end of the file (size 0), so nothing can "
                        "follow it; rewrite the file with a definite size (e.g. "
                        "ffmpeg -c copy) or seal it with a sidecar")
    return Layout("bmff", src.size, region, record, insert, unembeddable=unembeddable)


def build_region(record: bytes) -> bytes:
    """The ``uuid`` box holding ``record``."""
    size = BOX_OVERHEAD + len(record)
    if size > 0xFFFFFFFF:
        raise ValueError("a Sceau box is smaller than 4 GiB")
    return struct.pack(">I", size) + b"uuid" + SCEAU_UUID + record
