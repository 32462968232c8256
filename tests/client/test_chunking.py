"""The chunked (Merkle) binding (docs/SPEC.md §4.5): tree hashing against RFC 9162's
recursive definition, parallel hashing against a one-line reference, the claim's rules,
and what verification reports."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sceau import KeyRing, LocalSigner, verify_seal
from sceau.canonical import canonicalize
from sceau.chunking import (
    CHUNKED_THRESHOLD,
    DEFAULT_CHUNK_SIZE,
    MAX_CHUNKS,
    canonical_chunk_size,
    chunk_count,
    is_valid_chunk_size,
    merkle_root,
)
from sceau.claim import ClaimError, build_claim, read_claim
from sceau.envelope import sign_envelope
from sceau.hashing import hash_file, hash_file_chunked
from sceau.media import digest_file
from sceau.verify import ContentDigest, Integrity, Status

SIGNER = LocalSigner.from_seed(hashlib.sha256(b"sceau chunking test key").digest())
RING = KeyRing([SIGNER.record("newsroom")])
NOW = datetime(2026, 3, 15, tzinfo=UTC)


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1, recursively, as written there."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def leaves_of(content: bytes, size: int) -> list[bytes]:
    return [hashlib.sha256(b"\x00" + content[i:i + size]).digest()
            for i in range(0, len(content), size)]


@given(st.integers(0, 70))
def test_merkle_root_matches_rfc9162(n: int) -> None:
    leaves = [hashlib.sha256(bytes([i])).digest() for i in range(n)]
    assert merkle_root(leaves) == mth(leaves)


def test_known_answer() -> None:
    # Two chunks "ab" and "c" of 2 bytes: leaves SHA-256(00||ab), SHA-256(00||c).
    left = hashlib.sha256(b"\x00ab").digest()
    right = hashlib.sha256(b"\x00c").digest()
    assert merkle_root([left, right]) == hashlib.sha256(b"\x01" + left + right).digest()
    assert merkle_root([]).hex() == ("e3b0c44298fc1c149afbf4c8996fb924"
                                     "27ae41e4649b934ca495991b7852b855")


def test_chunk_sizes() -> None:
    assert canonical_chunk_size(0) == DEFAULT_CHUNK_SIZE
    assert canonical_chunk_size(CHUNKED_THRESHOLD) == 4 << 20
    assert canonical_chunk_size(4 << 30) == 4 << 20  # exactly 1024 chunks
    assert canonical_chunk_size((4 << 30) + 1) == 8 << 20
    assert chunk_count(canonical_chunk_size(100 << 30), canonical_chunk_size(100 << 30)) \
        <= MAX_CHUNKS
    assert [is_valid_chunk_size(v) for v in (512, 1024, 1536, 4 << 20, 1 << 30, 1 << 31)] \
        == [False, True, False, True, True, False]


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_parallel_hash_equals_reference(tmp_path_factory: pytest.TempPathFactory,
                                        data: st.DataObject) -> None:
    size = data.draw(st.integers(0, 40_000))
    content = random.Random(size).randbytes(size)
    path = tmp_path_factory.mktemp("chunks") / "f.bin"
    path.write_bytes(content)
    exclusions: list[tuple[int, int]] = []
    if size > 100 and data.draw(st.booleans()):
        start = data.draw(st.integers(0, size - 50))
        exclusions.append((start, data.draw(st.integers(1, min(5000, size - start)))))
    chunk = data.draw(st.sampled_from([1024, 2048, 8192]))
    workers = data.draw(st.integers(1, 4))
    kept = bytearray(content)
    for start, length in reversed(exclusions):
        del kept[start:start + length]
    patches: list[tuple[int, bytes]] = []
    if size > 12 and not exclusions and data.draw(st.booleans()):
        patches.append((4, b"WXYZ"))
        kept[4:8] = b"WXYZ"
    digest = hash_file_chunked(path, chunk_size=chunk, exclusions=exclusions,
                               patches=patches, workers=workers)
    expected = leaves_of(bytes(kept), chunk)
    assert digest.chunks == tuple(expected)
    assert digest.digest == mth(expected)
    assert digest.size == size and digest.exclusions == tuple(exclusions)
    plain = hash_file(path, exclusions=exclusions, patches=patches, chunk_size=777)
    assert plain.digest == hashlib.sha256(bytes(kept)).digest()


def test_threshold_decides_the_binding(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 5000)
    assert digest_file(path).chunk_size is None
    assert digest_file(path, chunk_size=1024).chunk_size == 1024
    assert digest_file(path, chunked=True).chunk_size == DEFAULT_CHUNK_SIZE


def test_progress_counts_every_byte(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(bytes(10_000))
    seen: list[int] = []
    hash_file_chunked(path, chunk_size=1024, workers=2, progress=seen.append)
    assert sum(seen) == 10_000 and len(seen) == 10
    seen.clear()
    hash_file(path, chunk_size=4096, exclusions=[(10, 10)], progress=seen.append)
    assert sum(seen) == 9_990


# -- the claim and the verdict ----------------------------------------------------------------


CONTENT = random.Random(5120).randbytes(5120)  # 5 chunks of 1 KiB, all different


def chunked_claim(**overrides: Any) -> dict[str, Any]:
    leaves = leaves_of(CONTENT, 1024)
    args: dict[str, Any] = {
        "sha256": merkle_root(leaves), "size": len(CONTENT), "media_type": "video/mp4",
        "tenant": "newsroom", "keyid": SIGNER.keyid, "created": NOW,
        "chunk_size": 1024, "chunks": leaves}
    args.update(overrides)
    return build_claim(**args)


def test_claim_round_trip() -> None:
    claim = read_claim(chunked_claim())
    assert claim.binding.label == "sceau.hash.chunked"
    assert claim.binding.chunk_size == 1024 and len(claim.binding.chunks) == 5


def _binding(obj: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = obj["assertions"][1]["data"]
    return data


@pytest.mark.parametrize(("mutate", "why"), [
    (lambda d: d.update(chunk_size=1000), "power of two"),
    (lambda d: d.update(chunk_size=512), "power of two"),
    (lambda d: d.update(chunk_size=2**31), "power of two"),
    (lambda d: d["chunks"].pop(), "one leaf hash per chunk"),
    (lambda d: d["chunks"].append(d["chunks"][0]), "one leaf hash per chunk"),
    (lambda d: d.update(chunks="x"), "one leaf hash per chunk"),
    (lambda d: d["chunks"].__setitem__(0, d["chunks"][0].upper()), "hex"),
    (lambda d: d["chunks"].reverse(), "Merkle root"),
    (lambda d: d.update(root=d["root"][:-1] + "0"), "Merkle root"),
    (lambda d: d.pop("root"), "root"),
    (lambda d: d.update(exclusions=[{"start": 0, "length": 1024}]), "one leaf hash"),
])
def test_claim_rules(mutate: Any, why: str) -> None:
    obj = chunked_claim()
    mutate(_binding(obj))
    with pytest.raises(ClaimError, match=why) as info:
        read_claim(obj)
    assert info.value.status == "assertion.dataHash.malformed"


def _verify(obj: dict[str, Any], content: ContentDigest | None) -> Any:
    envelope = sign_envelope(canonicalize(obj), SIGNER)
    return verify_seal(envelope, RING, now=NOW, content=content)


def _content(data: bytes, **kw: Any) -> ContentDigest:
    leaves = tuple(leaves_of(data, 1024))
    args: dict[str, Any] = {"chunk_size": 1024, "chunks": leaves}
    args.update(kw)
    return ContentDigest("sha256", merkle_root(leaves), len(data), **args)


def test_verdicts() -> None:
    obj = chunked_claim()
    ok = _verify(obj, _content(CONTENT))
    assert ok.ok and ok.integrity is Integrity.MATCH and ok.damaged_chunks == ()
    assert ok.to_json()["damaged_chunks"] == []
    damaged = bytearray(CONTENT)
    damaged[3000] ^= 1
    damaged[5000] ^= 1
    bad = _verify(obj, _content(bytes(damaged)))
    assert bad.failures == (Status.DATA_HASH_MISMATCH,)
    assert bad.damaged_chunks == (2, 4)
    assert bad.to_json()["damaged_chunks"] == [2, 4]
    # The root alone (no leaves) matches too, but cannot say where damage is.
    assert _verify(obj, _content(CONTENT, chunks=None)).integrity is Integrity.MATCH
    assert _verify(obj, _content(bytes(damaged), chunks=None)).damaged_chunks == ()
    # Another chunk size, a plain digest, other exclusions: never a match.
    assert _verify(obj, ContentDigest("sha256", hashlib.sha256(CONTENT).digest(),
                                      len(CONTENT))).integrity is Integrity.MISMATCH
    other = _content(CONTENT, chunk_size=2048)
    assert _verify(obj, other).integrity is Integrity.MISMATCH
    assert _verify(obj, _content(CONTENT, exclusions=((0, 1),))).integrity \
        is Integrity.MISMATCH
    # Without content, no damaged_chunks member.
    assert "damaged_chunks" not in _verify(obj, None).to_json()


def test_plain_binding_needs_the_same_exclusions() -> None:
    data = b"0123456789" * 10
    obj = build_claim(sha256=hashlib.sha256(data[:10] + data[30:]).digest(), size=len(data),
                      media_type="image/png", tenant="newsroom", keyid=SIGNER.keyid,
                      created=NOW, exclusions=[(10, 20)])
    digest = hashlib.sha256(data[:10] + data[30:]).digest()
    good = ContentDigest("sha256", digest, len(data), ((10, 20),))
    assert _verify(obj, good).integrity is Integrity.MATCH
    # The same digest said to be over the whole file is not a match (SPEC.md §4.4).
    assert _verify(obj, ContentDigest("sha256", digest, len(data))).integrity \
        is Integrity.MISMATCH


def test_parallel_hash_memory_is_flat(tmp_path: Path) -> None:
    import tracemalloc

    path = tmp_path / "sparse.bin"
    with open(path, "wb") as f:
        f.truncate(96 << 20)  # sparse: reads return zeros
    tracemalloc.start()
    try:
        digest = hash_file_chunked(path, workers=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert digest.chunk_size == DEFAULT_CHUNK_SIZE and len(digest.chunks or ()) == 24
    assert len(set(digest.chunks or ())) == 1  # 24 identical all-zero chunks
    assert peak < 6 << 20, f"peak {peak} bytes"  # three 1 MiB buffers and little else
