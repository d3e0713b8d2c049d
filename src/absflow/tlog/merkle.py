"""RFC 9162 §2.1 Merkle tree: roots, inclusion and consistency proofs, and their verification.

Proof *node selection* is separate from *storage*: ``inclusion_ranges`` and
``consistency_ranges`` name the subtrees ``[start, end)`` a proof is made of, and
``*_proof_from`` asks a ``SubtreeHash`` callback for their hashes. The in-memory
functions (``inclusion_proof``, ``consistency_proof``) answer from a list of leaf
hashes; the database answers from stored subtree hashes in O(log n) (services.tlog).

Every range the RFC recursion produces is either a *perfect* subtree (a power-of-two
number of leaves starting at a multiple of that power) or ends at the tree size; the
latter is the fold of the perfect subtrees of its binary decomposition
(``perfect_pieces``), so a store that keeps every perfect subtree can answer any proof.

Verification never raises: any malformed input (wrong types, wrong hash lengths,
indexes out of range, proofs of the wrong length) gives ``False``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from absflow.tlog.hashing import node_hash

HASH_SIZE = 32
#: A store keeps the perfect subtrees of this level and above (16+ leaves); smaller ones are
#: folded from the ≤ 8 leaf hashes they cover when a proof needs them. Fewer rows to write
#: (n/8 instead of n per n entries) for ≤ 15 more leaf hashes read per proof.
STORED_MIN_LEVEL = 4
EMPTY_ROOT = hashlib.sha256(b"").digest()

#: Returns the Merkle tree hash of leaves ``[start, end)``.
SubtreeHash = Callable[[int, int], bytes]


def _largest_power_of_two_below(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_pieces(start: int, end: int) -> list[tuple[int, int]]:
    """The perfect subtrees ``(level, index)`` whose fold right to left is MTH(D[start:end]).

    ``start`` must be aligned so that RFC 9162's split puts perfect trees on the left,
    which holds for every range produced by the proof recursion. Level 0 is a leaf;
    ``(level, index)`` covers leaves ``[index << level, (index + 1) << level)``.
    """
    pieces = []
    position = start
    remaining = end - start
    while remaining > 0:
        level = remaining.bit_length() - 1
        size = 1 << level
        pieces.append((level, position >> level))
        position += size
        remaining -= size
    return pieces


def fold_pieces(hashes: Sequence[bytes]) -> bytes:
    """Hash perfect-subtree roots (largest, leftmost first) into the root of their union."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def _perfect_root(leaf_hashes: Sequence[bytes], start: int, size: int) -> bytes:
    level = list(leaf_hashes[start:start + size])
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def subtree_root(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH(D[start:end]) from leaf hashes (in memory)."""
    if end <= start:
        return EMPTY_ROOT
    hashes = [_perfect_root(leaf_hashes, index << level, 1 << level) for level, index in perfect_pieces(start, end)]
    return fold_pieces(hashes)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The RFC 9162 Merkle tree hash of the leaves; the empty tree hashes to SHA-256("").

    Level by level, an odd last node moving up unchanged: that is RFC 9162's split at the
    largest power of two below n, computed bottom-up (one pass per level, no recursion).
    """
    level = list(leaf_hashes)
    if not level:
        return EMPTY_ROOT
    sha256 = hashlib.sha256
    while len(level) > 1:
        pairs = zip(level[0::2], level[1::2], strict=False)
        paired = [sha256(b"\x01" + left + right).digest() for left, right in pairs]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The subtrees ``[start, end)`` of PATH(index, D[size]) (RFC 9162 §2.1.3.1), leaf first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start = start + k
    ranges.reverse()
    return ranges


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The subtrees of PROOF(old_size, D[new_size]) (RFC 9162 §2.1.4.1), in proof order."""
    if not 0 < old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    ranges: list[tuple[int, int]] = []
    start, end, m, complete = 0, new_size, old_size, True
    while m != end - start:
        k = _largest_power_of_two_below(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            m -= k
            start += k
            complete = False
    if not complete:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def inclusion_proof_from(index: int, size: int, subtree_hash: SubtreeHash) -> list[bytes]:
    return [subtree_hash(s, e) for s, e in inclusion_ranges(index, size)]


def consistency_proof_from(old_size: int, new_size: int, subtree_hash: SubtreeHash) -> list[bytes]:
    if old_size == new_size:
        return []
    return [subtree_hash(s, e) for s, e in consistency_ranges(old_size, new_size)]


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """The audit path for leaf ``index`` in the tree of all ``leaf_hashes``."""
    return inclusion_proof_from(index, len(leaf_hashes), lambda s, e: subtree_root(leaf_hashes, s, e))


def consistency_proof(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Proof that the tree of the first ``old_size`` leaves is a prefix of the tree of all."""
    return consistency_proof_from(old_size, len(leaf_hashes), lambda s, e: subtree_root(leaf_hashes, s, e))


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_proof(proof: object) -> bool:
    return isinstance(proof, list | tuple) and all(_is_hash(p) for p in proof)


def root_from_inclusion_proof(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes | None:
    """The root the proof leads to (RFC 9162 §2.1.3.2), or None when it is malformed."""
    if not (_is_hash(leaf_hash) and _is_size(index) and _is_size(size) and _is_proof(proof)):
        return None
    if index >= size:
        return None
    fn, sn, result = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            result = node_hash(p, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return None
    return result


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """True when ``proof`` shows the leaf with ``leaf_hash`` at ``index`` in the tree ``(size, root)``."""
    try:
        if not _is_hash(root):
            return False
        computed = root_from_inclusion_proof(leaf_hash, index, size, proof)
        return computed is not None and computed == root
    except Exception:  # never raise on hostile input
        return False


def verify_consistency(old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes) -> bool:
    """True when ``proof`` shows the tree ``(old_size, old_root)`` is a prefix of ``(new_size, new_root)``.

    Like transparency-dev/merkle: equal sizes need an empty proof and equal roots; a proof
    from size 0 to a larger size is rejected (it proves nothing).
    """
    try:
        return _verify_consistency(old_size, new_size, proof, old_root, new_root)
    except Exception:  # never raise on hostile input
        return False


def _verify_consistency(old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes) -> bool:
    if not (_is_size(old_size) and _is_size(new_size) and _is_proof(proof)):
        return False
    if not (_is_hash(old_root) and _is_hash(new_root)):
        return False
    if new_size < old_size:
        return False
    if old_size == new_size:
        return len(proof) == 0 and old_root == new_root
    if old_size == 0 or len(proof) == 0:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first = second = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            first = node_hash(c, first)
            second = node_hash(c, second)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            second = node_hash(second, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and first == old_root and second == new_root


# --- compact range (the right edge of an append-only tree) ---------------------------------


def frontier_levels(size: int) -> list[int]:
    """Levels of the perfect subtrees making up a tree of ``size`` leaves, largest first."""
    return [level for level in range(size.bit_length() - 1, -1, -1) if size >> level & 1]


def frontier_append(
    frontier: list[bytes], size: int, leaf_hash: bytes
) -> tuple[list[bytes], list[tuple[int, int, bytes]]]:
    """Append one leaf to the compact range ``frontier`` of a tree with ``size`` leaves.

    Returns the new frontier and the perfect subtrees ``(level, index, hash)`` of level >= 1
    that the leaf completes (what a store keeps for O(log n) proofs).
    """
    new_frontier = list(frontier)
    completed: list[tuple[int, int, bytes]] = []
    current = leaf_hash
    level = 0
    position = size
    while position & 1:
        current = node_hash(new_frontier.pop(), current)
        level += 1
        position >>= 1
        completed.append((level, position, current))
    new_frontier.append(current)
    return new_frontier, completed


def frontier_extend(
    frontier: Sequence[bytes], size: int, leaf_hashes: Sequence[bytes], *, keep_from: int = 1
) -> tuple[list[bytes], list[tuple[int, int, bytes]]]:
    """Append many leaves at once: the same result as ``frontier_append`` leaf by leaf.

    Works level by level (one pass of pair hashes per level, no per-leaf loop over levels):
    at level L the new nodes are indexes ``size >> L`` .. ``(size + m) >> L`` - 1; a new node
    whose left child is old takes it from ``frontier``. Returns the new frontier and every
    completed perfect subtree ``(level, index, hash)`` of level >= ``keep_from`` (>= 1), level by level.
    """
    old = dict(zip(frontier_levels(size), frontier, strict=True))
    new_size = size + len(leaf_hashes)
    sha256 = hashlib.sha256
    levels: list[list[bytes]] = [list(leaf_hashes)]
    completed: list[tuple[int, int, bytes]] = []
    below, first = levels[0], size
    level = 0
    while below:
        if first & 1:
            below = [old[level], *below]
            first -= 1
        pairs = zip(below[0::2], below[1::2], strict=False)
        above = [sha256(b"\x01" + left + right).digest() for left, right in pairs]
        level += 1
        first >>= 1
        if level >= keep_from:
            completed.extend((level, first + i, value) for i, value in enumerate(above))
        levels.append(above)
        below = above
    new_frontier = []
    for lv in frontier_levels(new_size):
        index = (new_size >> lv) - 1
        start = size >> lv
        new_frontier.append(levels[lv][index - start] if index >= start else old[lv])
    return new_frontier, completed


def frontier_root(frontier: Sequence[bytes]) -> bytes:
    """The root of the tree whose compact range is ``frontier`` (largest subtree first)."""
    if not frontier:
        return EMPTY_ROOT
    return fold_pieces(frontier)
