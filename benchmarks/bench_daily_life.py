"""End to end: 370 trading days of a revolving plan with 200,000 loans (target ≤ 3 min; ``--full``).

By default 370 days with 20,000 loans, so ``make bench`` finishes; ``--full`` is the headline.

Through the services on an embedded SQLite file (``--postgresql``: a scratch database on the
server named by ABSFLOW_BENCH_DATABASE_URL or ABSFLOW_TEST_DATABASE_URL, dropped afterwards):
import the initial pool tape (200,000 margin loans), then every trading day the synthetic
servicer makes the day's files, the system stores them (``store_inputs``: checks against the
pool and between files) and runs the day (collections, extensions, liquidations,
mark-to-market, repurchases, purchases from the backup pool, payment dates), one transaction
per day. ``--days N --loans M`` scale it down.

What is timed, separately (wall and this process's CPU): ``setup`` (plan, deal, initial tape
import), ``synthetic`` (the harness making the files: not the system's work), ``load`` and
``run`` (the system's daily work: the headline compared with the target).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import machine, peak_rss_mib, scratch_postgresql  # noqa: E402

from absflow.services.context import open_context  # noqa: E402
from absflow.services.simulate import simulate  # noqa: E402

DEAL = Path(__file__).resolve().parents[1] / "examples" / "deals" / "09_pyas_swhy_1.yaml"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def database(postgresql: bool) -> Iterator[str]:
    """A URL for an empty database: a temporary SQLite file, or a scratch PostgreSQL database."""
    if not postgresql:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    with scratch_postgresql(os.environ.get("ABSFLOW_BENCH_DATABASE_URL")
                            or os.environ.get("ABSFLOW_TEST_DATABASE_URL") or DEFAULT_PG) as url:
        yield url

def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=370)
    parser.add_argument("--loans", type=int, default=20_000)
    parser.add_argument("--candidates", type=int, default=1_000)
    parser.add_argument("--full", action="store_true", help="the headline: 370 days, 200,000 loans")
    parser.add_argument("--quick", action="store_true", help="20 days, 20,000 loans")
    parser.add_argument("--postgresql", action="store_true", help="on a scratch PostgreSQL database")
    args = parser.parse_args()
    if args.full:  # a backup pool that can take up the cash after each payment window (see the docstring)
        args.days, args.loans, args.candidates = 370, 200_000, 20_000
    if args.quick:
        args.days, args.loans, args.candidates = 20, 20_000, 1_000
    print(machine(), "PostgreSQL" if args.postgresql else "SQLite")
    with database(args.postgresql) as url:
        ctx = open_context(url)
        times: list[float] = []
        started, cpu_started = time.perf_counter(), time.process_time()
        report = simulate(ctx, DEAL.read_text(encoding="utf-8"), days=args.days, seed=2026, loans=args.loans,
                          candidates_per_day=args.candidates, clients=args.loans // 2,
                          progress=lambda run: times.append(run.seconds))
        total, cpu_total = time.perf_counter() - started, time.process_time() - cpu_started
        ctx.engine.dispose()
    phases = report.timings
    system = phases["load"]["wall"] + phases["run"]["wall"]
    system_cpu = phases["load"]["cpu"] + phases["run"]["cpu"]
    target = 180.0 if (args.days, args.loans) == (370, 200_000) else None
    verdict = "" if target is None else f" (target ≤ {target:g} s: {'met' if system <= target else 'MISSED'})"
    print(f"{report.days_run} trading days, {args.loans:,} loans, {args.candidates:,} candidates/day")
    print(f"  system's daily work (store the day's files + run the day): {system:.1f} s wall{verdict}, "
          f"{system_cpu:.1f} s CPU; per day {system / max(report.days_run, 1):.3f} s wall")
    for phase in ("setup", "synthetic", "load", "run"):
        print(f"  {phase:>9}: {phases[phase]['wall']:8.1f} s wall {phases[phase]['cpu']:8.1f} s CPU")
    print(f"  everything (setup + harness + system): {total:.1f} s wall, {cpu_total:.1f} s CPU; "
          f"loadavg now {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if times:
        ordered = sorted(times)
        print(f"  run_day: median {ordered[len(ordered) // 2]:.3f} s, max {ordered[-1]:.3f} s; "
              f"final status {report.final_status}; utilization {report.utilization_mean}; "
              f"peak RSS {peak_rss_mib():.0f} MiB")
    print(f"  days by purchase state: {', '.join(f'{k} {v}' for k, v in sorted(report.purchase_states.items()))}")


if __name__ == "__main__":
    main()
