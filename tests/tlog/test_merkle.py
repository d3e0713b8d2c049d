"""RFC 9162 Merkle tree: the published transparency-dev/merkle vectors, corruption, and an RFC oracle.

Vectors: the standard 8-leaf tree of transparency-dev/merkle (testonly/constants.go,
proof/verify_test.go): leaf inputs, roots for sizes 0–8, inclusion and consistency proofs.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from absflow.tlog import (
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)
from absflow.tlog.merkle import frontier_append, frontier_extend, frontier_root, inclusion_ranges, perfect_pieces

LEAF_INPUTS = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f",
)]
LEAVES = [leaf_hash(x) for x in LEAF_INPUTS]

ROOTS = [bytes.fromhex(h) for h in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# (leaf index 0-based, tree size, proof) from proof/verify_test.go (which numbers leaves from 1)
INCLUSION_VECTORS = [
    (0, 1, []),
    (0, 8, [h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (5, 8, [h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (1, 5, [h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
]

CONSISTENCY_VECTORS = [
    (1, 1, []),
    (1, 8, [h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (6, 8, [h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 5, [h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
    (6, 7, [h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
]

SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")


def test_hashing_is_domain_separated_sha256() -> None:
    assert leaf_hash(b"") == ROOTS[1]
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert node_hash(b"l" * 32, b"r" * 32) == hashlib.sha256(b"\x01" + b"l" * 32 + b"r" * 32).digest()


@pytest.mark.parametrize("size", range(9))
def test_roots_of_the_standard_tree(size: int) -> None:
    assert root(LEAVES[:size]) == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS)
def test_published_inclusion_proofs(index: int, size: int, proof: list[bytes]) -> None:
    assert inclusion_proof(index, LEAVES[:size]) == proof
    assert verify_inclusion(LEAVES[index], index, size, proof, ROOTS[size])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS)
def test_published_consistency_proofs(old: int, new: int, proof: list[bytes]) -> None:
    assert consistency_proof(old, LEAVES[:new]) == proof
    assert verify_consistency(old, new, proof, ROOTS[old], ROOTS[new])


def flip(value: bytes, bit: int = 3) -> bytes:
    return bytes([value[0] ^ (1 << bit)]) + value[1:]


def inclusion_corruptions(index: int, size: int, proof: list[bytes], root_hash: bytes, leaf: bytes):
    yield "index - 1", (leaf, index - 1, size, proof, root_hash)
    yield "index + 1", (leaf, index + 1, size, proof, root_hash)
    yield "index ^ 2", (leaf, index ^ 2, size, proof, root_hash)
    yield "size * 2", (leaf, index, size * 2, proof, root_hash)
    yield "size // 2", (leaf, index, size // 2, proof, root_hash)
    yield "wrong leaf", (b"WrongLeaf", index, size, proof, root_hash)
    yield "other leaf", (SOME_HASH, index, size, proof, root_hash)
    yield "empty root", (leaf, index, size, proof, ROOTS[0])
    yield "random root", (leaf, index, size, proof, SOME_HASH)
    yield "trailing garbage", (leaf, index, size, [*proof, b""], root_hash)
    yield "trailing root", (leaf, index, size, [*proof, root_hash], root_hash)
    yield "preceding garbage", (leaf, index, size, [b"", *proof], root_hash)
    yield "preceding root", (leaf, index, size, [root_hash, *proof], root_hash)
    for i in range(len(proof)):
        for bit in (0, 3, 7):
            bad = list(proof)
            bad[i] = flip(bad[i], bit)
            yield f"proof[{i}] bit {bit}", (leaf, index, size, bad, root_hash)
    if proof:
        yield "truncated", (leaf, index, size, proof[:-1], root_hash)
        yield "short hash", (leaf, index, size, [proof[0][:31], *proof[1:]], root_hash)
    if len(proof) > 1:
        yield "inserted", (leaf, index, size, [proof[0], SOME_HASH, *proof[1:]], root_hash)


@pytest.mark.parametrize(("index", "size", "proof"), [v for v in INCLUSION_VECTORS if v[1] > 1])
def test_corrupted_inclusion_proofs_are_rejected(index: int, size: int, proof: list[bytes]) -> None:
    accepted = []
    for name, args in inclusion_corruptions(index, size, proof, ROOTS[size], LEAVES[index]):
        if verify_inclusion(*args):
            accepted.append(name)
    assert accepted == []


def consistency_corruptions(old: int, new: int, proof: list[bytes], r1: bytes, r2: bytes):
    yield "old - 1", (old - 1, new, proof, r1, r2)
    yield "old + 1", (old + 1, new, proof, r1, r2)
    yield "old ^ 2", (old ^ 2, new, proof, r1, r2)
    yield "new * 2", (old, new * 2, proof, r1, r2)
    yield "new // 2", (old, new // 2, proof, r1, r2)
    yield "wrong root1", (old, new, proof, b"WrongRoot", r2)
    yield "wrong root2", (old, new, proof, r1, b"WrongRoot")
    yield "swapped roots", (old, new, proof, r2, r1)
    yield "empty proof", (old, new, [], r1, r2)
    yield "trailing garbage", (old, new, [*proof, b""], r1, r2)
    yield "trailing root1", (old, new, [*proof, r1], r1, r2)
    yield "trailing root2", (old, new, [*proof, r2], r1, r2)
    yield "preceding garbage", (old, new, [b"", *proof], r1, r2)
    yield "preceding root1", (old, new, [r1, *proof], r1, r2)
    yield "preceding root2", (old, new, [r2, *proof], r1, r2)
    yield "preceding proof[0]", (old, new, [proof[0], *proof], r1, r2)
    yield "truncated", (old, new, proof[:-1], r1, r2)
    yield "from size 0", (0, new, proof, ROOTS[0], r2)
    for i in range(len(proof)):
        for bit in (0, 4, 7):
            bad = list(proof)
            bad[i] = flip(bad[i], bit)
            yield f"proof[{i}] bit {bit}", (old, new, bad, r1, r2)


@pytest.mark.parametrize(("old", "new", "proof"), [v for v in CONSISTENCY_VECTORS if v[2]])
def test_corrupted_consistency_proofs_are_rejected(old: int, new: int, proof: list[bytes]) -> None:
    accepted = [name for name, args in consistency_corruptions(old, new, proof, ROOTS[old], ROOTS[new])
                if verify_consistency(*args)]
    assert accepted == []


def test_consistency_edge_cases() -> None:
    r1, r2 = ROOTS[3], ROOTS[4]
    assert verify_consistency(0, 0, [], ROOTS[0], ROOTS[0])
    assert verify_consistency(3, 3, [], r1, r1)
    assert not verify_consistency(3, 3, [], r1, r2)  # equal sizes, different roots: a fork
    assert not verify_consistency(3, 3, [r1], r1, r1)  # equal sizes need an empty proof
    assert not verify_consistency(0, 1, [], ROOTS[0], ROOTS[1])  # from size 0 proves nothing
    assert not verify_consistency(0, 3, [], ROOTS[0], r1)
    assert not verify_consistency(4, 3, [], r2, r1)  # backwards
    assert not verify_consistency(-1, 3, [], r1, r1)


@pytest.mark.parametrize("junk", [None, "x", 1.5, [1, 2], {"a": 1}, b"\x00" * 31, -1, True])
def test_verification_never_raises_on_malformed_input(junk: object) -> None:
    leaf, r = LEAVES[0], ROOTS[8]
    proof = inclusion_proof(0, LEAVES)
    assert verify_inclusion(junk, 0, 8, proof, r) is False  # type: ignore[arg-type]
    assert verify_inclusion(leaf, junk, 8, proof, r) is False  # type: ignore[arg-type]
    assert verify_inclusion(leaf, 0, junk, proof, r) is False  # type: ignore[arg-type]
    assert verify_inclusion(leaf, 0, 8, junk, r) is False  # type: ignore[arg-type]
    assert verify_inclusion(leaf, 0, 8, [junk, *proof[1:]], r) is False
    assert verify_inclusion(leaf, 0, 8, proof, junk) is False  # type: ignore[arg-type]
    cproof = consistency_proof(6, LEAVES)
    assert verify_consistency(junk, 8, cproof, ROOTS[6], r) is False  # type: ignore[arg-type]
    assert verify_consistency(6, junk, cproof, ROOTS[6], r) is False  # type: ignore[arg-type]
    assert verify_consistency(6, 8, junk, ROOTS[6], r) is False  # type: ignore[arg-type]
    assert verify_consistency(6, 8, cproof, junk, r) is False  # type: ignore[arg-type]
    assert verify_consistency(6, 8, cproof, ROOTS[6], junk) is False  # type: ignore[arg-type]


# --- a naive reference written straight from RFC 9162 §2.1 -----------------------------------


def ref_mth(data: list[bytes]) -> bytes:
    n = len(data)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + ref_mth(data[:k]) + ref_mth(data[k:])).digest()


def ref_path(m: int, data: list[bytes]) -> list[bytes]:
    n = len(data)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return ref_path(m, data[:k]) + [ref_mth(data[k:])]
    return ref_path(m - k, data[k:]) + [ref_mth(data[:k])]


def ref_subproof(m: int, data: list[bytes], b: bool) -> list[bytes]:
    n = len(data)
    if m == n:
        return [] if b else [ref_mth(data)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return ref_subproof(m, data[:k], b) + [ref_mth(data[k:])]
    return ref_subproof(m - k, data[k:], False) + [ref_mth(data[:k])]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=8), min_size=1, max_size=70), st.data())
def test_proofs_match_the_rfc_reference(data: list[bytes], draw: st.DataObject) -> None:
    leaves = [leaf_hash(d) for d in data]
    n = len(data)
    assert root(leaves) == ref_mth(data)
    m = draw.draw(st.integers(0, n - 1))
    path = inclusion_proof(m, leaves)
    assert path == ref_path(m, data)
    assert verify_inclusion(leaves[m], m, n, path, ref_mth(data))
    old = draw.draw(st.integers(1, n))
    proof = consistency_proof(old, leaves)
    assert proof == (ref_subproof(old, data, True) if old < n else [])
    assert verify_consistency(old, n, proof, ref_mth(data[:old]), ref_mth(data))
    if old < n:
        assert not verify_consistency(old, n, proof, ref_mth(data[:old]), ref_mth(data[:-1] + [b"x" + data[-1]]))


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 300))
def test_compact_range_gives_the_root_and_the_perfect_subtrees(n: int) -> None:
    leaves = [leaf_hash(str(i).encode()) for i in range(n)]
    frontier: list[bytes] = []
    nodes = {}
    for i, leaf in enumerate(leaves):
        frontier, completed = frontier_append(frontier, i, leaf)
        for level, index, value in completed:
            nodes[(level, index)] = value
    assert frontier_root(frontier) == root(leaves)
    for (level, index), value in nodes.items():
        assert value == root(leaves[index << level:(index + 1) << level])
    # every proof range is a fold of perfect subtrees the store keeps
    for s, e in inclusion_ranges(n - 1, n):
        pieces = perfect_pieces(s, e)
        assert all(level == 0 or (level, i) in nodes for level, i in pieces)


@given(st.integers(0, 300), st.integers(0, 300))
def test_frontier_extend_equals_appending_leaf_by_leaf(old_size: int, added: int) -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(old_size + added)]
    frontier: list[bytes] = []
    for i in range(old_size):
        frontier, _ = frontier_append(frontier, i, leaves[i])
    one_by_one, completed = list(frontier), []
    for i in range(old_size, old_size + added):
        one_by_one, done = frontier_append(one_by_one, i, leaves[i])
        completed += done
    bulk, bulk_completed = frontier_extend(frontier, old_size, leaves[old_size:])
    assert bulk == one_by_one and sorted(bulk_completed) == sorted(completed)
    assert root(leaves) == (frontier_root(bulk) if bulk else root([]))


# --- the bulk hashing of absflow.services.bulk_hash (the tape import's records root) -----------


@settings(max_examples=120, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=300))
def test_bulk_root_matches_the_rfc_reference(data: list[bytes]) -> None:
    import polars as pl

    from absflow.services import bulk_hash

    values = pl.Series("records", data, dtype=pl.Binary)
    for using in ("compiled", "hashlib"):
        hashes = bulk_hash.leaf_hashes(values, using=using)
        assert bulk_hash.as_list(hashes) == [leaf_hash(d) for d in data]
        assert bulk_hash.tree_root(hashes, using=using) == ref_mth(data) == root(bulk_hash.as_list(hashes))


@pytest.mark.parametrize("n", [1, 2, 3, 1023, 1024, 1025, 3000, 4097])
def test_bulk_root_of_larger_odd_trees(n: int) -> None:
    import polars as pl

    from absflow.services import bulk_hash

    data = [i.to_bytes(3, "big") * (i % 7) for i in range(n)]
    hashes = bulk_hash.leaf_hashes(pl.Series(data, dtype=pl.Binary), using="compiled")
    fast = bulk_hash.tree_root(hashes, using="compiled")
    assert fast == bulk_hash.tree_root(hashes, using="hashlib") == ref_mth(data)
