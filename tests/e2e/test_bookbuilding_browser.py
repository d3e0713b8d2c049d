"""In a real browser: a plan manager registers investors, opens a book, enters bids, sees the book
summary with its marginal rate and chart, finalizes after the close and downloads the notices."""

from __future__ import annotations

import time
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from tests.e2e.conftest import Site, shot, sign_in
from tests.services.test_bookbuilding_service import code as credit_code

pytestmark = pytest.mark.e2e

BEIJING = timedelta(hours=8)


def _local(moment: datetime) -> str:
    return (moment + BEIJING).strftime("%Y-%m-%dT%H:%M:%S")  # the form speaks Beijing time


def test_bookbuilding_offering_in_the_browser(page, site: Site) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, site, "plan-manager")
    page.goto(f"{site.url}/plans/{site.plan_a}/book")
    for n, name in enumerate(("浏览器基金", "浏览器银行")):
        page.fill("#investor-form input[name=name]", name)
        page.select_option("#investor-form select[name=investor_type]", "fund")
        page.fill("#investor-form input[name=credit_code]", credit_code(40 + n))
        page.click("#investor-form button")
        page.wait_for_selector("#offering-form")
    now = datetime.now(UTC)
    close = now + timedelta(seconds=25)
    form = {"tranche_id": "A", "security_name": "融出1优A", "size": "10000", "lot": "100", "rate_min": "2.0",
            "rate_max": "3.5", "bid_open": _local(now - timedelta(hours=1)), "bid_close": _local(close),
            "payment_deadline": _local(now + timedelta(days=2)), "payee_name": "专项计划募集专户",
            "payee_bank": "示例银行上海分行", "payee_account": "31001234567890"}
    for name, value in form.items():
        page.fill(f"#offering-form input[name={name}]", value)
    page.click("#offering-form button")
    page.wait_for_selector("#offering-A")
    for investor, rate, amount in (("浏览器基金", "2.60", "6000"), ("浏览器银行", "2.80", "8000")):
        page.select_option("#offering-A .bid-form select[name=investor]", investor)
        page.fill("#offering-A .bid-form input[name=rate]", rate)
        page.fill("#offering-A .bid-form input[name=amount]", amount)
        page.click("#offering-A .bid-form button")
        page.wait_for_selector("#offering-A")
    assert page.locator("#offering-A table.bids tbody tr").count() == 2
    assert page.locator("#offering-A .marginal-rate").inner_text().startswith("2.8000%")
    page.wait_for_selector("#offering-A .chart[data-rendered='1'] canvas", timeout=10000)
    shot(page, "book-open")

    time.sleep(max(0.0, (close - datetime.now(UTC)).total_seconds()) + 1)
    page.click("#offering-A .finalize-form button")
    page.wait_for_selector("#offering-A table.allocation")
    rows = page.locator("#offering-A table.allocation tbody tr")
    assert rows.count() == 2 and "浏览器银行" in rows.all_inner_texts()[1]
    assert page.locator("#offering-A table.notices tbody tr").count() == 2
    with page.expect_download() as download:
        page.click("#offering-A a.notices-download")
    with zipfile.ZipFile(download.value.path()) as archive:
        names = archive.namelist()
    assert sum(n.endswith(".pdf") for n in names) == 2
    assert page.locator("#issuance tbody").inner_text().count("2.8000%") == 1
    shot(page, "book-allocated")
    assert page.console_errors == []
