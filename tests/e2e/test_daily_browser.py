"""In a real browser: load a day's servicer file, run through that day as a job with its progress,
then open the day (purchases, repurchases, triggers, cash accounts)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.e2e.conftest import Site, shot, sign_in

from absflow.services import users as user_service
from absflow.services.simulate import simulate

pytestmark = pytest.mark.e2e

DEAL = Path(__file__).resolve().parents[2] / "examples" / "deals" / "09_pyas_swhy_1.yaml"


def test_daily_files_and_run_in_the_browser(page, site: Site) -> None:  # type: ignore[no-untyped-def]
    code = simulate(site.ctx, DEAL.read_text("utf-8"), days=3, seed=4, loans=300).plan_code
    user_service.grant(site.ctx, "originator", code)
    sign_in(page, site, "originator")
    page.goto(f"{site.url}/plans/{code}/daily")
    page.fill("#daily-load-form input[name=business_date]", "2017-08-30")
    page.set_input_files("#daily-load-form input[name=files]", files=[
        {"name": "indicators_0830.csv", "mimeType": "text/csv", "buffer": b"name,value\noriginator_rating,AA+\n"}])
    page.click("#daily-load-submit")
    page.wait_for_selector("#daily-loaded")
    assert "indicators_0830.csv" in page.locator("#daily-loaded").inner_text()
    shot(page, "daily-loaded")
    page.fill("#daily-run-form input[name=business_date]", "2017-08-30")
    page.check("#daily-run-form input[value=through]")
    page.click("#daily-run-submit")
    page.wait_for_selector("#daily-run-result", timeout=60000)  # the job page polls until the runs are there
    first = page.locator("#daily-run-result tbody tr").first
    assert first.locator("td").first.inner_text() == "2017-08-30"
    shot(page, "daily-run-done")
    first.locator("a").click()
    page.wait_for_selector("#day-summary")
    assert "2017-08-30" in page.locator("h2").first.inner_text()
    shot(page, "daily-day")
    assert page.console_errors == []
