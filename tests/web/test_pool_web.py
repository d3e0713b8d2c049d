"""Pool analytics through the API and the page: charts, cache per plan state, obligor ids masked."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.web.conftest import World, bearer
from tests.web.test_pages import login
from tests.web.test_tapes_web import GOOD, tape

from absflow.access import MASK, Role
from absflow.services import jobs as job_service
from absflow.services import poolview

MORE = ["M5,C9,30000,0.09,2026-01-10,2026-07-10,performing,90000,0,北京"]


def import_tape(client: TestClient, world: World, *rows: str) -> None:
    r = client.post(f"/api/v1/plans/{world.plan_a}/tapes/import", headers=bearer(world, Role.ORIGINATOR),
                    data={"cutoff": "2026-03-31"}, files={"file": ("tape.csv", tape(*rows), "text/csv")})
    assert r.status_code == 202
    job_service.run_pending(world.ctx)


def test_summary_strats_and_masked_obligors(client: TestClient, world: World) -> None:
    poolview.clear_cache()
    manager, investor = bearer(world, Role.PLAN_MANAGER), bearer(world, Role.INVESTOR)
    empty = client.get(f"/api/v1/plans/{world.plan_a}/pool/summary", headers=manager)
    assert empty.status_code == 404 and empty.json()["code"] == "empty_pool"
    import_tape(client, world, *GOOD)
    summary = client.get(f"/api/v1/plans/{world.plan_a}/pool/summary", headers=manager).json()
    assert summary["count"] == 2 and summary["total_balance"] == "150000.50"
    strats = client.get(f"/api/v1/plans/{world.plan_a}/pool/strats?by=region", headers=manager).json()
    assert {r["bucket"] for r in strats[0]["rows"]} == {"广东", "上海"}
    seen = client.get(f"/api/v1/plans/{world.plan_a}/pool/concentration", headers=manager).json()
    assert {o["key"] for o in seen["top_obligors"]} == {"C1", "C2"}
    masked = client.get(f"/api/v1/plans/{world.plan_a}/pool/concentration", headers=investor).json()
    assert {o["key"] for o in masked["top_obligors"]} == {MASK}
    assert "C1" not in client.get(f"/api/v1/plans/{world.plan_a}/pool/concentration", headers=investor).text
    # a new import changes the plan's state: the cache is not served stale
    import_tape(client, world, *MORE)
    assert client.get(f"/api/v1/plans/{world.plan_a}/pool/summary", headers=manager).json()["count"] == 3
    # another plan's pool is not there for this investor
    assert client.get(f"/api/v1/plans/{world.plan_b}/pool/summary", headers=investor).status_code == 404


def test_pool_page_has_charts_and_masks_for_investors(client: TestClient, world: World) -> None:
    poolview.clear_cache()
    import_tape(client, world, *GOOD)
    login(client, "investor")
    page = client.get(f"/plans/{world.plan_a}/pool")
    assert page.status_code == 200
    assert page.text.count("data-chart=") >= 2 and 'id="pool-summary"' in page.text
    assert ">C1<" not in page.text and MASK in page.text
    r = client.get(f"/api/v1/plans/{world.plan_a}/pool/strat.xlsx?by=region")
    assert r.status_code == 200 and r.content[:2] == b"PK"
