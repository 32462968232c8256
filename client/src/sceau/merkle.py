"""RFC 9162 §2.1 Merkle trees for the transparency log: hashes, proofs, verification.

Pure: no I/O.  A log of ``n`` entries ``D[0:n]`` has the Merkle tree hash of RFC 9162
§2.1.1: leaves are ``SHA-256(0x00 || entry)``, interior nodes ``SHA-256(0x01 || left ||
right)``, and a range of ``n > 1`` leaves splits at ``k``, the largest power of two
smaller than ``n``.  The 0x00/0x01 prefixes keep a leaf from ever passing for a node.

Every node of such a tree is either a *perfect* subtree, ``2**level`` leaves starting at a
multiple of ``2**level`` (named :class:`NodeID` ``(level, index)``), or a node on the right
edge, ``[begin, n)``, whose hash folds the perfect subtrees of ``[begin, n)`` from the
right.  A store therefore keeps only perfect subtrees (they never change once complete),
and any proof is a function of O(log n) of them: :func:`inclusion_proof_ids` and
:func:`consistency_proof_ids` say which, :func:`inclusion_proof` and
:func:`consistency_proof` fetch them from a :class:`HashSource` in one call and combine
them.  Verification follows RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MAX_TREE_SIZE",
    "AppendResult",
    "Frontier",
    "HashSource",
    "MemorySource",
    "NodeID",
    "ProofError",
    "consistency_proof",
    "consistency_proof_ids",
    "inclusion_proof",
    "inclusion_proof_ids",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion_proof",
    "subtree_ids",
    "tree_root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
#: SHA-256 of the empty string: the root of the empty tree (RFC 9162 §2.1.1).
EMPTY_ROOT = hashlib.sha256(b"").digest()
#: Largest tree size this module handles: the JSON profile's integer range (2**53 - 1).
MAX_TREE_SIZE = (1 << 53) - 1
_LEAF = b"\x00"
_NODE = b"\x01"
_sha256 = hashlib.sha256


class ProofError(ValueError):
    """A proof does not verify, or its parameters are out of range."""


def leaf_hash(entry: bytes) -> bytes:
    """``SHA-256(0x00 || entry)``: the hash of one log entry (RFC 9162 §2.1.1)."""
    return _sha256(_LEAF + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: an interior node (RFC 9162 §2.1.1)."""
    return _sha256(_NODE + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """``k`` with ``k < n <= 2k`` (``n >= 2``): where RFC 9162 splits ``n`` leaves."""
    return 1 << ((n - 1).bit_length() - 1)


def tree_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle tree hash of already-hashed leaves (RFC 9162 §2.1.1).

    Built bottom up, pairing neighbours and promoting an odd last node unchanged: the same
    tree as the RFC's split at the largest power of two.  ``EMPTY_ROOT`` for no leaves.
    """
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    while len(level) > 1:
        nxt = [_sha256(_NODE + level[i] + level[i + 1]).digest()
               for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


@dataclass(frozen=True, slots=True, order=True)
class NodeID:
    """A perfect subtree: leaves ``[index * 2**level, (index + 1) * 2**level)``.

    Level 0 nodes are the leaf hashes themselves.
    """

    level: int
    index: int

    @property
    def begin(self) -> int:
        """First leaf covered."""
        return self.index << self.level

    @property
    def end(self) -> int:
        """One past the last leaf covered."""
        return (self.index + 1) << self.level


def subtree_ids(begin: int, end: int) -> list[NodeID]:
    """The perfect subtrees that make up the tree node ``[begin, end)``, left to right.

    For a node of an RFC 9162 tree (``begin`` is a multiple of the largest power of two
    not above ``end - begin``, which holds for every node) the pieces shrink from left to
    right, and the node's hash is their right fold:
    ``H(p0, H(p1, ... H(p[m-2], p[m-1])))``.
    """
    if not 0 <= begin < end:
        raise ValueError(f"empty or negative range [{begin}, {end})")
    ids = []
    while begin < end:
        size = 1 << ((end - begin).bit_length() - 1)
        # Shrink until aligned; never needed inside a tree node, kept for safety.
        while begin % size:
            size >>= 1
        level = size.bit_length() - 1
        ids.append(NodeID(level, begin >> level))
        begin += size
    return ids


def _fold(hashes: Sequence[bytes]) -> bytes:
    """Right fold of a node's perfect subtrees (see :func:`subtree_ids`)."""
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = _sha256(_NODE + h + acc).digest()
    return acc


def _check_size(name: str, value: int, minimum: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not (
            minimum <= value <= MAX_TREE_SIZE):
        raise ProofError(f"{name} must be an integer in [{minimum}, 2**53 - 1]")


# -- which nodes a proof needs ---------------------------------------------------------


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n]) as tree nodes ``[begin, end)``, leaf to root."""
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _largest_power_of_two_below(hi - lo)
        if index - lo < k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    ranges.reverse()  # PATH lists the deepest sibling first
    return ranges


def _consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], true) as tree nodes, in proof order."""
    out: list[tuple[int, int]] = []
    lo, hi, m, whole = 0, size2, size1, True
    while m != hi - lo:
        n = hi - lo
        k = _largest_power_of_two_below(n)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        out.append((lo, hi))
    out.reverse()  # SUBPROOF appends on the way back up: deepest first
    return out


