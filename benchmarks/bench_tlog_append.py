"""Append 1,000,000 log entries with persistence on PostgreSQL (target ≤ 20 s).

Bulk path: ``append_events`` in transactions of 100,000 entries, each storing the entries,
the perfect subtree hashes they complete and the new compact range (COPY on PostgreSQL).
Only the appends are timed, not the generation of the input events.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import machine, peak_rss_mib  # noqa: E402
from tlog_fixture import backend_cpu_s, events, parse_size, per_million_verdict, scratch_engine  # noqa: E402

from absflow.services import tlog as tlog_service  # noqa: E402
from absflow.services.context import Context  # noqa: E402
from absflow.services.log import append_events  # noqa: E402
from absflow.store.db import transaction  # noqa: E402

TARGET_S = 20.0


def main() -> None:
    total, options = parse_size([("chunk", 100_000)])
    print(machine())
    with scratch_engine() as (engine, backend):
        elapsed = 0.0
        cpu = 0.0
        server_before = backend_cpu_s(engine)
        done = 0
        while done < total:
            batch = events(done, min(options["chunk"], total - done))
            start, cpu_start = time.perf_counter(), time.process_time()
            with transaction(engine) as session:
                append_events(session, batch)
            elapsed += time.perf_counter() - start
            cpu += time.process_time() - cpu_start
            done += len(batch)
        server_after = backend_cpu_s(engine)
        head = tlog_service.log_head(Context(engine=engine))
        assert head.size == total
        print(f"append {total:,} entries on {backend}: {elapsed:.2f} s ({total / elapsed:,.0f} entries/s; "
              f"{per_million_verdict(elapsed, total, TARGET_S)}); peak RSS {peak_rss_mib():.0f} MiB")
        server = "n/a" if server_before is None or server_after is None else f"{server_after - server_before:.1f} s"
        print(f"  CPU time: this process {cpu:.1f} s, PostgreSQL backend {server} "
              "(wall time above that of both together means the machine was busy)")


if __name__ == "__main__":
    main()
