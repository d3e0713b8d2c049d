"""Headline: a 1,000-scenario grid over a 10,000-loan pool ≤ 60 s, with the 1- vs 2-worker speed-up (issue 3).

Grid: CPR 10 values × CDR 10 × severity 5 × rate shift 2 = 1,000 scenarios, recovery lag
6 months, pool-level metrics per scenario, on a Dask LocalCluster (processes, one thread
each) with 1 and then 2 workers; the cluster start-up is inside the timing. The two runs
must give identical numbers. ``--quick``: 100 scenarios over 2,000 loans.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import machine  # noqa: E402

from absflow.distributed.grid import GridSpec, PoolPayload, pool_metrics, run_dask  # noqa: E402
from absflow.services.projection import synthetic_loans  # noqa: E402

TARGET_S = 60.0


def main() -> None:
    quick = "--quick" in sys.argv
    loans = synthetic_loans(2_000 if quick else 10_000, term=360)
    spec = GridSpec(
        prepayment=tuple(i * 0.02 for i in range(10)),
        default=tuple(i * 0.005 for i in range(10)),
        severity=(0.2, 0.4, 0.6) if quick else (0.2, 0.35, 0.5, 0.65, 0.8),
        rate_shift=(0.0,) if quick else (0.0, 0.01),
        recovery_lag_periods=6,
    )
    scenarios = spec.scenarios()
    if quick:
        scenarios = scenarios[:100]
    payload = PoolPayload(loans=loans, discount_rate=0.05)
    print(machine())
    timings = {}
    results = {}
    for workers in (1, 2):
        start = time.perf_counter()
        results[workers] = run_dask(payload, scenarios, pool_metrics, workers=workers)
        timings[workers] = time.perf_counter() - start
        verdict = "" if quick else f" (target ≤ {TARGET_S:g} s: {'met' if timings[workers] <= TARGET_S else 'MISSED'})"
        print(f"grid {len(scenarios)} scenarios x {loans.count:,} loans, {workers} worker(s): "
              f"{timings[workers]:.2f} s{verdict}")
    same = all(
        x == y or (math.isnan(x) and math.isnan(y))
        for a, b in zip(results[1], results[2], strict=True)
        for x, y in zip(a.metrics.values(), b.metrics.values(), strict=True)
    )
    print(f"speed-up 1 → 2 workers: {timings[1] / timings[2]:.2f}x; identical results: {same}")
    if not same:
        raise SystemExit("1- and 2-worker results differ")


if __name__ == "__main__":
    main()
