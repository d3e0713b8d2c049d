"""Headline: p95 ≤ 200 ms for page and API reads on a plan with 1,000,000 loans under 50
concurrent clients (issue 7, Performance), against `absflow serve` on PostgreSQL at 127.0.0.1.

Setup (not timed): a fresh PostgreSQL database (dropped at the end unless ``--keep``), a
margin-loan plan with a synthetic 1,000,000-loan tape imported through the tape service
(COPY), the pool analytics computed and stored as the import job does (timed and printed),
a plan manager with an API key and a signed-in browser session, and ``absflow serve
--workers N`` (default 2, one per core here) as a subprocess on a free localhost port.

Timed: 50 closed-loop keep-alive connections for ``--seconds`` (default 30) cycling over API
reads (plan list, plan, pool summary, stratifications, concentration) and pages (plan list,
plan, pool page with four stratifications and charts). The client is a bare HTTP/1.1 client
on asyncio streams (uvloop when present) in this process, so it takes little CPU from the
server; the CPU used during the load phase by the server processes, by this client and by
the whole machine is printed. Prints p50/p95/p99 per endpoint and overall, requests per
second, and the load average; exits 0 either way (a miss is reported as MISSED).

``--quick``: 100,000 loans, 10 s. ``--workers N``: server processes. ``--keep`` keeps the
database and ``--reuse NAME`` measures again on a kept one without importing. Needs
PostgreSQL at ``ABSFLOW_BENCH_DATABASE_URL`` (default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres); without it, says so and exits 0.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from statistics import quantiles

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
from benchlib import machine  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from absflow.domain.plan import AssetType  # noqa: E402
from absflow.services import plans as plan_service  # noqa: E402
from absflow.services import poolview  # noqa: E402
from absflow.services import synth as synth_service  # noqa: E402
from absflow.services import tapes as tape_service  # noqa: E402
from absflow.services import users as user_service  # noqa: E402
from absflow.services.context import open_context  # noqa: E402
from absflow.tape.schema import TapeKind  # noqa: E402

TARGET_P95_MS = 200.0
CLIENTS = 50
DEFAULT_WORKERS = 2
PASSWORD = "bench-password-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(url: str, n: int) -> tuple[str, str]:
    """Plan with ``n`` imported loans and a plan manager; returns (plan code, API token)."""
    ctx = open_context(url)
    plan = plan_service.create_plan(ctx, name="压力测试计划", asset_type=AssetType.MARGIN_LOAN)
    with tempfile.TemporaryDirectory(prefix="absflow-bench-") as folder:
        path = Path(folder) / "tape.parquet"
        started = time.perf_counter()
        synth_service.write_synthetic(TapeKind.MARGIN_LOAN, n, 11, path, headers="zh")
        result = tape_service.import_tape(ctx, plan.code, path, synth_service.shipped_mapping("margin_loan_zh"),
                                          synth_service.DEFAULT_CUTOFF)
        print(f"imported {result.rows:,} loans in {time.perf_counter() - started:.1f} s (not timed)")
    started = time.perf_counter()
    poolview.precompute(ctx, plan.code)  # the import job's last step
    print(f"pool analytics computed and stored (the import job's last step): {time.perf_counter() - started:.1f} s")
    user_service.create_user(ctx, username="bench-manager", password=PASSWORD, role="plan_manager")
    user_service.grant(ctx, "bench-manager", plan.code)
    token, _key = user_service.create_api_key(ctx, "bench-manager", "bench")
    ctx.engine.dispose()
    return plan.code, token


def sign_in(base: str) -> dict[str, str]:
    with httpx.Client(base_url=base) as client:
        form = client.get("/login").text
        login_token = re.search(r'name="login_token" value="([^"]+)"', form)
        assert login_token is not None
        client.post("/login", data={"username": "bench-manager", "password": PASSWORD,
                                    "login_token": login_token.group(1), "next": "/"})
        return dict(client.cookies)


def _request(port: int, path: str, header: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{header}\r\n".encode("latin-1")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, keep the connection) after reading one whole response (Content-Length or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status, headers.get("connection") != "close"


async def run_load(port: int, token: str, cookies: dict[str, str], code: str, seconds: float
                   ) -> tuple[dict[str, list[float]], int]:
    """``CLIENTS`` closed-loop keep-alive connections for ``seconds``; latencies (ms) per endpoint, errors.

    A bare HTTP/1.1 client on asyncio streams: a fraction of httpx's CPU per request, so the
    client takes little of the cores the server is measured on."""
    api = f"Authorization: Bearer {token}\r\n"
    page = "Cookie: " + "; ".join(f"{k}={v}" for k, v in cookies.items()) + "\r\n"
    targets = [
        ("api plans", _request(port, "/api/v1/plans", api)),
        ("api plan", _request(port, f"/api/v1/plans/{code}", api)),
        ("api pool summary", _request(port, f"/api/v1/plans/{code}/pool/summary", api)),
        ("api pool strats", _request(port, f"/api/v1/plans/{code}/pool/strats?by=balance&by=region", api)),
        ("api concentration", _request(port, f"/api/v1/plans/{code}/pool/concentration", api)),
        ("page plans", _request(port, "/", page)),
        ("page plan", _request(port, f"/plans/{code}", page)),
        ("page pool", _request(port, f"/plans/{code}/pool", page)),
    ]
    timings: dict[str, list[float]] = {name: [] for name, _ in targets}
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client_loop(index: int) -> None:
        nonlocal errors
        i = index
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < deadline:
            name, request = targets[i % len(targets)]
            i += 1
            started = time.perf_counter()
            try:
                writer.write(request)
                status, keep = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                status, keep = 0, False
            timings[name].append((time.perf_counter() - started) * 1000)
            if status != 200:
                errors += 1
            if not keep:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()

    await asyncio.gather(*(client_loop(i) for i in range(CLIENTS)))
    return timings, errors


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes and their threads so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs so far (Linux /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def server_pids(root: int) -> list[int]:
    """The server process and its worker processes."""
    pids = [root]
    for child in Path(f"/proc/{root}/task/{root}/children").read_text().split():
        pids.append(int(child))
    return pids


def pct(values: list[float], q: int) -> float:
    return quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def option(flag: str, default: str | None = None) -> str | None:
    return sys.argv[sys.argv.index(flag) + 1] if flag in sys.argv else default


def start_server(url: str, workers: int) -> tuple[subprocess.Popen[bytes], int, Path]:
    port = free_port()
    env = {**os.environ, "ABSFLOW_DATABASE_URL": url, "ABSFLOW_SECRET_KEY": "bench-secret", "PYTHONUNBUFFERED": "1"}
    log = Path(tempfile.gettempdir()) / "absflow-bench-web-server.log"
    with log.open("wb") as server_log:
        server = subprocess.Popen([sys.executable, "-m", "absflow.cli.main", "serve", "--port", str(port),
                                   "--workers", str(workers)], env=env, stdout=server_log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300  # a loaded machine may take minutes to migrate and start
    while time.monotonic() < deadline and server.poll() is None:
        try:
            httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
            break
        except httpx.HTTPError:
            time.sleep(0.3)
    time.sleep(1 if workers > 1 else 0)  # let every worker come up
    return server, port, log


def main() -> None:
    quick = "--quick" in sys.argv
    n = 100_000 if quick else 1_000_000
    seconds = float(option("--seconds", "10" if quick else "30") or 0)
    workers = int(option("--workers", str(DEFAULT_WORKERS)) or 1)
    reuse = option("--reuse")  # a database kept by an earlier --keep run (same loans), to skip the import
    base_url = make_url(os.environ.get("ABSFLOW_BENCH_DATABASE_URL",
                                       "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    name = reuse or f"absflow_bench_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            if not reuse:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server: nothing to measure here
        print(f"skipped: PostgreSQL not reachable at {base_url.render_as_string(hide_password=True)} ({exc})")
        return
    url = base_url.set(database=name).render_as_string(hide_password=False)
    kept = Path(tempfile.gettempdir()) / f"{name}.json"
    server = None
    try:
        if reuse:
            code, token = json.loads(kept.read_text())
        else:
            code, token = prepare(url, n)
            kept.write_text(json.dumps([code, token]))
        server, port, log = start_server(url, workers)
        print(f"server: {workers} worker process(es), log {log}")
        base = f"http://127.0.0.1:{port}"
        cookies = sign_in(base)
        started = time.perf_counter()
        httpx.get(f"{base}/plans/{code}/pool", cookies=cookies, timeout=300)
        print(f"first pool page after start (stored analytics read, not computed): "
              f"{(time.perf_counter() - started) * 1000:.0f} ms")
        for path in (f"/api/v1/plans/{code}/pool/summary", f"/api/v1/plans/{code}/pool/strats?by=balance&by=region",
                     f"/api/v1/plans/{code}/pool/concentration"):
            httpx.get(base + path, headers={"Authorization": f"Bearer {token}"}, timeout=300)
        print(machine())
        pids = server_pids(server.pid)
        server_cpu, client_cpu, busy = cpu_seconds(pids), time.process_time(), machine_busy()
        timings, errors = run_client(port, token, cookies, code, seconds)
        server_cpu, client_cpu = cpu_seconds(pids) - server_cpu, time.process_time() - client_cpu
        busy = tuple(b - a for a, b in zip(busy, machine_busy(), strict=True))
        print(machine())
        everything = [t for values in timings.values() for t in values]
        print(f"{len(everything):,} requests in {seconds:.0f} s = {len(everything) / seconds:.0f} req/s, "
              f"{CLIENTS} concurrent clients, {n:,} loans; {errors} not 200")
        print(f"CPU over the load phase, in cores: server {server_cpu / seconds:.2f}, load client "
              f"{client_cpu / seconds:.2f}, whole machine {os.cpu_count() * busy[0] / busy[1]:.2f} of {os.cpu_count()}")
        for label, values in timings.items():
            print(f"  {label:18s} n={len(values):6d}  p50 {pct(values, 50):7.1f} ms  p95 {pct(values, 95):7.1f} ms  "
                  f"p99 {pct(values, 99):7.1f} ms")
        p50, p95, p99 = pct(everything, 50), pct(everything, 95), pct(everything, 99)
        verdict = "met" if p95 <= TARGET_P95_MS else "MISSED"
        print(f"overall p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms "
              f"(target p95 ≤ {TARGET_P95_MS:.0f} ms: {verdict})")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        if "--keep" in sys.argv:
            print(f"kept database {name}: rerun with --reuse {name}")
        else:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            kept.unlink(missing_ok=True)
        admin.dispose()


def run_client(port: int, token: str, cookies: dict[str, str], code: str, seconds: float
               ) -> tuple[dict[str, list[float]], int]:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(run_load(port, token, cookies, code, seconds))
    return uvloop.run(run_load(port, token, cookies, code, seconds))


if __name__ == "__main__":
    main()
