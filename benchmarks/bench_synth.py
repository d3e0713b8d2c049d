"""Synthesize 1,000,000 margin-loan rows (target ≤ 3 s), and the same written as CSV with Chinese headers.

Also times 1,000,000 consumer loans. ``--quick`` uses 100,000 rows.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import machine, peak_rss_mib, timed_cpu  # noqa: E402

from absflow.services.synth import synthesize, write_synthetic  # noqa: E402
from absflow.tape.schema import TapeKind  # noqa: E402

CUTOFF = date(2026, 6, 30)


def main() -> None:
    n = 100_000 if "--quick" in sys.argv else 1_000_000
    print(machine())
    synthesize(TapeKind.MARGIN_LOAN, 1_000, 1, cutoff=CUTOFF)  # warm up imports
    timed_cpu(f"synthesize {n:,} margin loans (frame)", lambda: synthesize(TapeKind.MARGIN_LOAN, n, 1, cutoff=CUTOFF),
          repeat=3, target_s=3.0 * n / 1_000_000)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "margin_zh.csv"
        timed_cpu(f"synthesize {n:,} margin loans + write CSV (zh headers)",
              lambda: write_synthetic(TapeKind.MARGIN_LOAN, n, 1, out, cutoff=CUTOFF, headers="zh"),
              repeat=3, target_s=3.0 * n / 1_000_000)
        print(f"  file size: {out.stat().st_size / 2**20:.0f} MiB")
    timed_cpu(f"synthesize {n:,} consumer loans (frame)",
          lambda: synthesize(TapeKind.CONSUMER_LOAN, n, 1, cutoff=CUTOFF), repeat=3)
    timed_cpu(f"performance history of {n // 10:,} loans (24 vintages)",
          lambda: synthesize(TapeKind.LOAN_PERFORMANCE, n // 10, 1, cutoff=CUTOFF), repeat=1)
    print(f"peak RSS {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
