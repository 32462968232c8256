"""The chunked (Merkle) hard binding's arithmetic (SPEC.md §4.5).  Pure: no I/O.

The hashed content (the file with its excluded ranges removed, §4.4) is cut into chunks of
``chunk_size`` bytes (the last one shorter).  Each chunk's leaf hash is
``SHA-256(0x00 || chunk)`` and the root is the RFC 9162 §2.1.1 Merkle tree hash over the
leaves, interior nodes being ``SHA-256(0x01 || left || right)``.  The 0x00/0x01 prefixes
(domain separation) keep a leaf from ever passing for an interior node, which is what
makes second-preimage tricks on the tree impossible.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = [
    "CHUNKED_THRESHOLD",
    "DEFAULT_CHUNK_SIZE",
    "LEAF_PREFIX",
    "MAX_CHUNKS",
    "MAX_CHUNK_SIZE",
    "MIN_CHUNK_SIZE",
    "NODE_PREFIX",
    "canonical_chunk_size",
    "chunk_count",
    "is_valid_chunk_size",
    "merkle_root",
]

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
#: Smallest and largest chunk sizes a claim may state (powers of two).
MIN_CHUNK_SIZE = 1 << 10
MAX_CHUNK_SIZE = 1 << 30
#: Writers' chunk size for content up to 4 GiB (1024 chunks); it doubles beyond.
DEFAULT_CHUNK_SIZE = 4 << 20
#: Most leaves a claim may list (1024 x 67 bytes of hex keeps the payload near 70 KB).
MAX_CHUNKS = 1024
#: Writers use the chunked binding for hashed content of at least this many bytes.
CHUNKED_THRESHOLD = 64 << 20


def is_valid_chunk_size(value: int) -> bool:
    """True for a power of two between :data:`MIN_CHUNK_SIZE` and :data:`MAX_CHUNK_SIZE`."""
    return MIN_CHUNK_SIZE <= value <= MAX_CHUNK_SIZE and value & (value - 1) == 0


def canonical_chunk_size(hashed_length: int) -> int:
    """The chunk size writers use for ``hashed_length`` bytes: 4 MiB, doubled until the
    content fits in :data:`MAX_CHUNKS` chunks.  Anyone holding the content can therefore
    recompute the root (and look a seal up by it) without knowing the seal."""
    size = DEFAULT_CHUNK_SIZE
    while size < MAX_CHUNK_SIZE and chunk_count(hashed_length, size) > MAX_CHUNKS:
        size <<= 1
    return size


def chunk_count(hashed_length: int, chunk_size: int) -> int:
    """How many chunks ``hashed_length`` bytes make: ``ceil(length / chunk_size)``."""
    return -(-hashed_length // chunk_size)


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.1 Merkle tree hash over already-hashed leaves.

    The tree splits ``n`` leaves at the largest power of two below ``n``; computed here
    bottom-up level by level, which gives the same tree (an odd last node is promoted
    unchanged).  The empty list's root is ``SHA-256("")``.
    """
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = list(leaves)
    while len(level) > 1:
        nxt = [hashlib.sha256(NODE_PREFIX + level[i] + level[i + 1]).digest()
               for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]
