"""What the container parsers share: a bounded reader, the seal record, the parse result.

Every parser reads through :class:`Source`, which refuses to read past the end of the
file and counts what it reads against a budget, and every parser caps the number of
segments, chunks or boxes it walks.  A hostile file therefore ends in
:class:`~sceau.errors.MalformedMediaError` after a bounded amount of work and memory.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field

from sceau.envelope import MAX_ENVELOPE_BYTES
from sceau.errors import MalformedMediaError

__all__ = [
    "MAX_RECORD_BYTES",
    "READ_BUDGET",
    "RECORD_HEADER",
    "RECORD_MAGIC",
    "RECORD_VERSION",
    "DamagedRecordError",
    "Layout",
    "Region",
    "Source",
    "build_record",
    "parse_record",
]

#: Every embedded region holds a *record*: magic, version, reserved byte, envelope length
#: (u32 big-endian), the envelope's bytes, then zero padding (SPEC.md §6.3.1).
RECORD_MAGIC = b"SCEAU\x00"
RECORD_VERSION = 1
RECORD_HEADER = 12
#: A region longer than this is not read (writers' regions are a few hundred KiB at most).
MAX_RECORD_BYTES = 4 << 20
#: Bytes a parser may read from a file while walking its structure (the record aside).
READ_BUDGET = 128 << 20
#: A read outside the current window fetches at least this much (headers are small).
_READ_AHEAD = 256


class DamagedRecordError(Exception):
    """Our region was found but its record breaks §6.3.1 (reported as a malformed seal)."""


@dataclass(frozen=True, slots=True)
class Region:
    """A byte range of a file: ``[start, start + length)``."""

    start: int
    length: int

    @property
    def end(self) -> int:
        """One past the last byte."""
        return self.start + self.length


@dataclass(frozen=True, slots=True)
class Layout:
    """What a container parser found in a file.

    ``region``: our seal's region in the file, if any.  ``record``: its record bytes
    (JPEG: the segments' fragments joined).  ``insert_at``: where a new region goes, as an
    offset into the *content* (the file with ``region`` removed).  ``content_patches``:
    ``(offset, bytes)`` that the content has in place of the file's bytes (the WebP RIFF
    size, §6.3.4).  ``unembeddable``: why a region cannot be added, if it cannot.
    """

    container: str
    file_size: int
    region: Region | None
    record: bytes | None
    insert_at: int
    content_patches: tuple[tuple[int, bytes], ...] = ()
    unembeddable: str | None = None
    notes: tuple[str, ...] = field(default=())
    #: WebP only: the RIFF size of the content (the file without our chunk).
    content_riff_size: int | None = None

    @property
    def content_size(self) -> int:
        """Size of the file without our region."""
        return self.file_size - (self.region.length if self.region else 0)

    @property
    def exclusions(self) -> tuple[tuple[int, int], ...]:
        """The region as a hard-binding exclusion list."""
        return () if self.region is None else ((self.region.start, self.region.length),)


class Source:
    """Bounded positional reads over an open file.

    ``read(offset, n)`` returns exactly ``n`` bytes or raises
    :class:`~sceau.errors.MalformedMediaError` (the file ends first, or the read budget is
    spent).  Small reads are served from a little read-ahead window.
    """

    def __init__(self, fd: int, size: int, *, budget: int = READ_BUDGET) -> None:
        self.fd = fd
        self.size = size
        self.budget = budget
        self.spent = 0
        self._win_start = 0
        self._win = b""

    def read(self, offset: int, n: int, what: str = "data") -> bytes:
        """Exactly ``n`` bytes at ``offset``."""
        if offset < 0 or n < 0 or offset + n > self.size:
            raise MalformedMediaError(f"truncated file: {what} at byte {offset} runs past "
                                      f"the end ({self.size} bytes)")
        rel = offset - self._win_start
        if rel >= 0 and rel + n <= len(self._win):
            return self._win[rel:rel + n]
        want = min(max(n, _READ_AHEAD), self.size - offset)
        self.spent += want
        if self.spent > self.budget:
            raise MalformedMediaError(f"the file's structure needs more than {self.budget} "
                                      "bytes of reading; refusing to go on")
        data = os.pread(self.fd, want, offset)
        if len(data) < n:
            raise MalformedMediaError(f"the file ended while reading {what} (it changed?)")
        self._win_start, self._win = offset, data
        return data[:n]

    def u8(self, offset: int, what: str = "byte") -> int:
        """One unsigned byte."""
        return self.read(offset, 1, what)[0]

    def be16(self, offset: int, what: str = "length") -> int:
        """Unsigned 16-bit big-endian."""
        return int(struct.unpack(">H", self.read(offset, 2, what))[0])

    def be32(self, offset: int, what: str = "length") -> int:
        """Unsigned 32-bit big-endian."""
        return int(struct.unpack(">I", self.read(offset, 4, what))[0])

    def be64(self, offset: int, what: str = "length") -> int:
        """Unsigned 64-bit big-endian."""
        return int(struct.unpack(">Q", self.read(offset, 8, what))[0])

    def le32(self, offset: int, what: str = "length") -> int:
        """Unsigned 32-bit little-endian."""
        return int(struct.unpack("<I", self.read(offset, 4, what))[0])

    def region_bytes(self, start: int, length: int) -> bytes:
        """A whole region, outside the parsing budget but capped at MAX_RECORD_BYTES."""
        if length > MAX_RECORD_BYTES:
            raise MalformedMediaError(f"the seal region is {length} bytes; at most "
                                      f"{MAX_RECORD_BYTES} are read")
        if start < 0 or start + length > self.size:
            raise MalformedMediaError("truncated file: the seal region runs past the end")
        data = os.pread(self.fd, length, start)
        if len(data) != length:
            raise MalformedMediaError("the file ended while reading the seal (it changed?)")
        return data


def build_record(envelope: bytes, length: int) -> bytes:
    """A record of exactly ``length`` bytes holding ``envelope`` (SPEC.md §6.3.1)."""
    if not 2 <= len(envelope) <= MAX_ENVELOPE_BYTES:
        raise ValueError("the envelope must be 2 to 262144 bytes")
    if length < RECORD_HEADER + len(envelope):
        raise ValueError(f"a record of {length} bytes cannot hold a {len(envelope)}-byte "
                         "envelope")
    header = RECORD_MAGIC + bytes((RECORD_VERSION, 0)) + struct.pack(">I", len(envelope))
    return header + envelope + bytes(length - RECORD_HEADER - len(envelope))


def parse_record(record: bytes) -> bytes:
    """The envelope bytes a record holds; :class:`DamagedRecordError` if it breaks §6.3.1."""
    if len(record) < RECORD_HEADER or not record.startswith(RECORD_MAGIC):
        raise DamagedRecordError("the seal record does not start with its magic bytes")
    if record[6] != RECORD_VERSION:
        raise DamagedRecordError(f"seal record version {record[6]} is not supported")
    if record[7] != 0:
        raise DamagedRecordError("the seal record's reserved byte is not zero")
    n = int(struct.unpack(">I", record[8:12])[0])
    if not 2 <= n <= MAX_ENVELOPE_BYTES or RECORD_HEADER + n > len(record):
        raise DamagedRecordError("the seal record's envelope length is out of range")
    if record.count(0, RECORD_HEADER + n) != len(record) - RECORD_HEADER - n:
        raise DamagedRecordError("the seal record's padding is not all zero bytes")
    return record[RECORD_HEADER:RECORD_HEADER + n]
