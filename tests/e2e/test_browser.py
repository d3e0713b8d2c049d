"""In a real browser: sign in, open a plan, see a chart render, and the investor's view of another plan."""

from __future__ import annotations

import pytest
from tests.e2e.conftest import Site, shot, sign_in

pytestmark = pytest.mark.e2e


def test_sign_in_open_plan_and_chart_renders(page, site: Site) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, site, "plan-manager")
    assert page.locator("#whoami").inner_text() == "plan-manager"
    page.click(f"text={site.plan_a}")
    page.wait_for_selector("#plan-title")
    assert site.plan_a in page.locator("#plan-title").inner_text()
    assert page.locator("#plan-status").inner_text() == "立项"
    page.wait_for_selector("#chart-status[data-rendered='1'] canvas", timeout=10000)
    box = page.locator("#chart-status canvas").first.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 200
    shot(page, "plan-detail")
    assert page.console_errors == []  # no CSP violations or script errors


def test_advance_plan_through_the_form(page, site: Site) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, site, "admin")
    page.goto(f"{site.url}/plans/{site.plan_b}")
    page.select_option("select[name=to_status]", "filed")
    page.click("form[action$='/advance'] button")
    page.wait_for_selector("#plan-status")
    assert page.locator("#plan-status").inner_text() == "申报"


def test_investor_cannot_open_another_plan(page, site: Site) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, site, "investor")
    assert page.locator("#plan-list").inner_text().count("ABS-") == 1
    response = page.goto(f"{site.url}/plans/{site.plan_b}")
    assert response is not None and response.status == 404
    assert "另一计划" not in page.content()
    assert page.locator("#error-title").inner_text().startswith("404")
    shot(page, "investor-other-plan-404")


def test_english_switch(page, site: Site) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, site, "regulator")
    page.click("a.lang")
    page.wait_for_selector("text=Sign out")
    assert "Plans" in page.locator("h1").inner_text()


def test_log_explorer_checks_a_proof_in_the_page(page, site: Site) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, site, "investor")
    page.goto(f"{site.url}/plans/{site.plan_a}/log")
    first = page.locator("#entries a").first
    first.click()
    page.wait_for_selector("#proof-result[data-verified]", timeout=10000)
    assert page.locator("#proof-result").get_attribute("data-verified") == "yes"
    shot(page, "log-proof-checked")
    assert page.console_errors == []


def test_upload_a_tape_with_an_error_and_see_the_row(page, site: Site) -> None:  # type: ignore[no-untyped-def]
    header = ("contract_id,client_id,principal_outstanding,financing_rate,start_date,due_date,status,"
              "securities_market_value,cash_balance,region")
    rows = ["M1,C1,100000.50,0.0835,2026-01-05,2026-07-05,performing,250000,1000,广东",
            "M2,C2,abc,0.08,2026-02-05,2026-08-05,performing,170000,0,上海"]
    sign_in(page, site, "originator")
    page.goto(f"{site.url}/plans/{site.plan_a}/tape")
    page.set_input_files("input[name=file]", files=[{"name": "tape.csv", "mimeType": "text/csv",
                                                      "buffer": ("\n".join([header, *rows]) + "\n").encode()}])
    page.click("#tape-submit")
    page.wait_for_selector("#issues", timeout=20000)  # the job page polls until the report is there
    first = page.locator("#issues tbody tr").first.locator("td")
    assert first.nth(0).inner_text() == "3" and first.nth(2).inner_text() == "abc"
    assert page.locator("#job-status").get_attribute("data-status") == "done"
    shot(page, "tape-report")
    assert page.console_errors == []
