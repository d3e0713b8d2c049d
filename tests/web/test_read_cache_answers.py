"""Kept answers of hot reads (api/readcache.py, services/readcache.py): served again only to the same
principal at the same log state, after the service layer's checks pass again; any write, here or
in another process, makes them stale; one principal's answer never reaches another."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete
from tests.web.conftest import World, bearer
from tests.web.test_pages import login
from tests.web.test_pool_web import import_tape
from tests.web.test_tapes_web import GOOD

from absflow.access import MASK, Decision, Role, Verdict
from absflow.api import readcache as api_readcache
from absflow.domain.plan import PlanStatus
from absflow.services import access as access_service
from absflow.services import plans as plan_service
from absflow.services import poolview, readcache
from absflow.services import users as user_service
from absflow.services.log import append_event
from absflow.store.db import transaction
from absflow.store.users import PlanGrantRow

T = TypeVar("T")


class Calls:
    """Counts how often a service function is reached."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> None:
        self.count = 0
        original = getattr(module, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)


def run_apart(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on a fresh event loop in its own thread: the browser tests' sync
    Playwright keeps a loop running in the main thread, where ``asyncio.run`` refuses."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def test_a_repeated_read_is_answered_without_the_route_with_etag_and_304(
        client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = Calls(monkeypatch, plan_service, "get_plan_with_history")
    h = bearer(world, Role.PLAN_MANAGER)
    first = client.get(f"/api/v1/plans/{world.plan_a}", headers=h)
    second = client.get(f"/api/v1/plans/{world.plan_a}", headers=h)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content and calls.count == 1
    etag = first.headers["etag"]
    assert second.headers["etag"] == etag
    assert second.headers["x-content-type-options"] == "nosniff"  # the security headers come along
    assert second.headers["content-type"] == first.headers["content-type"]
    assert first.headers["cache-control"] == "private, no-cache"  # never kept by a shared cache
    again = client.get(f"/api/v1/plans/{world.plan_a}", headers={**h, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag


def plan_status_shown(page: str) -> str:
    found = re.search(r'id="plan-status">([^<]*)<', page)
    assert found is not None
    return found.group(1)


def test_a_write_through_the_app_is_seen_at_once(client: TestClient, world: World) -> None:
    h = bearer(world, Role.PLAN_MANAGER)
    login(client, "plan-manager")
    for _ in range(2):
        assert client.get(f"/api/v1/plans/{world.plan_a}", headers=h).json()["status"] == "initiated"
        assert plan_status_shown(client.get(f"/plans/{world.plan_a}").text) == "立项"
    r = client.patch(f"/api/v1/plans/{world.plan_a}", headers=h, json={"status": "filed"})
    assert r.status_code == 200
    assert client.get(f"/api/v1/plans/{world.plan_a}", headers=h).json()["status"] == "filed"
    assert plan_status_shown(client.get(f"/plans/{world.plan_a}").text) == PlanStatus.FILED.label_zh


def test_a_write_by_another_process_is_seen_at_once(client: TestClient, world: World,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    calls = Calls(monkeypatch, plan_service, "list_plans")
    h = bearer(world, Role.REGULATOR)
    before = client.get("/api/v1/plans", headers=h).json()["plans"]
    assert client.get("/api/v1/plans", headers=h).json()["plans"] == before and calls.count == 1
    # the CLI or another server worker: the service on the database, this app is not told
    plan_service.create_plan(world.ctx, name="丙计划", asset_type="margin_loan")
    after = client.get("/api/v1/plans", headers=h).json()["plans"]
    assert len(after) == len(before) + 1 and calls.count == 2
    plan_service.advance_plan(world.ctx, world.plan_b, "filed")
    assert {p["code"]: p["status"] for p in client.get("/api/v1/plans", headers=h).json()["plans"]}[
        world.plan_b] == "filed"


def test_any_log_entry_makes_kept_answers_stale(client: TestClient, world: World,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    calls = Calls(monkeypatch, plan_service, "get_plan_with_history")
    h = bearer(world, Role.PLAN_MANAGER)
    client.get(f"/api/v1/plans/{world.plan_a}", headers=h)
    with transaction(world.ctx.engine) as session:
        append_event(session, entry_type="test.note", plan_code=None, recorded_at=world.ctx.now(), payload={})
    client.get(f"/api/v1/plans/{world.plan_a}", headers=h)
    assert calls.count == 2


def test_one_principals_answer_never_reaches_another(client: TestClient, world: World) -> None:
    poolview.clear_cache()
    import_tape(client, world, *GOOD)
    url = f"/api/v1/plans/{world.plan_a}/pool/concentration"
    manager, investor = bearer(world, Role.PLAN_MANAGER), bearer(world, Role.INVESTOR)
    for _ in range(2):
        assert {o["key"] for o in client.get(url, headers=manager).json()["top_obligors"]} == {"C1", "C2"}
        assert {o["key"] for o in client.get(url, headers=investor).json()["top_obligors"]} == {MASK}
    # plan B: the regulator's kept answer is nobody else's
    regulator = bearer(world, Role.REGULATOR)
    for _ in range(2):
        assert client.get(f"/api/v1/plans/{world.plan_b}", headers=regulator).status_code == 200
    for role in (Role.PLAN_MANAGER, Role.INVESTOR, Role.ORIGINATOR):
        r = client.get(f"/api/v1/plans/{world.plan_b}", headers=bearer(world, role))
        assert r.status_code == 404 and "secret" not in r.text
    # the plan list differs per principal
    mine = [p["code"] for p in client.get("/api/v1/plans", headers=manager).json()["plans"]]
    everyone = [p["code"] for p in client.get("/api/v1/plans", headers=regulator).json()["plans"]]
    assert mine == [world.plan_a] and world.plan_b in everyone
    assert [p["code"] for p in client.get("/api/v1/plans", headers=manager).json()["plans"]] == mine


def test_pages_are_kept_per_session_and_language(client: TestClient, world: World) -> None:
    login(client, "investor")
    first = client.get(f"/plans/{world.plan_a}")
    assert client.get(f"/plans/{world.plan_a}").text == first.text
    client.cookies.set("absflow_lang", "en")
    english = client.get(f"/plans/{world.plan_a}").text
    assert english != first.text
    client.cookies.delete("absflow_lang")
    other = TestClient(client.app)
    login(other, "custodian")
    page = other.get(f"/plans/{world.plan_a}").text
    assert 'id="whoami">custodian<' in page and 'id="whoami">investor<' in first.text
    assert 'id="whoami">investor<' in client.get(f"/plans/{world.plan_a}").text


def test_a_change_of_rights_is_not_served_the_old_answer(client: TestClient, world: World) -> None:
    h = bearer(world, Role.INVESTOR)
    for _ in range(2):
        assert client.get(f"/api/v1/plans/{world.plan_a}", headers=h).status_code == 200
    user_service.revoke(world.ctx, "investor", world.plan_a)
    assert client.get(f"/api/v1/plans/{world.plan_a}", headers=h).status_code == 404
    assert client.get("/api/v1/plans", headers=h).json()["plans"] == []


def test_rights_taken_away_elsewhere_without_a_log_entry_end_within_the_principal_bound(
        client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(user_service.PRINCIPALS, "clock", lambda: now[0])
    user_service.PRINCIPALS.clear()
    h = bearer(world, Role.INVESTOR)
    for _ in range(2):
        assert client.get(f"/api/v1/plans/{world.plan_a}", headers=h).status_code == 200
    with transaction(world.ctx.engine) as session:  # not through the service: no log entry, no notice
        session.execute(delete(PlanGrantRow))
    now[0] += user_service.PRINCIPAL_CACHE_SECONDS
    for _ in range(2):  # the first resolves the principal afresh, the second finds it held
        assert client.get(f"/api/v1/plans/{world.plan_a}", headers=h).status_code == 404


def test_the_service_layer_checks_every_kept_answer_again(client: TestClient, world: World,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    calls = Calls(monkeypatch, plan_service, "get_plan_with_history")
    h = bearer(world, Role.PLAN_MANAGER)
    for _ in range(2):
        assert client.get(f"/api/v1/plans/{world.plan_a}", headers=h).status_code == 200
    assert calls.count == 1
    checked: list[tuple[str, str | None]] = []

    def refuse(principal: Any, action: str, plan_code: str | None = None) -> bool:
        checked.append((action, plan_code))
        return False

    # the authorizer's predicate refuses: the kept answer is not served, the route answers afresh
    monkeypatch.setattr(access_service, "may", refuse)
    assert client.get(f"/api/v1/plans/{world.plan_a}", headers=h).status_code == 200
    assert ("view", world.plan_a) in checked and calls.count == 2
    # and when the service layer refuses the request itself, the answer is the refusal
    monkeypatch.setattr(access_service, "decide", lambda *_args, **_kw: Decision(Verdict.HIDE, "test"))
    assert client.get(f"/api/v1/plans/{world.plan_a}", headers=h).status_code == 404


def test_refused_and_uncacheable_answers_are_not_kept(client: TestClient, world: World,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    h = bearer(world, Role.INVESTOR)
    for _ in range(2):
        r = client.get(f"/api/v1/plans/{world.plan_b}", headers=h)
        assert r.status_code == 404 and "etag" not in r.headers
    # a route that did not opt in (the log page reads things outside the plan's rows)
    login(client, "plan-manager")
    assert "etag" not in client.get(f"/plans/{world.plan_a}/log").headers
    assert "etag" not in client.get("/login").headers


def kept_answers(client: TestClient) -> readcache.ReadCache:
    """The app's read cache (the middleware is built on the app's first request)."""
    layer: Any = client.app.middleware_stack  # type: ignore[attr-defined]
    while not isinstance(layer, api_readcache.ReadCacheMiddleware):
        layer = layer.app
    return layer.cache


def test_kept_answers_expire(client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    h = bearer(world, Role.PLAN_MANAGER)
    client.get("/api/v1/plans", headers=h)
    cache = kept_answers(client)
    cache.clear()
    monkeypatch.setattr(cache, "clock", lambda: now[0])
    calls = Calls(monkeypatch, plan_service, "get_plan_with_history")
    client.get(f"/api/v1/plans/{world.plan_a}", headers=h)
    client.get(f"/api/v1/plans/{world.plan_a}", headers=h)
    assert calls.count == 1 and len(cache) == 1
    now[0] += readcache.ENTRY_SECONDS
    client.get(f"/api/v1/plans/{world.plan_a}", headers=h)
    assert calls.count == 2


def test_store_is_bounded_in_count_and_bytes() -> None:
    cache = readcache.ReadCache(max_entries=3, max_bytes=800)
    recorder = readcache.Recorder()
    for i in range(5):
        assert cache.put(i, (1, b""), "p", recorder, 200, (), b"x" * 90, b'"e"')
    assert len(cache) == 3 and cache.get(0) is None and cache.get(4) is not None
    assert not cache.put("big", (1, b""), "p", recorder, 200, (), b"x" * 200, b'"e"')  # over an eighth
    denied = readcache.Recorder(denied=True)
    assert not cache.put("refused", (1, b""), "p", denied, 200, (), b"", b'"e"')
    someone_else = readcache.Recorder(actors=["q"])
    assert not cache.put("other", (1, b""), "p", someone_else, 200, (), b"", b'"e"')
    entry = cache.get(4)
    assert entry is not None
    assert cache.usable(entry, (1, b""), "p")
    assert not cache.usable(entry, (2, b""), "p") and not cache.usable(entry, (1, b""), "q")
    assert not cache.usable(entry, None, "p")


def test_log_head_reads_are_shared_and_never_older_than_the_request() -> None:
    """Requests arriving while a read is under way wait for the next read, which they share."""
    reads = []
    value = [0]

    async def scenario() -> list[readcache.Version | None]:
        release = asyncio.Event()

        async def read() -> readcache.Version:
            reads.append(value[0])
            await release.wait()
            value[0] += 1
            return (value[0], b"")

        gate = api_readcache.VersionGate(read)
        first = asyncio.ensure_future(gate.read())
        await asyncio.sleep(0.01)  # the first read is under way
        later = [asyncio.ensure_future(gate.read()) for _ in range(10)]
        await asyncio.sleep(0.01)
        release.set()
        results = [await first, *[await f for f in later]]
        assert gate.last == (2, b"")
        return results

    results = run_apart(scenario())
    assert results[0] == (1, b"")
    assert all(r == (2, b"") for r in results[1:])  # one shared read, started after they arrived
    assert len(reads) == 2


def test_a_failed_log_head_read_answers_uncached(client: TestClient, world: World,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken() -> readcache.Version:
        raise OSError("database gone")

    monkeypatch.setattr(readcache, "version_reader", lambda _engine: broken)
    calls = Calls(monkeypatch, plan_service, "get_plan_with_history")
    h = bearer(world, Role.PLAN_MANAGER)
    for _ in range(3):
        assert client.get(f"/api/v1/plans/{world.plan_a}", headers=h).status_code == 200
    assert calls.count == 3


def test_a_principal_let_go_by_its_cache_is_resolved_once_for_concurrent_requests(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    resolved: list[str] = []
    original = user_service.resolve_api_key

    def slow_resolve(ctx: Any, token: str) -> Any:
        resolved.append(token)
        time.sleep(0.05)
        return original(ctx, token)

    monkeypatch.setattr(user_service, "resolve_api_key", slow_resolve)
    user_service.PRINCIPALS.clear()
    layer = api_readcache.ReadCacheMiddleware(lambda *_args: None)  # type: ignore[arg-type]
    token = world.tokens[Role.INVESTOR]

    async def many() -> list[Any]:
        digest = user_service.token_digest(token)
        return list(await asyncio.gather(*(layer.principal(world.ctx, "api_key", token, digest) for _ in range(20))))

    found = run_apart(many())
    assert len(resolved) == 1 and all(p is not None and p.username == "investor" for p in found)
