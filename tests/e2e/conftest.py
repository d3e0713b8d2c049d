"""Browser tests: Debian's chromium driven by Playwright against a uvicorn server on a free port.

Skipped (with the reason) only when /usr/bin/chromium is absent; no browser is ever downloaded.
Screenshots go to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from argon2 import PasswordHasher
from tests.conftest import BACKENDS, fresh_pg_database

from absflow.access import Role
from absflow.api.app import create_app
from absflow.api.settings import Settings
from absflow.domain.plan import AssetType, Party, PartyRole
from absflow.services import plans as plan_service
from absflow.services import tlog as tlog_service
from absflow.services import users as user_service
from absflow.services.context import Context, open_context

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "browser-pass-1"

pytestmark = pytest.mark.e2e


@dataclass
class Site:
    url: str
    ctx: Context
    plan_a: str
    plan_b: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session", params=BACKENDS)
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The server on SQLite and, when ``ABSFLOW_TEST_DATABASE_URL`` is set, on a database of its own
    on that PostgreSQL server."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent (apt-get install chromium; .ci/run does it)")
    if request.param == "postgresql":
        with fresh_pg_database("absflow_e2e") as url:
            yield from _serve(url)
    else:
        yield from _serve(f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'e2e.db'}")


def _serve(url: str) -> Iterator[Site]:
    user_service.HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    ctx = open_context(url)
    ctx.extras["log_signer"] = tlog_service.generate_key("e2e.absflow.test/log")
    a = plan_service.create_plan(ctx, name="浦银安盛资管-申万宏源证券融出资金债权1号资产支持专项计划",
                                 asset_type=AssetType.MARGIN_LOAN,
                                 parties=[Party(PartyRole.ORIGINATOR, "申万宏源证券有限公司")])
    b = plan_service.create_plan(ctx, name="另一计划", asset_type=AssetType.CONSUMER_LOAN)
    for role in Role:
        name = role.value.replace("_", "-")
        user_service.create_user(ctx, username=name, password=PASSWORD, role=role)
        if role not in (Role.REGULATOR, Role.ADMIN):
            user_service.grant(ctx, name, a.code)
    port = _free_port()
    app = create_app(ctx, Settings(secret_key="e2e-secret"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield Site(url=f"http://127.0.0.1:{port}", ctx=ctx, plan_a=a.code, plan_b=b.code)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        ctx.engine.dispose()


@pytest.fixture(scope="session")
def browser(site: Site) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")  # type: ignore[attr-defined]
    pg = context.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.console_errors = errors
    try:
        yield pg
    finally:
        context.close()


def shot(page: object, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path


def sign_in(page: object, site: Site, username: str) -> None:
    page.goto(f"{site.url}/login")  # type: ignore[attr-defined]
    page.fill("input[name=username]", username)  # type: ignore[attr-defined]
    page.fill("input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    page.click("#login-submit")  # type: ignore[attr-defined]
    page.wait_for_selector("#whoami")  # type: ignore[attr-defined]
