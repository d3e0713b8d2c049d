"""Headline: a 100,000-bid book summarized and allocated ≤ 0.5 s (issue 6, Performance).

Book: 20,000 investors × 5 rate levels (incremental), rates 2.50%–3.49% to the basis
point, amounts 1–50 lots of 100万; size 40% of demand so the margin falls mid-book with
thousands of bids at it. Timed: validation of every bid, conversion to lots, the book
summary (标位汇总) and the allocation with largest-remainder rounding at the margin —
everything from ``Bid`` values to the per-investor result. Bid generation is not timed.
"""

from __future__ import annotations

import random
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import machine, timed  # noqa: E402

from absflow.bookbuilding import Allocation, Bid, Offering, allocate, check_book, summarize  # noqa: E402

TARGET_S = 0.5
INVESTORS = 20_000
LEVELS = 5
LOT = Decimal(1_000_000)


def build() -> tuple[Offering, list[Bid]]:
    rng = random.Random(6)
    bids: list[Bid] = []
    seq = 0
    for i in range(INVESTORS):
        for rate_bp in sorted(rng.sample(range(250, 350), LEVELS)):
            seq += 1
            bids.append(Bid(f"I{i:05d}", Decimal(rate_bp) / 10000, rng.randint(1, 50) * LOT, seq=seq))
    demand = sum((b.amount_yuan for b in bids), Decimal(0))
    size = (demand * Decimal("0.4") / LOT).to_integral_value() * LOT
    return Offering(size_yuan=size, rate_min=Decimal("0.02"), rate_max=Decimal("0.04")), bids


def run(offering: Offering, bids: list[Bid]) -> Allocation:
    levels = check_book(offering, bids)
    summarize(offering, levels, valid_bid_count=len(bids))
    return allocate(offering, levels, valid_bid_count=len(bids))


def main() -> None:
    quick = "--quick" in sys.argv
    offering, bids = build()
    assert len(bids) == INVESTORS * LEVELS == 100_000
    result = timed("100,000 bids: validate + summarize + allocate", lambda: run(offering, bids),
                   repeat=2 if quick else 5, target_s=TARGET_S)
    assert result.allocated_total_yuan == offering.size_yuan
    at_margin = sum(1 for lv in result.levels if lv.at_margin)
    print(f"marginal rate {result.marginal_rate}, {at_margin} bids at the margin, {result.holder_count} holders")
    levels = check_book(offering, bids)
    for label, fn in (("  validate + convert only", lambda: check_book(offering, bids)),
                      ("  summarize only", lambda: summarize(offering, levels)),
                      ("  allocate only", lambda: allocate(offering, levels))):
        timed(label, fn, repeat=3)
    cpu_best = float("inf")
    for _ in range(1 if quick else 3):
        start = time.process_time()
        run(offering, bids)
        cpu_best = min(cpu_best, time.process_time() - start)
    print(f"same, process CPU time: {cpu_best:.3f} s")
    print(machine())


if __name__ == "__main__":
    main()