def inclusion_proof_ids(index: int, size: int) -> list[list[NodeID]]:
    """For each hash of the inclusion proof of leaf ``index`` in a tree of ``size``
    leaves, the perfect subtrees whose right fold it is (RFC 9162 §2.1.3.1)."""
    _check_size("size", size, 1)
    _check_size("index", index)
    if index >= size:
        raise ProofError(f"index {index} is not below tree size {size}")
    return [subtree_ids(b, e) for b, e in _inclusion_ranges(index, size)]


def consistency_proof_ids(size1: int, size2: int) -> list[list[NodeID]]:
    """For each hash of the consistency proof between tree sizes ``size1 <= size2``, the
    perfect subtrees whose right fold it is (RFC 9162 §2.1.4.1).  Empty when the sizes
    are equal or ``size1`` is 0 (nothing to prove)."""
    _check_size("size1", size1)
    _check_size("size2", size2)
    if size1 > size2:
        raise ProofError(f"size1 {size1} is larger than size2 {size2}")
    if size1 in (0, size2):
        return []
    return [subtree_ids(b, e) for b, e in _consistency_ranges(size1, size2)]


class HashSource(Protocol):
    """Where proofs find perfect subtree hashes (a database, a dict, tiles)."""

    def node_hashes(self, ids: Sequence[NodeID]) -> Sequence[bytes]:
        """The hashes of ``ids``, in order; raise KeyError (or LookupError) if one is
        missing."""
        ...


class MemorySource:
    """A :class:`HashSource` over a mapping of perfect subtree hashes."""

    def __init__(self, nodes: Mapping[NodeID, bytes] | None = None) -> None:
        self.nodes: Mapping[NodeID, bytes] = {} if nodes is None else nodes

    def node_hashes(self, ids: Sequence[NodeID]) -> Sequence[bytes]:
        """The hashes of ``ids`` (KeyError when one is unknown)."""
        nodes = self.nodes
        return [nodes[i] for i in ids]

    @classmethod
    def from_leaves(cls, leaf_hashes: Sequence[bytes]) -> MemorySource:
        """Every perfect subtree of the tree over ``leaf_hashes`` (for tests and tools)."""
        nodes: dict[NodeID, bytes] = {}
        level, row = 0, list(leaf_hashes)
        while row:
            for i, h in enumerate(row):
                nodes[NodeID(level, i)] = h
            row = [node_hash(row[i], row[i + 1]) for i in range(0, len(row) - 1, 2)]
            level += 1
        return cls(nodes)


def _proof(groups: list[list[NodeID]], source: HashSource) -> list[bytes]:
    """Fetch every node of ``groups`` in one call and fold each group into one hash."""
    flat = [node for group in groups for node in group]
    hashes = source.node_hashes(flat) if flat else []
    if len(hashes) != len(flat):
        raise LookupError("hash source answered the wrong number of hashes")
    out, at = [], 0
    for group in groups:
        part = hashes[at:at + len(group)]
        at += len(group)
        out.append(part[0] if len(part) == 1 else _fold(part))
    return out


def inclusion_proof(index: int, size: int, source: HashSource) -> list[bytes]:
    """The inclusion proof of leaf ``index`` in the tree of ``size`` leaves
    (RFC 9162 §2.1.3.1), from O(log size) perfect subtrees fetched in one call."""
    return _proof(inclusion_proof_ids(index, size), source)


