"""A servicer report (资产服务报告) for a quarter of daily runs, XLSX and PDF (target ≤ 5 s each).

Setup (not timed): a plan simulated for 60 trading days with 20,000 loans on SQLite.
Timed: collecting the report from the stored runs, then rendering XLSX, then PDF.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import machine, timed  # noqa: E402

from absflow.reports.servicer import servicer_pdf, servicer_xlsx  # noqa: E402
from absflow.services.context import open_context  # noqa: E402
from absflow.services.servicer_report import servicer_report  # noqa: E402
from absflow.services.simulate import simulate  # noqa: E402

DEAL = Path(__file__).resolve().parents[1] / "examples" / "deals" / "09_pyas_swhy_1.yaml"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--loans", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.days, args.loans = 10, 2_000
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        ctx = open_context(f"sqlite:///{tmp}/bench.db")
        run = simulate(ctx, DEAL.read_text(encoding="utf-8"), days=args.days, seed=7, loans=args.loans,
                       candidates_per_day=1_000)
        print(f"setup: {run.days_run} days, {args.loans:,} loans simulated in {run.seconds:.1f} s")

        def collect() -> object:
            return servicer_report(ctx, run.plan_code, run.first_day, run.last_day)  # type: ignore[arg-type]

        report = timed(f"servicer report data, {run.days_run} days", collect, repeat=3, target_s=5.0)
        timed("  + XLSX", lambda: servicer_xlsx(report), repeat=3, target_s=5.0)  # type: ignore[arg-type]
        timed("  + PDF (embedded CJK font)", lambda: servicer_pdf(report), repeat=3, target_s=5.0)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
