"""Verify 10,000 inclusion proofs (target ≤ 1 s), pure Python, in a tree of 1,000,000 leaves."""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import machine  # noqa: E402

from absflow.tlog import leaf_hash, verify_inclusion  # noqa: E402
from absflow.tlog.hashing import node_hash  # noqa: E402
from absflow.tlog.merkle import fold_pieces, inclusion_ranges, perfect_pieces  # noqa: E402

SIZE = 1_000_000
PROOFS = 10_000
TARGET_S = 1.0


def main() -> None:
    print(machine())
    levels = [[leaf_hash(str(i).encode()) for i in range(SIZE)]]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])

    def subtree(start: int, end: int) -> bytes:
        return fold_pieces([levels[lv][i] for lv, i in perfect_pieces(start, end)])

    root_hash = subtree(0, SIZE)
    rng = random.Random(11)
    cases = []
    for _ in range(PROOFS):
        index = rng.randrange(SIZE)
        cases.append((levels[0][index], index, [subtree(s, e) for s, e in inclusion_ranges(index, SIZE)]))
    start = time.perf_counter()
    ok = sum(verify_inclusion(leaf, index, SIZE, proof, root_hash) for leaf, index, proof in cases)
    elapsed = time.perf_counter() - start
    assert ok == PROOFS
    verdict = "met" if elapsed <= TARGET_S else "MISSED"
    print(f"verify {PROOFS:,} inclusion proofs (tree of {SIZE:,}): {elapsed:.3f} s "
          f"({elapsed / PROOFS * 1e6:.0f} µs each; target ≤ {TARGET_S:g} s: {verdict})")


if __name__ == "__main__":
    main()
