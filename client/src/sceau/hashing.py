"""Streaming content hashing with flat memory (SPEC.md §4.4, §4.5).

One reusable buffer, ``readinto`` and ``memoryview`` slices: no per-chunk allocation, so
memory stays at one buffer whatever the file size, and throughput tracks ``hashlib``
(see ``bench/bench_hashing.py``).

The content of a file that carries an embedded seal is the file with the seal's region
left out (its *exclusions*, §6.3), with a few container bytes read as they were before
embedding (*patches*: the RIFF size of a WebP file).  :func:`hash_file` and
:func:`hash_file_chunked` take both, so the digest of a sealed file equals the digest of
the file before it was sealed.

:func:`hash_file_chunked` computes the chunked (Merkle) binding of large files on every
core: chunks are read with positional reads (``os.preadv``) by a thread pool, a piece of
at most 1 MiB at a time into a buffer that stays in the CPU cache, and ``hashlib`` releases
the GIL while it hashes them; ``workers + 1`` such buffers exist, so memory stays flat.
"""

from __future__ import annotations

import bisect
import hashlib
import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from queue import SimpleQueue
from typing import BinaryIO

from sceau.chunking import LEAF_PREFIX, canonical_chunk_size, chunk_count, merkle_root
from sceau.verify import ContentDigest

__all__ = [
    "CHUNK_SIZE",
    "Progress",
    "hash_bytes",
    "hash_file",
    "hash_file_chunked",
    "hash_stream",
]

CHUNK_SIZE = 1 << 20
#: Called with a number of bytes just hashed (from the calling thread only).
Progress = Callable[[int], None]
Ranges = Sequence[tuple[int, int]]
Patches = Sequence[tuple[int, bytes]]


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


class _Layout:
    """The content of a file of ``size`` bytes: the file minus ``exclusions``.

    ``pieces`` are ``(content_offset, file_offset, length)`` runs in content order.
    """

    def __init__(self, size: int, exclusions: Ranges, patches: Patches) -> None:
        pieces: list[tuple[int, int, int]] = []
        pos = content = 0
        for start, length in exclusions:
            if length <= 0 or start < pos or start + length > size:
                raise ValueError("exclusions must be sorted, disjoint, non-empty and "
                                 "inside the file")
            if start > pos:
                pieces.append((content, pos, start - pos))
                content += start - pos
            pos = start + length
        if size > pos:
            pieces.append((content, pos, size - pos))
            content += size - pos
        for offset, data in patches:
            if offset < 0 or offset + len(data) > size or any(
                    offset < s + n and s < offset + len(data) for s, n in exclusions):
                raise ValueError("a patch must lie inside the file, outside the exclusions")
        self.size = size
        self.length = content
        self.pieces = pieces
        self.patches = tuple(patches)
        self._starts = [p[0] for p in pieces]

    def spans(self, start: int, end: int) -> list[tuple[int, int]]:
        """File ``(offset, length)`` runs holding content bytes ``[start, end)``."""
        out = []
        i = max(0, bisect.bisect_right(self._starts, start) - 1)
        while start < end and i < len(self.pieces):
            c0, f0, n = self.pieces[i]
            if start < c0 + n:
                take = min(end, c0 + n) - start
                out.append((f0 + start - c0, take))
                start += take
            i += 1
        return out

    def patch(self, view: memoryview, file_offset: int) -> None:
        """Overwrite the patched bytes that fall into ``view`` (read at ``file_offset``)."""
        end = file_offset + len(view)
        for offset, data in self.patches:
            lo, hi = max(offset, file_offset), min(offset + len(data), end)
            if lo < hi:
                view[lo - file_offset:hi - file_offset] = data[lo - offset:hi - offset]


def _read_exact(fd: int, view: memoryview, offset: int) -> None:
    """Fill ``view`` from ``offset`` with positional reads; a short file is an error."""
    done = 0
    while done < len(view):
        n = _pread_into(fd, view[done:], offset + done)
        if n <= 0:
            raise OSError(f"the file ended early at byte {offset + done}: it changed while "
                          "it was being read")
        done += n


def _pread_into(fd: int, view: memoryview, offset: int) -> int:
    if hasattr(os, "preadv"):
        return os.preadv(fd, [view], offset)
    data = os.pread(fd, len(view), offset)  # pragma: no cover - platforms without preadv
    view[:len(data)] = data  # pragma: no cover
    return len(data)  # pragma: no cover


