"""Shared set-up for the tlog benchmarks: a scratch PostgreSQL database filled with log entries.

``ABSFLOW_BENCH_DATABASE_URL`` names the PostgreSQL server (default: the local test server);
a database is created for the run and dropped afterwards. Without a reachable server the
scripts fall back to a SQLite file and say so.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from absflow.services.log import Event, append_events  # noqa: E402
from absflow.store.db import make_engine, scratch_postgresql, transaction  # noqa: E402
from absflow.store.migrate import upgrade  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@contextmanager
def scratch_engine() -> Iterator[tuple[Engine, str]]:
    """A migrated empty database: PostgreSQL if reachable, else SQLite. Yields (engine, backend)."""
    with ExitStack() as stack:
        server = os.environ.get("ABSFLOW_BENCH_DATABASE_URL", DEFAULT_PG)
        try:
            url = stack.enter_context(scratch_postgresql(server, prefix="absflow_bench"))
        except Exception as exc:  # no server: fall back, and say so
            print(f"PostgreSQL unavailable ({type(exc).__name__}); using SQLite instead")
            url = f"sqlite:///{stack.enter_context(tempfile.TemporaryDirectory())}/bench.db"
        engine = make_engine(url)
        stack.callback(engine.dispose)
        upgrade(engine)
        yield engine, engine.dialect.name


def events(start: int, count: int) -> list[Event]:
    """Typical small events: a daily-run style payload with money as strings."""
    plans = [f"ABS-2026-{p:04d}" for p in range(1, 21)]
    return [
        Event("daily.purchase", plans[i % 20],
              {"asset_id": f"L{i:08d}", "price": f"{10000 + i % 9973}.{i % 100:02d}", "batch": i // 1000},
              T0 + timedelta(seconds=i), date(2026, 3, 2) + timedelta(days=i // 50000))
        for i in range(start, start + count)
    ]


def fill(engine: Engine, total: int, chunk: int = 100_000) -> None:
    """Append ``total`` entries in transactions of ``chunk`` entries (the bulk path)."""
    done = 0
    while done < total:
        n = min(chunk, total - done)
        batch = events(done, n)
        with transaction(engine) as session:
            append_events(session, batch)
        done += n


def parse_size(extra: list[tuple[str, int]] = ()) -> tuple[int, dict[str, int]]:  # type: ignore[assignment]
    """``--entries N`` (default 1,000,000), ``--quick`` (100,000) and extra integer options."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 entries")
    for name, default in extra:
        parser.add_argument(f"--{name}", type=int, default=default)
    args = vars(parser.parse_args())
    total = 100_000 if args.pop("quick") else args.pop("entries")
    return total, args


def per_million_verdict(elapsed_s: float, total: int, target_s_per_million: float) -> str:
    met = elapsed_s <= target_s_per_million * total / 1_000_000
    return f"target ≤ {target_s_per_million:g} s per 1,000,000: {'met' if met else 'MISSED'}"


def backend_cpu_s(engine: Engine) -> float | None:
    """CPU seconds used so far by the PostgreSQL backend serving this engine's pooled connection
    (read from /proc: the server runs on this machine), or None when not available."""
    if engine.dialect.name != "postgresql":
        return None
    try:
        with engine.connect() as conn:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
