"""Daily operations and bookbuilding pages/API: calendar of runs, one day with masked client ids."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from tests.web.conftest import World, bearer
from tests.web.test_pages import login

from absflow.access import MASK, Role
from absflow.services import users as user_service
from absflow.services.simulate import simulate

DEAL_TEXT = (Path(__file__).resolve().parents[2] / "examples" / "deals" / "09_pyas_swhy_1.yaml").read_text("utf-8")


def test_daily_calendar_and_day_with_masking(client: TestClient, world: World) -> None:
    code = simulate(world.ctx, DEAL_TEXT, days=1, seed=5, loans=120).plan_code
    user_service.grant(world.ctx, "investor", code)
    user_service.grant(world.ctx, "plan-manager", code)
    days = client.get(f"/api/v1/plans/{code}/daily", headers=bearer(world, Role.PLAN_MANAGER)).json()
    assert len(days) == 1 and all(d["pool_balance"] for d in days)
    day = days[-1]["business_date"]
    full = client.get(f"/api/v1/plans/{code}/daily/{day}", headers=bearer(world, Role.PLAN_MANAGER)).json()
    masked = client.get(f"/api/v1/plans/{code}/daily/{day}", headers=bearer(world, Role.INVESTOR)).json()
    assert full["summary"] == masked["summary"]
    lines = full["delivery_list"]["lines"]
    if lines:
        assert all(line["client_id"] != MASK for line in lines)
        assert {line["client_id"] for line in masked["delivery_list"]["lines"]} == {MASK}
    assert client.get(f"/api/v1/plans/{code}/daily", headers=bearer(world, Role.ORIGINATOR)).status_code == 404
    login(client, "investor")
    page = client.get(f"/plans/{code}/daily")
    assert page.status_code == 200 and 'class="calendar"' in page.text and "data-chart=" in page.text
    day_page = client.get(f"/plans/{code}/daily/{day}")
    assert day_page.status_code == 200 and 'id="day-summary"' in day_page.text
    book = client.get(f"/plans/{code}/book")
    assert book.status_code == 200
    assert client.get(f"/api/v1/plans/{code}/book/issuance", headers=bearer(world, Role.INVESTOR)).status_code == 200