def consistency_proof(size1: int, size2: int, source: HashSource) -> list[bytes]:
    """The consistency proof from tree size ``size1`` to ``size2`` (RFC 9162
    §2.1.4.1), from O(log size2) perfect subtrees fetched in one call."""
    return _proof(consistency_proof_ids(size1, size2), source)


# -- verification ----------------------------------------------------------------------


def _check_hash(name: str, value: object) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise ProofError(f"{name} must be {HASH_SIZE} bytes")
    return bytes(value)


def root_from_inclusion_proof(index: int, size: int, leaf: bytes,
                              proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` implies for ``leaf`` (a leaf hash) at ``index`` in a tree
    of ``size`` leaves: RFC 9162 §2.1.3.2 steps 1-5.  Raises :class:`ProofError` when the
    proof has the wrong length for ``index`` and ``size``."""
    _check_size("size", size, 1)
    _check_size("index", index)
    if index >= size:
        raise ProofError(f"index {index} is not below tree size {size}")
    leaf = _check_hash("leaf hash", leaf)
    fn, sn = index, size - 1
    r = leaf
    for i, item in enumerate(proof):
        p = _check_hash(f"proof[{i}]", item)
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = _sha256(_NODE + p + r).digest()
            # §2.1.3.2 step 5.2: a right child at this level (or the last node of a
            # ragged level): skip the levels where fn is a left child with no sibling.
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _sha256(_NODE + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes],
                     root: bytes) -> None:
    """Check that ``leaf`` (a leaf hash) is at ``index`` in the tree of ``size`` leaves
    whose hash is ``root`` (RFC 9162 §2.1.3.2).  Raises :class:`ProofError` otherwise."""
    root = _check_hash("root", root)
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise ProofError("inclusion proof does not lead to the root")


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes,
                       root2: bytes) -> None:
    """Check that the tree of ``size2`` leaves with hash ``root2`` extends the tree of
    ``size1`` leaves with hash ``root1`` (RFC 9162 §2.1.4.2).  Raises
    :class:`ProofError` otherwise.

    Equal sizes need an empty proof and equal roots; ``size1 == 0`` needs an empty proof
    (every tree extends the empty one).
    """
    _check_size("size1", size1)
    _check_size("size2", size2)
    root1 = _check_hash("root1", root1)
    root2 = _check_hash("root2", root2)
    proof = [_check_hash(f"proof[{i}]", p) for i, p in enumerate(proof)]
    if size1 > size2:
        raise ProofError(f"size1 {size1} is larger than size2 {size2}")
    if size1 == size2:
        if proof:
            raise ProofError("consistency proof between equal sizes must be empty")
        if root1 != root2:
            raise ProofError("same tree size, different roots")
        return
    if size1 == 0:
        if proof:
            raise ProofError("consistency proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    # §2.1.4.2 step 1: if size1 is a power of two, the first tree is a complete subtree
    # of the second and its root is the proof's implicit first element.
    if size1 & (size1 - 1) == 0:
        proof = [root1, *proof]
    fn, sn = size1 - 1, size2 - 1
    # Step 3: drop the levels where the first tree's last leaf is a right child.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = _sha256(_NODE + c + fr).digest()
            sr = _sha256(_NODE + c + sr).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _sha256(_NODE + sr + c).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != root1:
        raise ProofError("consistency proof does not lead to the first root")
    if sr != root2:
        raise ProofError("consistency proof does not lead to the second root")


# -- appending -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frontier:
    """The right edge of a tree of ``size`` leaves: its perfect subtrees, largest first
    (one per set bit of ``size``).  Enough to append leaves and compute the root, and
    small enough (``32 * popcount(size)`` bytes) to store with every checkpoint."""

    size: int
    hashes: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if self.size < 0 or self.size.bit_count() != len(self.hashes):
            raise ValueError("a frontier holds one hash per set bit of its size")

    @classmethod
    def empty(cls) -> Frontier:
        """The frontier of the empty tree."""
        return cls(0, ())

    def ids(self) -> list[NodeID]:
        """The perfect subtrees the hashes stand for, largest first."""
        return subtree_ids(0, self.size) if self.size else []

    def root(self) -> bytes:
        """The tree's hash (RFC 9162 §2.1.1): the right fold of the frontier."""
        return _fold(self.hashes) if self.hashes else EMPTY_ROOT

    def to_bytes(self) -> bytes:
        """The hashes concatenated (the size is stored beside them)."""
        return b"".join(self.hashes)

    @classmethod
    def from_bytes(cls, size: int, data: bytes) -> Frontier:
        """Read :meth:`to_bytes` output for a tree of ``size`` leaves."""
        count = size.bit_count()
        if len(data) != HASH_SIZE * count:
            raise ValueError(f"a frontier of size {size} is {HASH_SIZE * count} bytes")
        return cls(size, tuple(data[i:i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)))

    def append(self, leaf_hashes: Iterable[bytes], *,
               proofs: bool = False) -> AppendResult:
        """Append leaves.  Returns the new frontier, every perfect subtree that became
        complete (level >= 1, for the store), and, with ``proofs``, each new leaf's
        inclusion proof in the new tree, computed from memory alone: a new leaf's
        siblings lie in the old frontier or among the new leaves."""
        stack = list(zip(self.ids(), self.hashes, strict=True))
        nodes: dict[NodeID, bytes] = {}
        leaves: list[bytes] = []
        size = self.size
        for item in leaf_hashes:
            h = _check_hash("leaf hash", item)
            leaves.append(h)
            node = NodeID(0, size)
            # Binary counter: merge while the last two subtrees have the same level.
            while stack and stack[-1][0].level == node.level:
                left_id, left = stack.pop()
                h = _sha256(_NODE + left + h).digest()
                node = NodeID(node.level + 1, left_id.index >> 1)
                nodes[node] = h
            stack.append((node, h))
            size += 1
            if size > MAX_TREE_SIZE:
                raise ValueError("tree size would exceed 2**53 - 1")
        frontier = Frontier(size, tuple(h for _, h in stack))
        out: list[list[bytes]] = []
        if proofs and leaves:
            known = {(n.begin, n.end): h for n, h in zip(self.ids(), self.hashes, strict=True)}
            known.update(((n.begin, n.end), h) for n, h in nodes.items())
            known.update(((self.size + i, self.size + i + 1), h) for i, h in enumerate(leaves))
            out = _batch_proofs(known, self.size, size)
        return AppendResult(frontier, nodes, out)


def _batch_proofs(known: dict[tuple[int, int], bytes], start: int,
                  size: int) -> list[list[bytes]]:
    """The inclusion proofs of leaves ``[start, size)`` in the tree of ``size`` leaves, in
    one walk down the RFC 9162 tree (§2.1.3.1 PATH for every new leaf at once).

    ``known`` maps node ranges to hashes and must hold the old frontier, the new leaves
    and every perfect subtree they completed; the right-edge nodes are folded once, on
    demand.  Every sibling of a new leaf's path is one of those (a left sibling lies in
    the old frontier or among the new nodes, a right one among the new leaves)."""

    def node(lo: int, hi: int) -> bytes:
        h = known.get((lo, hi))
        if h is None:
            if hi - lo < 2 or hi <= start:
                raise LookupError(f"no hash for the tree node [{lo}, {hi})")
            k = _largest_power_of_two_below(hi - lo)
            h = _sha256(_NODE + node(lo, lo + k) + node(lo + k, hi)).digest()
            known[lo, hi] = h
        return h

    proofs: list[list[bytes]] = [[] for _ in range(size - start)]
    path: list[bytes] = []  # sibling hashes from the root down

    def walk(lo: int, hi: int) -> None:
        if hi - lo == 1:
            proofs[lo - start] = path[::-1]
            return
        mid = lo + _largest_power_of_two_below(hi - lo)
        if mid > start:  # the left child holds new leaves
            path.append(node(mid, hi))
            walk(lo, mid)
            path.pop()
        path.append(node(lo, mid))
        walk(mid, hi)
        path.pop()

    walk(0, size)
    return proofs


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What :meth:`Frontier.append` produced."""

    frontier: Frontier
    #: Perfect subtrees of level >= 1 completed by the append (leaves are not repeated).
    nodes: dict[NodeID, bytes]
    #: Inclusion proofs of the appended leaves in the new tree, in append order.
    proofs: list[list[bytes]]
