"""RFC 9162 Merkle trees (sceau.merkle): known answers, a reference model, properties.

Three independent sources of truth:

* Published vectors: the RFC 6962 test tree of 8 leaves (inputs ``""``, ``00``, ``10``,
  ``2021``, ``3031``, ``40414243``, ``5051525354555657``, ``606162...6f``) with its roots
  for sizes 0-8 and a few inclusion and consistency proofs, as published in
  transparency-dev/merkle (``testonly/constants.go``, ``testdata/inclusion/*/happy-path.json``
  and ``testdata/consistency/*/happy-path.json``), which carried them over from the
  Certificate Transparency reference implementations.
* A naive recursive model written below straight from RFC 9162's definitions (§2.1.1 MTH,
  §2.1.3.1 PATH, §2.1.4.1 PROOF/SUBPROOF), compared for every tree size 1..70, every
  index and every pair of sizes.
* Hypothesis properties: every proof verifies; any altered hash, index, size or root fails.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sceau.merkle import (
    EMPTY_ROOT,
    MAX_TREE_SIZE,
    Frontier,
    MemorySource,
    NodeID,
    ProofError,
    consistency_proof,
    consistency_proof_ids,
    inclusion_proof,
    inclusion_proof_ids,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    subtree_ids,
    tree_root,
    verify_consistency,
    verify_inclusion,
)

# -- published vectors (origin: see the module docstring) ----------------------------------

RFC6962_INPUTS = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f")]
RFC6962_ROOTS = [bytes.fromhex(h) for h in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")]
#: (index, size, proof) from testdata/inclusion/{3,4}/happy-path.json.
RFC6962_INCLUSION = [
    (2, 3, ["+sVCA+fMaWzw38tCySodnbr3CtnmIfS9jZhmLwDjwSU="]),
    (1, 5, ["bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=",
            "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms="]),
]
#: (size1, size2, proof) from testdata/consistency/{0,1,2,3}/happy-path.json.
RFC6962_CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=",
            "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
            "a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ="]),
    (6, 8, ["DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc="]),
    (2, 5, ["Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms="]),
]


def _b64(items: Sequence[str]) -> list[bytes]:
    return [base64.b64decode(x) for x in items]


RFC6962_LEAVES = [leaf_hash(x) for x in RFC6962_INPUTS]


def test_published_roots() -> None:
    assert RFC6962_ROOTS[0] == EMPTY_ROOT
    for size, root in enumerate(RFC6962_ROOTS):
        assert tree_root(RFC6962_LEAVES[:size]) == root
        assert Frontier.empty().append(RFC6962_LEAVES[:size]).frontier.root() == root


@pytest.mark.parametrize(("index", "size", "proof"), RFC6962_INCLUSION)
def test_published_inclusion_proofs(index: int, size: int, proof: list[str]) -> None:
    source = MemorySource.from_leaves(RFC6962_LEAVES)
    assert inclusion_proof(index, size, source) == _b64(proof)
    verify_inclusion(index, size, RFC6962_LEAVES[index], _b64(proof), RFC6962_ROOTS[size])


@pytest.mark.parametrize(("size1", "size2", "proof"), RFC6962_CONSISTENCY)
def test_published_consistency_proofs(size1: int, size2: int, proof: list[str]) -> None:
    source = MemorySource.from_leaves(RFC6962_LEAVES)
    assert consistency_proof(size1, size2, source) == _b64(proof)
    verify_consistency(size1, size2, _b64(proof), RFC6962_ROOTS[size1], RFC6962_ROOTS[size2])


# -- a naive model written from RFC 9162's definitions ------------------------------------

N = 70
DATA = tuple(f"leaf {i}".encode() for i in range(N))


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@cache
def mth(lo: int, hi: int) -> bytes:
    """§2.1.1 MTH(D[lo:hi]) over DATA (memoised: the same recursion, computed once)."""
    n = hi - lo
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + DATA[lo]).digest()
    k = _k(n)
    return hashlib.sha256(b"\x01" + mth(lo, lo + k) + mth(lo + k, hi)).digest()


def path(m: int, lo: int, hi: int) -> list[bytes]:
    """§2.1.3.1 PATH(m, D[lo:hi]), m relative to lo."""
    n = hi - lo
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*path(m, lo, lo + k), mth(lo + k, hi)]
    return [*path(m - k, lo + k, hi), mth(lo, lo + k)]


def subproof(m: int, lo: int, hi: int, b: bool) -> list[bytes]:
    """§2.1.4.1 SUBPROOF(m, D[lo:hi], b)."""
    n = hi - lo
    if m == n:
        return [] if b else [mth(lo, hi)]
    k = _k(n)
    if m <= k:
        return [*subproof(m, lo, lo + k, b), mth(lo + k, hi)]
    return [*subproof(m - k, lo + k, hi, False), mth(lo, lo + k)]


LEAVES = [leaf_hash(d) for d in DATA]
SOURCE = MemorySource.from_leaves(LEAVES)


def test_roots_match_the_model_for_sizes_0_to_n() -> None:
    for size in range(N + 1):
        assert tree_root(LEAVES[:size]) == mth(0, size)
        assert Frontier.empty().append(LEAVES[:size]).frontier.root() == mth(0, size)


def test_inclusion_proofs_match_the_model_for_every_index() -> None:
    for size in range(1, N + 1):
        root = mth(0, size)
        for index in range(size):
            proof = inclusion_proof(index, size, SOURCE)
            assert proof == path(index, 0, size), (index, size)
            verify_inclusion(index, size, LEAVES[index], proof, root)


def test_consistency_proofs_match_the_model_for_every_pair() -> None:
    for size2 in range(1, N + 1):
        for size1 in range(1, size2 + 1):
            proof = consistency_proof(size1, size2, SOURCE)
            want = [] if size1 == size2 else subproof(size1, 0, size2, True)
            assert proof == want, (size1, size2)
            verify_consistency(size1, size2, proof, mth(0, size1), mth(0, size2))
        verify_consistency(0, size2, [], EMPTY_ROOT, mth(0, size2))


def test_batch_append_proofs_and_nodes_match() -> None:
    every = dict(SOURCE.nodes)
    for start in (0, 1, 5, 8, 31, 32, 33):
        for end in (start + 1, start + 7, N):
            before = Frontier.empty().append(LEAVES[:start]).frontier
            result = before.append(LEAVES[start:end], proofs=True)
            assert result.frontier.root() == mth(0, end)
            assert result.frontier.size == end
            for i, proof in enumerate(result.proofs):
                assert proof == path(start + i, 0, end)
            for node, h in result.nodes.items():
                assert node.level >= 1 and every[node] == h
            # Every perfect subtree the append completed, and no other.
            want = {n for n in every if n.level >= 1 and start < n.end <= end}
            assert set(result.nodes) == want


def test_frontier_round_trip_and_ids() -> None:
    for size in (0, 1, 2, 3, 7, 8, 13, 64, 70):
        f = Frontier.empty().append(LEAVES[:size]).frontier
        assert Frontier.from_bytes(size, f.to_bytes()) == f
        assert [SOURCE.nodes[i] for i in f.ids()] == list(f.hashes)
    with pytest.raises(ValueError, match="bytes"):
        Frontier.from_bytes(3, bytes(32))
    with pytest.raises(ValueError, match="set bit"):
        Frontier(3, (bytes(32),))


def test_subtree_ids() -> None:
    assert subtree_ids(0, 13) == [NodeID(3, 0), NodeID(2, 2), NodeID(0, 12)]
    assert subtree_ids(8, 13) == [NodeID(2, 2), NodeID(0, 12)]
    assert subtree_ids(4, 6) == [NodeID(1, 2)]
    assert NodeID(2, 3).begin == 12 and NodeID(2, 3).end == 16
    with pytest.raises(ValueError, match="empty"):
        subtree_ids(3, 3)


def test_proof_ids_are_logarithmic() -> None:
    size = (1 << 40) + 12345
    groups = inclusion_proof_ids(size - 1, size)
    assert len(groups) <= 41 and sum(len(g) for g in groups) <= 2 * 41
    groups = consistency_proof_ids(size - 77, size)
    assert sum(len(g) for g in groups) <= 3 * 41


def test_missing_node_in_source_is_an_error() -> None:
    with pytest.raises(KeyError):
        inclusion_proof(0, 4, MemorySource({}))


# -- rejections ---------------------------------------------------------------------------


@pytest.mark.parametrize(("index", "size"), [
    (0, 0), (1, 1), (5, 3), (-1, 3), (0, MAX_TREE_SIZE + 1), (True, 3), (0, True)])
def test_inclusion_out_of_range(index: int, size: int) -> None:
    with pytest.raises(ProofError):
        verify_inclusion(index, size, LEAVES[0], [], mth(0, 1))
    with pytest.raises(ProofError):
        inclusion_proof_ids(index, size)


def test_inclusion_rejects_wrong_lengths() -> None:
    proof = inclusion_proof(3, 8, SOURCE)
    with pytest.raises(ProofError, match="too short"):
        root_from_inclusion_proof(3, 8, LEAVES[3], proof[:-1])
    with pytest.raises(ProofError, match="too long"):
        root_from_inclusion_proof(3, 8, LEAVES[3], [*proof, proof[0]])
    with pytest.raises(ProofError, match="32 bytes"):
        verify_inclusion(3, 8, LEAVES[3], [*proof[:-1], proof[-1][:31]], mth(0, 8))
    with pytest.raises(ProofError, match="32 bytes"):
        verify_inclusion(3, 8, LEAVES[3][:31], proof, mth(0, 8))
    with pytest.raises(ProofError, match="32 bytes"):
        verify_inclusion(3, 8, LEAVES[3], proof, "not bytes")  # type: ignore[arg-type]


def test_consistency_rejections() -> None:
    r5, r8 = mth(0, 5), mth(0, 8)
    proof = consistency_proof(5, 8, SOURCE)
    with pytest.raises(ProofError, match="larger"):
        verify_consistency(8, 5, proof, r8, r5)
    with pytest.raises(ProofError, match="empty"):
        verify_consistency(5, 8, [], r5, r8)
    with pytest.raises(ProofError, match="equal sizes"):
        verify_consistency(8, 8, proof, r8, r8)
    with pytest.raises(ProofError, match="different roots"):
        verify_consistency(8, 8, [], r5, r8)
    with pytest.raises(ProofError, match="empty tree"):
        verify_consistency(0, 8, proof, EMPTY_ROOT, r8)
    with pytest.raises(ProofError, match="too long"):
        verify_consistency(5, 8, [*proof, proof[0]], r5, r8)
    with pytest.raises(ProofError, match="too short"):
        verify_consistency(5, 8, proof[:-1], r5, r8)
    with pytest.raises(ProofError):
        consistency_proof_ids(9, 8)


# -- properties ---------------------------------------------------------------------------

BIG = 300
BIG_LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(BIG)]
BIG_SOURCE = MemorySource.from_leaves(BIG_LEAVES)


@st.composite
def index_and_size(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, BIG))
    return draw(st.integers(0, size - 1)), size


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8 % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


@settings(max_examples=300, deadline=None)
@given(index_and_size(), st.data())
def test_property_inclusion(case: tuple[int, int], data: st.DataObject) -> None:
    index, size = case
    root = tree_root(BIG_LEAVES[:size])
    proof = inclusion_proof(index, size, BIG_SOURCE)
    verify_inclusion(index, size, BIG_LEAVES[index], proof, root)
    bit = data.draw(st.integers(0, 255))
    # Any altered proof hash fails.
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        bad = [*proof[:at], _flip(proof[at], bit), *proof[at + 1:]]
        with pytest.raises(ProofError):
            verify_inclusion(index, size, BIG_LEAVES[index], bad, root)
    # An altered leaf or root fails.
    with pytest.raises(ProofError):
        verify_inclusion(index, size, _flip(BIG_LEAVES[index], bit), proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(index, size, BIG_LEAVES[index], proof, _flip(root, bit))
    # Any other index fails (a leaf hash is not found elsewhere).
    other = data.draw(st.integers(0, BIG))
    if other != index:
        with pytest.raises(ProofError):
            verify_inclusion(other, size, BIG_LEAVES[index], proof, root)
    # Any other size fails, even with that size's own root.
    other_size = data.draw(st.integers(1, BIG))
    if other_size != size:
        with pytest.raises(ProofError):
            verify_inclusion(index, other_size, BIG_LEAVES[index], proof,
                             tree_root(BIG_LEAVES[:other_size]))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, BIG), st.integers(0, BIG), st.data())
def test_property_consistency(a: int, b: int, data: st.DataObject) -> None:
    size1, size2 = min(a, b), max(a, b)
    r1, r2 = tree_root(BIG_LEAVES[:size1]), tree_root(BIG_LEAVES[:size2])
    proof = consistency_proof(size1, size2, BIG_SOURCE)
    verify_consistency(size1, size2, proof, r1, r2)
    bit = data.draw(st.integers(0, 255))
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        bad = [*proof[:at], _flip(proof[at], bit), *proof[at + 1:]]
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, bad, r1, r2)
    if size1 and size1 != size2:
        # Altered roots fail; so do other sizes with the same proof.
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, proof, _flip(r1, bit), r2)
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, proof, r1, _flip(r2, bit))
        other = data.draw(st.integers(1, BIG))
        if other not in (size1, size2) and other < size2:
            with pytest.raises(ProofError):
                verify_consistency(other, size2, proof, tree_root(BIG_LEAVES[:other]), r2)
        # A different history of the same size is not consistent.
        forged = tree_root([*BIG_LEAVES[:size1 - 1], leaf_hash(b"forged")])
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, proof, forged, r2)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=8))
def test_property_batches_build_the_same_tree(batches: list[int]) -> None:
    frontier, at = Frontier.empty(), 0
    for count in batches:
        chunk = BIG_LEAVES[at:at + count]
        result = frontier.append(chunk, proofs=True)
        frontier, size = result.frontier, at + len(chunk)
        root = tree_root(BIG_LEAVES[:size])
        assert frontier.root() == root
        for i, proof in enumerate(result.proofs):
            verify_inclusion(at + i, size, chunk[i], proof, root)
        at = size


def test_node_and_leaf_hash_prefixes() -> None:
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32
                                                             + b"b" * 32).digest()
