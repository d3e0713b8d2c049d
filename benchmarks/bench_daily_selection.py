"""One revolving day in the pure core: 1,000,000 candidates, 200,000 pool assets (target ≤ 3 s).

Times eligibility (8 criteria) + the concentration-checked selection (4 limits, incl. top-10
and region) + the exact limit check after purchase. Data generation is not timed.
"""

from __future__ import annotations

import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import machine, peak_rss_mib, timed  # noqa: E402

from absflow.deal.model import Concentration, ConcentrationRule, Eligibility, EligibilityRule  # noqa: E402
from absflow.revolving import AssetTable, check_eligibility, select_purchases  # noqa: E402

N_CAND, N_POOL, N_CLIENTS, N_REGIONS = 1_000_000, 200_000, 400_000, 31


def synthetic(rng: np.random.Generator, n: int, offset: int) -> AssetTable:
    return AssetTable(
        code=[f"M{offset + i:09d}" for i in range(n)],
        client=rng.integers(0, N_CLIENTS, n).astype(np.int64),
        principal_fen=(rng.lognormal(11.5, 1.0, n) * 100).astype(np.int64) + 100_00,
        accrued_interest_fen=rng.integers(0, 5_000_00, n).astype(np.int64),
        rate=rng.choice([0.055, 0.065, 0.0735, 0.0835], n),
        due_date=np.datetime64("2025-06-01") + rng.integers(1, 180, n).astype("timedelta64[D]"),
        maintenance_ratio=rng.lognormal(1.0, 0.4, n),
        overdue_days=(rng.random(n) < 0.01).astype(np.int64) * 3,
        in_liquidation=rng.random(n) < 0.005,
        extension_count=rng.integers(0, 3, n).astype(np.int64),
        code_rank=np.arange(offset, offset + n, dtype=np.int64),
        groups={"region": rng.integers(0, N_REGIONS, n).astype(np.int64)},
        vocab={"client": [f"C{i}" for i in range(N_CLIENTS)], "region": [f"R{i}" for i in range(N_REGIONS)]},
    )


def main() -> None:
    rng = np.random.default_rng(7)
    pool = synthetic(rng, N_POOL, 0)
    candidates = synthetic(rng, N_CAND, N_POOL)
    criteria = (
        Eligibility("E01", EligibilityRule.MIN_MAINTENANCE_RATIO, "1.50"),
        Eligibility("E02", EligibilityRule.MIN_FINANCING_RATE, "0.06"),
        Eligibility("E03", EligibilityRule.MAX_SINGLE_LOAN_PRINCIPAL, "10000000.00"),
        Eligibility("E04", EligibilityRule.TERM_INSIDE_PLAN, "true"),
        Eligibility("E05", EligibilityRule.NOT_OVERDUE, "true"),
        Eligibility("E06", EligibilityRule.NOT_IN_LIQUIDATION, "true"),
        Eligibility("E07", EligibilityRule.DENIED_VALUES, field="region", values=("R30",)),
        Eligibility("E08", EligibilityRule.MAX_EXTENSIONS, "1"),
    )
    limits = (
        Concentration("C01", ConcentrationRule.SINGLE_CLIENT_MAX_SHARE, Decimal("0.005")),
        Concentration("C02", ConcentrationRule.TOP_N_CLIENTS_MAX_SHARE, Decimal("0.03"), top_n=10),
        Concentration("C03", ConcentrationRule.SINGLE_GROUP_MAX_SHARE, Decimal("0.10"), field="region"),
        Concentration("C04", ConcentrationRule.SINGLE_LOAN_MAX_SHARE, Decimal("0.001")),
    )
    cash_fen = int(pool.principal_fen.sum() // 20)  # 5% of the pool collected today

    def day() -> object:
        result = check_eligibility(candidates, criteria, as_of=date(2025, 6, 1), plan_end=date(2026, 6, 1))
        return select_purchases(candidates, pool, eligible=result.eligible, price_fen=candidates.principal_fen,
                                cash_fen=cash_fen, limits=limits)

    print(machine())
    selection = timed("one day, 1,000,000 candidates × 200,000 pool", day, repeat=3, target_s=3.0)
    print(f"  bought {len(selection.chosen):,} assets, utilization {selection.utilization:.4%}, "  # type: ignore[attr-defined]
          f"breaches after {len(selection.breaches_after)}, rounds {selection.fill_rounds}, "  # type: ignore[attr-defined]
          f"tries {selection.denominator_tries}; peak RSS {peak_rss_mib():.0f} MiB")  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
