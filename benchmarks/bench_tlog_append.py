"""Append 1,000,000 log entries with persistence on PostgreSQL (target ≤ 20 s).

Bulk path: ``append_events`` in transactions of 100,000 entries, each storing the entries,
the perfect subtree hashes they complete and the new compact range (COPY on PostgreSQL).
Only the appends are timed, not the generation of the input events.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import machine, peak_rss_mib  # noqa: E402
from tlog_fixture import events, scratch_engine  # noqa: E402

from absflow.services import tlog as tlog_service  # noqa: E402
from absflow.services.context import Context  # noqa: E402
from absflow.services.log import append_events  # noqa: E402
from absflow.store.db import transaction  # noqa: E402

TARGET_S = 20.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="100,000 entries")
    args = parser.parse_args()
    total = 100_000 if args.quick else args.entries
    print(machine())
    with scratch_engine() as (engine, backend):
        elapsed = 0.0
        done = 0
        while done < total:
            batch = events(done, min(args.chunk, total - done))
            start = time.perf_counter()
            with transaction(engine) as session:
                append_events(session, batch)
            elapsed += time.perf_counter() - start
            done += len(batch)
        head = tlog_service.log_head(Context(engine=engine))
        assert head.size == total
        verdict = "met" if elapsed <= TARGET_S * total / 1_000_000 else "MISSED"
        print(f"append {total:,} entries on {backend}: {elapsed:.2f} s "
              f"({total / elapsed:,.0f} entries/s; target ≤ {TARGET_S:g} s per 1,000,000: {verdict}); "
              f"peak RSS {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
