"""`absflow log audit` of 1,000,000 entries (target ≤ 30 s): every row re-read and re-hashed."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import machine, peak_rss_mib  # noqa: E402
from tlog_fixture import backend_cpu_s, fill, parse_size, per_million_verdict, scratch_engine  # noqa: E402

from absflow.services import tlog as tlog_service  # noqa: E402
from absflow.services.context import Context  # noqa: E402
from absflow.tlog.note import SignerKey  # noqa: E402

TARGET_S = 30.0


def main() -> None:
    total, _ = parse_size()
    print(machine())
    with scratch_engine() as (engine, backend):
        fill(engine, total)
        signer = SignerKey.from_seed("absflow.bench/log", bytes(32))
        ctx = Context(engine=engine, extras={"log_signer": signer})
        tlog_service.make_checkpoint(ctx)
        server_before = backend_cpu_s(engine)
        start, cpu_start = time.perf_counter(), time.process_time()
        report = tlog_service.audit_log(ctx, [signer.verifier()])
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        server_after = backend_cpu_s(engine)
        assert report.ok, report.problem
        verdict = per_million_verdict(elapsed, total, TARGET_S)
        print(f"audit of {total:,} entries on {backend} ({report.nodes_checked:,} subtree hashes, "
              f"{report.checkpoints_checked} checkpoint): {elapsed:.2f} s ({verdict}); "
              f"peak RSS {peak_rss_mib():.0f} MiB")
        server = "n/a" if server_before is None or server_after is None else f"{server_after - server_before:.1f} s"
        print(f"  CPU time: this process {cpu:.1f} s, PostgreSQL backend {server}")


if __name__ == "__main__":
    main()
