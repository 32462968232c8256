"""Streaming content hashing with flat memory (SPEC.md §4.4).

One reusable buffer, ``readinto`` and ``memoryview`` slices: no per-chunk allocation, so
memory stays at one buffer whatever the file size, and throughput tracks ``hashlib``
(see ``bench/bench_hashing.py``).
"""

from __future__ import annotations

import hashlib
import os
from typing import BinaryIO

from sceau.verify import ContentDigest

__all__ = ["CHUNK_SIZE", "hash_bytes", "hash_file", "hash_stream"]

CHUNK_SIZE = 1 << 20


def hash_stream(stream: BinaryIO, *, chunk_size: int = CHUNK_SIZE) -> ContentDigest:
    """SHA-256 and byte count of everything left in a binary stream."""
    h = hashlib.sha256()
    buf = bytearray(chunk_size)
    view = memoryview(buf)
    size = 0
    readinto = stream.readinto  # type: ignore[attr-defined]  # typeshed's BinaryIO lacks it
    while True:
        n = readinto(view)
        if not n:
            break
        h.update(view[:n])
        size += n
    return ContentDigest("sha256", h.digest(), size)


def hash_file(path: str | os.PathLike[str], *, chunk_size: int = CHUNK_SIZE) -> ContentDigest:
    """SHA-256 and size of a file, read unbuffered in ``chunk_size`` pieces."""
    with open(path, "rb", buffering=0) as f:
        return hash_stream(f, chunk_size=chunk_size)


def hash_bytes(data: bytes) -> ContentDigest:
    """SHA-256 and size of bytes already in memory."""
    return ContentDigest("sha256", hashlib.sha256(data).digest(), len(data))
