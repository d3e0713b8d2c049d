"""Validate a 1,000,000-row margin-loan CSV (target ≤ 3 s): Chinese headers through the shipped
mapping (percent rates, YYYYMMDD dates, status words), and canonical headers. Writing the
file is not timed. ``--quick`` uses 100,000 rows.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import machine, peak_rss_mib, timed_cpu  # noqa: E402

from absflow.services.synth import shipped_mapping, write_synthetic  # noqa: E402
from absflow.services.tapes import validate_tape  # noqa: E402
from absflow.tape.mapping import default_mapping  # noqa: E402
from absflow.tape.schema import TapeKind  # noqa: E402

CUTOFF = date(2026, 6, 30)


def main() -> None:
    n = 100_000 if "--quick" in sys.argv else 1_000_000
    target = 3.0 * n / 1_000_000
    print(machine())
    with tempfile.TemporaryDirectory() as folder:
        zh = Path(folder) / "margin_zh.csv"
        en = Path(folder) / "margin_en.csv"
        write_synthetic(TapeKind.MARGIN_LOAN, n, 1, zh, cutoff=CUTOFF, headers="zh")
        write_synthetic(TapeKind.MARGIN_LOAN, n, 1, en, cutoff=CUTOFF, headers="en")
        print(f"files: {zh.stat().st_size / 2**20:.0f} MiB (zh), {en.stat().st_size / 2**20:.0f} MiB (en)")
        mapping = shipped_mapping("margin_loan_zh")
        report = timed_cpu(f"validate {n:,} rows, Chinese headers via margin_loan_zh.yaml, with cut-off",
                       lambda: validate_tape(zh, mapping, cutoff=CUTOFF), repeat=3, target_s=target)
        assert report.valid and report.rows == n, report.issues[:3]
        report = timed_cpu(f"validate {n:,} rows, canonical headers",
                       lambda: validate_tape(en, default_mapping("margin_loan")), repeat=3, target_s=target)
        assert report.valid and report.rows == n, report.issues[:3]
    print(f"peak RSS {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
