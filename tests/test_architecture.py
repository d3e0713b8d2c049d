"""The pure core reads no clock and no environment (ARCHITECTURE.md rule 1)."""

import re
from pathlib import Path

CORE = ["domain", "tape", "pool", "cashflow", "revolving", "bookbuilding", "tlog", "access", "calendar", "deal"]
SRC = Path(__file__).resolve().parents[1] / "src" / "absflow"
FORBIDDEN = re.compile(r"datetime\.now\(|date\.today\(|time\.time\(|os\.environ|os\.getenv|datetime\.utcnow\(")


def test_pure_core_reads_no_clock_or_environment() -> None:
    offenders = []
    for package in CORE:
        for path in (SRC / package).rglob("*.py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if FORBIDDEN.search(line):
                    offenders.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
    assert offenders == []
