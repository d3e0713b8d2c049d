"""Headline: p95 ≤ 200 ms for page and API reads on a plan with 1,000,000 loans under 50
concurrent clients (issue 7, Performance), against `absflow serve` on PostgreSQL at 127.0.0.1.

Setup (not timed): a fresh PostgreSQL database (dropped at the end), a margin-loan plan
with a synthetic 1,000,000-loan tape imported through the tape service (COPY), a plan
manager with an API key and a signed-in browser session, and the server started as a
subprocess on a free localhost port. One warm-up pass fills the pool-analytics cache.

Timed: 50 asyncio clients (httpx, keep-alive) for ``--seconds`` (default 30) cycling over
API reads (plan list, plan, pool summary, stratifications, concentration) and pages (plan
list, plan, pool page with four stratifications and charts). Prints p50/p95/p99 per
endpoint and overall, requests per second, and the load average; exits 0 either way
(a miss is reported as MISSED). ``--quick``: 100,000 loans, 10 s. Needs PostgreSQL at
``ABSFLOW_BENCH_DATABASE_URL`` (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres);
without it, says so and exits 0.
"""

from __future__ import annotations

import asyncio
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
from absflow.services import synth as synth_service  # noqa: E402
from absflow.services import tapes as tape_service  # noqa: E402
from absflow.services import users as user_service  # noqa: E402
from absflow.services.context import open_context  # noqa: E402
from absflow.tape.schema import TapeKind  # noqa: E402

TARGET_P95_MS = 200.0
CLIENTS = 50
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


async def run_load(base: str, token: str, cookies: dict[str, str], code: str, seconds: float
                   ) -> dict[str, list[float]]:
    api = {"Authorization": f"Bearer {token}"}
    targets = [
        ("api plans", "/api/v1/plans", api, None),
        ("api plan", f"/api/v1/plans/{code}", api, None),
        ("api pool summary", f"/api/v1/plans/{code}/pool/summary", api, None),
        ("api pool strats", f"/api/v1/plans/{code}/pool/strats?by=balance&by=region", api, None),
        ("api concentration", f"/api/v1/plans/{code}/pool/concentration", api, None),
        ("page plans", "/", {}, cookies),
        ("page plan", f"/plans/{code}", {}, cookies),
        ("page pool", f"/plans/{code}/pool", {}, cookies),
    ]
    timings: dict[str, list[float]] = {name: [] for name, *_ in targets}
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)

    async def client_loop(index: int, api_client: httpx.AsyncClient, page_client: httpx.AsyncClient) -> None:
        nonlocal errors
        i = index
        while time.perf_counter() < deadline:
            name, path, headers, cookie = targets[i % len(targets)]
            i += 1
            started = time.perf_counter()
            try:
                response = await (page_client if cookie else api_client).get(path, headers=headers)
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            elapsed = (time.perf_counter() - started) * 1000
            if not ok:
                errors += 1
            timings[name].append(elapsed)

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as api_client, \
            httpx.AsyncClient(base_url=base, limits=limits, timeout=60, cookies=cookies) as page_client:
        await asyncio.gather(*(client_loop(i, api_client, page_client) for i in range(CLIENTS)))
    if errors:
        print(f"{errors} responses were not 200")
    return timings


def pct(values: list[float], q: int) -> float:
    return quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    quick = "--quick" in sys.argv
    n = 100_000 if quick else 1_000_000
    seconds = 10.0 if quick else 30.0
    if "--seconds" in sys.argv:
        seconds = float(sys.argv[sys.argv.index("--seconds") + 1])
    base_url = make_url(os.environ.get("ABSFLOW_BENCH_DATABASE_URL",
                                       "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    name = f"absflow_bench_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server: nothing to measure here
        print(f"skipped: PostgreSQL not reachable at {base_url.render_as_string(hide_password=True)} ({exc})")
        return
    url = base_url.set(database=name).render_as_string(hide_password=False)
    server = None
    try:
        code, token = prepare(url, n)
        port = free_port()
        env = {**os.environ, "ABSFLOW_DATABASE_URL": url, "ABSFLOW_SECRET_KEY": "bench-secret", "PYTHONUNBUFFERED": "1"}
        log = Path(tempfile.gettempdir()) / "absflow-bench-web-server.log"
        with log.open("wb") as server_log:
            server = subprocess.Popen([sys.executable, "-m", "absflow.cli.main", "serve", "--port", str(port)],
                                      env=env, stdout=server_log, stderr=subprocess.STDOUT)
        print(f"server log: {log}")
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300  # a loaded machine may take minutes to import and migrate
        while time.monotonic() < deadline and server.poll() is None:
            try:
                httpx.get(f"{base}/login", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        cookies = sign_in(base)
        started = time.perf_counter()
        for path in (f"/api/v1/plans/{code}/pool/summary", f"/api/v1/plans/{code}/pool/strats?by=balance&by=region",
                     f"/api/v1/plans/{code}/pool/concentration"):
            httpx.get(base + path, headers={"Authorization": f"Bearer {token}"}, timeout=300)
        httpx.get(f"{base}/plans/{code}/pool", cookies=cookies, timeout=300)
        print(f"warm-up (first computation of the pool analytics, then cached): {time.perf_counter() - started:.1f} s")
        print(machine())
        timings = asyncio.run(run_load(base, token, cookies, code, seconds))
        print(machine())
        everything = [t for values in timings.values() for t in values]
        print(f"{len(everything):,} requests in {seconds:.0f} s = {len(everything) / seconds:.0f} req/s, "
              f"{CLIENTS} concurrent clients, {n:,} loans")
        for label, values in timings.items():
            print(f"  {label:18s} n={len(values):6d}  p50 {pct(values, 50):7.1f} ms  p95 {pct(values, 95):7.1f} ms  "
                  f"p99 {pct(values, 99):7.1f} ms")
        p95 = pct(everything, 95)
        verdict = "met" if p95 <= TARGET_P95_MS else "MISSED"
        print(f"overall p95 {p95:.1f} ms (target ≤ {TARGET_P95_MS:.0f} ms: {verdict})")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
