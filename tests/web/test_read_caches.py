"""What makes reads cheap must not make them wrong: the principal cache's bound, the stored pool
analytics' invalidation by plan state, one computation at a time."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from tests.conftest import FixedClock
from tests.web.conftest import World, bearer
from tests.web.test_pages import login
from tests.web.test_pool_web import MORE, import_tape
from tests.web.test_tapes_web import GOOD

from absflow.access import MASK, Role
from absflow.services import plans as plan_service
from absflow.services import pool as pool_service
from absflow.services import poolview
from absflow.services import users as user_service
from absflow.services.log import append_event
from absflow.store.analytics import PoolAnalyticsRow
from absflow.store.db import transaction
from absflow.store.log import LogEntryRow
from absflow.store.users import UserRow


class Ticker:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ticker(monkeypatch: pytest.MonkeyPatch) -> Ticker:
    clock = Ticker()
    user_service.PRINCIPALS.clear()
    monkeypatch.setattr(user_service.PRINCIPALS, "clock", clock)
    return clock


def disable_behind_the_back(world: World, username: str) -> None:
    """What another server process or the CLI does: the row changes, this process is not told."""
    with transaction(world.ctx.engine) as session:
        session.execute(update(UserRow).where(UserRow.username == username).values(active=False))


def test_a_user_disabled_elsewhere_loses_access_within_the_bound(client: TestClient, world: World,
                                                                 ticker: Ticker) -> None:
    h = bearer(world, Role.INVESTOR)
    assert client.get(f"/api/v1/plans/{world.plan_a}", headers=h).status_code == 200
    disable_behind_the_back(world, "investor")
    ticker.now += user_service.PRINCIPAL_CACHE_SECONDS / 2
    assert client.get(f"/api/v1/plans/{world.plan_a}", headers=h).status_code == 200  # still within the bound
    ticker.now += user_service.PRINCIPAL_CACHE_SECONDS / 2
    assert client.get(f"/api/v1/plans/{world.plan_a}", headers=h).status_code == 401


def test_a_session_of_a_user_disabled_elsewhere_ends_within_the_bound(client: TestClient, world: World,
                                                                      ticker: Ticker) -> None:
    login(client, "investor")
    assert client.get(f"/plans/{world.plan_a}").status_code == 200
    disable_behind_the_back(world, "investor")
    ticker.now += user_service.PRINCIPAL_CACHE_SECONDS
    assert client.get(f"/plans/{world.plan_a}", follow_redirects=False).headers["location"].startswith("/login")


def test_changes_made_here_take_effect_at_once(client: TestClient, world: World, ticker: Ticker) -> None:
    h = bearer(world, Role.INVESTOR)
    assert client.get(f"/api/v1/plans/{world.plan_a}", headers=h).status_code == 200
    user_service.revoke(world.ctx, "investor", world.plan_a)  # the clock does not move
    assert client.get(f"/api/v1/plans/{world.plan_a}", headers=h).status_code == 404
    login(client, "originator")
    assert client.get(f"/plans/{world.plan_a}").status_code == 200
    user_service.disable_user(world.ctx, "originator")
    assert client.get(f"/plans/{world.plan_a}", follow_redirects=False).status_code == 303


def test_a_cached_session_still_expires(client: TestClient, world: World, ticker: Ticker, clock: FixedClock) -> None:
    login(client, "plan-manager")
    assert client.get("/").status_code == 200
    clock.now += user_service.SESSION_LIFETIME
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")


def stored_parts(world: World) -> dict[str, tuple[int, str]]:
    with transaction(world.ctx.engine) as session:
        rows = session.execute(select(PoolAnalyticsRow.part, PoolAnalyticsRow.state_idx, PoolAnalyticsRow.state_hash)
                               .where(PoolAnalyticsRow.plan_code == world.plan_a)).all()
    return {part: (idx, digest) for part, idx, digest in rows}


def newest_entry(world: World) -> tuple[int, str]:
    with transaction(world.ctx.engine) as session:
        idx, leaf = session.execute(select(LogEntryRow.idx, LogEntryRow.leaf_hash).where(
            LogEntryRow.plan_code == world.plan_a).order_by(LogEntryRow.idx.desc()).limit(1)).one()
    return int(idx), bytes(leaf).hex()


def test_import_stores_analytics_any_process_serves_without_loading_the_pool(
        client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    poolview.clear_cache()
    import_tape(client, world, *GOOD)
    stored = stored_parts(world)
    assert {"summary", "fields", "concentration", "strat:balance", "strat:region"} <= set(stored)
    assert set(stored.values()) == {newest_entry(world)}

    def no_load(*_args: Any) -> Any:
        raise AssertionError("the pool was loaded although its analytics are stored")

    poolview.clear_cache()  # as a fresh worker or a restarted server
    monkeypatch.setitem(pool_service.LOADERS, "pool", no_load)
    manager, investor = bearer(world, Role.PLAN_MANAGER), bearer(world, Role.INVESTOR)
    assert client.get(f"/api/v1/plans/{world.plan_a}/pool/summary", headers=manager).json()["count"] == 2
    masked = client.get(f"/api/v1/plans/{world.plan_a}/pool/concentration", headers=investor).json()
    assert {o["key"] for o in masked["top_obligors"]} == {MASK}
    login(client, "investor")
    page = client.get(f"/plans/{world.plan_a}/pool")
    assert page.status_code == 200 and ">C1<" not in page.text
    # another plan's analytics are refused before anything is read
    assert client.get(f"/api/v1/plans/{world.plan_b}/pool/summary", headers=investor).status_code == 404


def test_a_new_plan_state_replaces_the_stored_analytics(client: TestClient, world: World) -> None:
    poolview.clear_cache()
    import_tape(client, world, *GOOD)
    before = stored_parts(world)
    import_tape(client, world, *MORE)
    after = stored_parts(world)
    assert set(after.values()) == {newest_entry(world)} and after["summary"] != before["summary"]
    poolview.clear_cache()
    manager = bearer(world, Role.PLAN_MANAGER)
    assert client.get(f"/api/v1/plans/{world.plan_a}/pool/summary", headers=manager).json()["count"] == 3


def test_entries_that_cannot_change_a_pool_keep_its_analytics(client: TestClient, world: World,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    poolview.clear_cache()
    import_tape(client, world, *GOOD)
    stored = stored_parts(world)["summary"]
    user_service.grant(world.ctx, "custodian", world.plan_a, ["view"])  # logged for the plan: access.granted
    plan_service.advance_plan(world.ctx, world.plan_a, "filed")  # plan.status_changed
    assert newest_entry(world) != stored
    poolview.clear_cache()

    def no_load(*_args: Any) -> Any:
        raise AssertionError("recomputed for an entry that does not change the pool")

    monkeypatch.setitem(pool_service.LOADERS, "pool", no_load)
    manager = bearer(world, Role.PLAN_MANAGER)
    assert client.get(f"/api/v1/plans/{world.plan_a}/pool/summary", headers=manager).json()["count"] == 2


def test_any_other_entry_of_the_plan_makes_stored_analytics_stale(client: TestClient, world: World) -> None:
    """Kinds not known to leave the pool alone (here one no service writes yet) count as a change."""
    poolview.clear_cache()
    import_tape(client, world, *GOOD)
    stale = stored_parts(world)["summary"]
    with transaction(world.ctx.engine) as session:
        append_event(session, entry_type="pool.adjusted", plan_code=world.plan_a, recorded_at=world.ctx.now(),
                     payload={"note": "made elsewhere"})
    poolview.clear_cache()
    manager = bearer(world, Role.PLAN_MANAGER)
    assert client.get(f"/api/v1/plans/{world.plan_a}/pool/summary", headers=manager).status_code == 200
    assert stored_parts(world)["summary"] == newest_entry(world) != stale


def test_concurrent_cold_reads_compute_once(client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    import_tape(client, world, *GOOD)
    with transaction(world.ctx.engine) as session:
        session.query(PoolAnalyticsRow).delete()
    poolview.clear_cache()
    loads = []
    real = pool_service.LOADERS["pool"]

    def slow_load(ctx: Any, code: str) -> Any:
        loads.append(code)
        time.sleep(0.2)
        return real(ctx, code)

    monkeypatch.setitem(pool_service.LOADERS, "pool", slow_load)
    results: list[bytes] = []
    threads = [threading.Thread(target=lambda: results.append(poolview.summary_json(world.ctx, world.plan_a)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1 and len(set(results)) == 1 and len(results) == 4
