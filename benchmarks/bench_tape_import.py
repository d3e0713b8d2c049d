"""Import a 1,000,000-row margin-loan CSV (Chinese headers, shipped mapping) into a plan:
SQLite (target ≤ 15 s) and PostgreSQL (target ≤ 15 s; runs when ABSFLOW_BENCH_DATABASE_URL or
ABSFLOW_TEST_DATABASE_URL names a server: a scratch database is created and dropped). Times
the whole ``import_tape`` call: hashing, reading, validation, bulk write, log append, commit.
Also reports ``load_pool_frame`` for the imported pool. ``--quick`` uses 100,000 rows.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import machine, peak_rss_mib, scratch_postgresql, timed_cpu  # noqa: E402

from absflow.services import plans  # noqa: E402
from absflow.services.context import open_context  # noqa: E402
from absflow.services.synth import shipped_mapping, write_synthetic  # noqa: E402
from absflow.services.tapes import import_tape, load_pool_frame  # noqa: E402
from absflow.tape.schema import TapeKind  # noqa: E402

CUTOFF = date(2026, 6, 30)


def run(url: str, tape: Path, n: int, label: str) -> None:
    ctx = open_context(url)
    code = plans.create_plan(ctx, name="bench", asset_type="margin_loan").code
    mapping = shipped_mapping("margin_loan_zh")
    result = timed_cpu(f"import {n:,} rows into {label}", lambda: import_tape(ctx, code, tape, mapping, CUTOFF),
                   target_s=15.0 * n / 1_000_000)
    assert result.rows == n and not result.already_imported
    started = time.perf_counter()
    again = import_tape(ctx, code, tape, mapping, CUTOFF)
    print(f"  re-import of the same file (detected, nothing written): {time.perf_counter() - started:.3f} s")
    assert again.already_imported
    frame = timed_cpu(f"load_pool_frame of {n:,} assets from {label}", lambda: load_pool_frame(ctx, code))
    assert frame.height == n
    ctx.engine.dispose()


def main() -> None:
    n = 100_000 if "--quick" in sys.argv else 1_000_000
    print(machine())
    with tempfile.TemporaryDirectory() as folder:
        tape = Path(folder) / "margin_zh.csv"
        prefix = "B" + uuid.uuid4().hex[:6]
        write_synthetic(TapeKind.MARGIN_LOAN, n, 1, tape, cutoff=CUTOFF, headers="zh", id_prefix=prefix)
        print(f"file: {tape.stat().st_size / 2**20:.0f} MiB")
        run(f"sqlite:///{Path(folder) / 'bench.db'}", tape, n, "SQLite")
        pg = os.environ.get("ABSFLOW_BENCH_DATABASE_URL") or os.environ.get("ABSFLOW_TEST_DATABASE_URL")
        if pg and pg.startswith("postgresql"):
            with scratch_postgresql(pg) as url:
                run(url, tape, n, "PostgreSQL")
        else:
            print("PostgreSQL: skipped (set ABSFLOW_BENCH_DATABASE_URL)")
    print(f"peak RSS {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