def hash_file(path: str | os.PathLike[str], *, chunk_size: int = CHUNK_SIZE,
              exclusions: Ranges = (), patches: Patches = (),
              progress: Progress | None = None) -> ContentDigest:
    """SHA-256 and size of a file, read unbuffered in ``chunk_size`` pieces.

    ``exclusions`` (sorted, disjoint ``(start, length)`` ranges) are left out of the
    digest and ``patches`` (``(offset, bytes)``) replace file bytes before they are hashed
    (SPEC.md §6.3); the digest's ``size`` is always the whole file's.
    """
    with open(path, "rb", buffering=0) as f:
        if not exclusions and not patches:
            h = hashlib.sha256()
            buf = bytearray(chunk_size)
            view = memoryview(buf)
            size = 0
            readinto = f.readinto
            while n := readinto(view):
                h.update(view[:n])
                size += n
                if progress is not None:
                    progress(n)
            return ContentDigest("sha256", h.digest(), size)
        fd = f.fileno()
        layout = _Layout(os.fstat(fd).st_size, exclusions, patches)
        h = hashlib.sha256()
        view = memoryview(bytearray(chunk_size))
        for _, start, length in layout.pieces:
            pos, end = start, start + length
            while pos < end:
                part = view[:min(end - pos, chunk_size)]
                _read_exact(fd, part, pos)
                layout.patch(part, pos)
                h.update(part)
                if progress is not None:
                    progress(len(part))
                pos += len(part)
        return ContentDigest("sha256", h.digest(), layout.size, tuple(exclusions))


def hash_file_chunked(path: str | os.PathLike[str], *, chunk_size: int | None = None,
                      exclusions: Ranges = (), patches: Patches = (),
                      workers: int | None = None,
                      progress: Progress | None = None) -> ContentDigest:
    """The chunked (Merkle) binding of a file (SPEC.md §4.5), hashed on every core.

    ``chunk_size`` defaults to :func:`~sceau.chunking.canonical_chunk_size` of the hashed
    length.  Returns a :class:`ContentDigest` whose ``digest`` is the Merkle root and
    whose ``chunks`` are the leaf hashes.  Memory: ``workers + 1`` buffers of 1 MiB.
    """
    with open(path, "rb", buffering=0) as f:
        fd = f.fileno()
        layout = _Layout(os.fstat(fd).st_size, exclusions, patches)
        size = chunk_size or canonical_chunk_size(layout.length)
        count = chunk_count(layout.length, size)
        threads = max(1, min(workers or os.cpu_count() or 1, count or 1))
        buffers: SimpleQueue[bytearray] = SimpleQueue()
        for _ in range(min(threads + 1, max(count, 1))):
            buffers.put(bytearray(min(size, CHUNK_SIZE)))

        def leaf(index: int) -> bytes:
            start = index * size
            buf = buffers.get()
            try:
                view = memoryview(buf)
                h = hashlib.sha256(LEAF_PREFIX)
                for offset, length in layout.spans(start, min(start + size, layout.length)):
                    pos, stop = offset, offset + length
                    while pos < stop:
                        part = view[:min(stop - pos, len(view))]
                        _read_exact(fd, part, pos)
                        layout.patch(part, pos)
                        h.update(part)  # releases the GIL: other chunks hash meanwhile
                        pos += len(part)
                return h.digest()
            finally:
                buffers.put(buf)

        leaves: list[bytes] = []
        if threads == 1:
            for i in range(count):
                leaves.append(leaf(i))
                if progress is not None:
                    progress(min(size, layout.length - i * size))
        else:
            with ThreadPoolExecutor(threads, thread_name_prefix="sceau-hash") as pool:
                pending: deque[Future[bytes]] = deque()
                try:
                    for i in range(count):
                        if len(pending) > threads:
                            _collect(pending, leaves, size, layout.length, progress)
                        pending.append(pool.submit(leaf, i))
                    while pending:
                        _collect(pending, leaves, size, layout.length, progress)
                finally:
                    for future in pending:
                        future.cancel()
        return ContentDigest("sha256", merkle_root(leaves), layout.size, tuple(exclusions),
                             size, tuple(leaves))


def _collect(pending: deque[Future[bytes]], leaves: list[bytes], size: int, total: int,
             progress: Progress | None) -> None:
    leaves.append(pending.popleft().result())
    if progress is not None:
        progress(min(size, total - (len(leaves) - 1) * size))


def hash_bytes(data: bytes) -> ContentDigest:
    """SHA-256 and size of bytes already in memory."""
    return ContentDigest("sha256", hashlib.sha256(data).digest(), len(data))
