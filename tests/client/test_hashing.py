"""Streaming content hashing (docs/SPEC.md §4.4): exact digests, flat memory."""

from __future__ import annotations

import hashlib
import io
import random
import tracemalloc
from pathlib import Path

import pytest

from sceau.hashing import CHUNK_SIZE, hash_bytes, hash_file, hash_stream

SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 12345]


@pytest.fixture(scope="module")
def data() -> bytes:
    return random.Random(20260314).randbytes(max(SIZES))


@pytest.mark.parametrize("size", SIZES)
def test_hash_file_equals_hashlib(tmp_path: Path, data: bytes, size: int) -> None:
    path = tmp_path / "content.bin"
    path.write_bytes(data[:size])
    digest = hash_file(path)
    assert digest.alg == "sha256"
    assert digest.digest == hashlib.sha256(data[:size]).digest()
    assert digest.size == size
    assert hash_file(str(path)) == digest
    assert hash_bytes(data[:size]) == digest
    assert hash_stream(io.BytesIO(data[:size])) == digest


@pytest.mark.parametrize("chunk_size", [1, 7, 4096, CHUNK_SIZE * 4])
def test_chunk_size_does_not_change_the_digest(tmp_path: Path, data: bytes,
                                               chunk_size: int) -> None:
    sample = data[:20_000] if chunk_size < 4096 else data
    path = tmp_path / "content.bin"
    path.write_bytes(sample)
    assert hash_file(path, chunk_size=chunk_size) == hash_bytes(sample)


def test_hash_stream_reads_what_is_left(data: bytes) -> None:
    stream = io.BytesIO(data[:1000])
    stream.read(100)
    assert hash_stream(stream) == hash_bytes(data[100:1000])


def test_memory_stays_flat_on_a_200_mb_file(tmp_path: Path) -> None:
    path = tmp_path / "sparse.bin"
    size = 200 * 1024 * 1024
    with open(path, "wb") as f:
        f.truncate(size)  # sparse: no disk space, reads return zeros
    tracemalloc.start()
    try:
        digest = hash_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert digest.size == size
    expected = hashlib.sha256()
    zeros = bytes(CHUNK_SIZE)
    for _ in range(size // CHUNK_SIZE):
        expected.update(zeros)
    assert digest.digest == expected.digest()
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes"
