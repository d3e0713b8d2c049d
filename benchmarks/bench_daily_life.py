"""End to end: 370 trading days of a revolving plan with 200,000 loans (target ≤ 3 min; ``--full``).

By default 370 days with 20,000 loans, so ``make bench`` finishes; ``--full`` is the headline.

Through the services on an embedded SQLite file: import the initial pool tape (200,000
margin loans), then every trading day store the synthetic servicer files and run the day
(collections, extensions, liquidations, mark-to-market, repurchases, purchases from the
backup pool, payment dates), one transaction per day. ``--days N --loans M`` scale it down.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import machine, peak_rss_mib  # noqa: E402

from absflow.services.context import open_context  # noqa: E402
from absflow.services.simulate import simulate  # noqa: E402

DEAL = Path(__file__).resolve().parents[1] / "examples" / "deals" / "09_pyas_swhy_1.yaml"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=370)
    parser.add_argument("--loans", type=int, default=20_000)
    parser.add_argument("--candidates", type=int, default=1_000)
    parser.add_argument("--full", action="store_true", help="the headline: 370 days, 200,000 loans (slow: see "
                        "docs/PERFORMANCE.md)")
    parser.add_argument("--quick", action="store_true", help="20 days, 20,000 loans")
    args = parser.parse_args()
    if args.full:
        args.days, args.loans, args.candidates = 370, 200_000, 5_000
    if args.quick:
        args.days, args.loans, args.candidates = 20, 20_000, 1_000
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        ctx = open_context(f"sqlite:///{tmp}/bench.db")
        times: list[float] = []
        started = time.perf_counter()
        report = simulate(ctx, DEAL.read_text(encoding="utf-8"), days=args.days, seed=2026, loans=args.loans,
                          candidates_per_day=args.candidates, clients=args.loans // 2,
                          progress=lambda run: times.append(run.seconds))
        total = time.perf_counter() - started
    target = 180.0 if (args.days, args.loans) == (370, 200_000) else None
    verdict = "" if target is None else f" (target ≤ {target:g} s: {'met' if total <= target else 'MISSED'})"
    print(f"{report.days_run} trading days, {args.loans:,} loans, {args.candidates:,} candidates/day: "
          f"{total:.1f} s end to end{verdict}")
    if times:
        ordered = sorted(times)
        print(f"  run_day: median {ordered[len(ordered) // 2]:.3f} s, max {ordered[-1]:.3f} s; "
              f"final status {report.final_status}; utilization {report.utilization_mean}; "
              f"peak RSS {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
