"""Pages that change things: daily files and runs (as a job, then the day's results), and a
bookbuilding offering from investors to notices; forms carry the CSRF token and show every problem."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from tests.services.test_bookbuilding_service import code as credit_code
from tests.web.conftest import World
from tests.web.test_api_operations import DEAL_TEXT
from tests.web.test_pages import csrf_of, login

from absflow.services import jobs as job_service
from absflow.services import users as user_service
from absflow.services.simulate import simulate


def test_daily_page_loads_files_and_runs_days_as_a_job(client: TestClient, world: World) -> None:
    code = simulate(world.ctx, DEAL_TEXT, days=3, seed=4, loans=300).plan_code
    user_service.grant(world.ctx, "plan-manager", code)
    user_service.grant(world.ctx, "investor", code)
    login(client, "investor")
    assert 'id="daily-load-form"' not in client.get(f"/plans/{code}/daily").text
    client.cookies.clear()
    login(client, "plan-manager")
    page = client.get(f"/plans/{code}/daily")
    assert 'id="daily-load-form"' in page.text and 'id="daily-run-form"' in page.text
    csrf = csrf_of(page.text)
    bad = client.post(f"/plans/{code}/daily/files", data={"business_date": "2017-08-30", "csrf_token": csrf},
                      files=[("files", ("collections_x.csv", b"contract_id,principal,interest,fees\nNOPE2,-1,0,0\n"))])
    assert bad.status_code == 422 and 'id="form-errors"' in bad.text and "negative" in bad.text
    no_csrf = client.post(f"/plans/{code}/daily/files", data={"business_date": "2017-08-30"},
                          files=[("files", ("indicators_d.csv", b"name,value\noriginator_rating,AA+\n"))])
    assert no_csrf.status_code == 400 and 'id="daily-loaded"' not in no_csrf.text
    good = client.post(f"/plans/{code}/daily/files", data={"business_date": "2017-08-30", "csrf_token": csrf},
                       files=[("files", ("indicators_d.csv", b"name,value\noriginator_rating,AA+\n"))])
    assert good.status_code == 201 and 'id="daily-loaded"' in good.text and "indicators_d.csv" in good.text
    ran = client.post(f"/plans/{code}/daily/run", data={"business_date": "2017-08-30", "mode": "through",
                                                         "csrf_token": csrf}, follow_redirects=False)
    assert ran.status_code == 303
    job_url = ran.headers["location"]
    assert 'id="job-progress"' in client.get(job_url).text  # queued: the page polls
    job_service.run_pending(world.ctx)
    done = client.get(job_url)
    assert 'id="daily-run-result"' in done.text and f"/plans/{code}/daily/2017-08-30" in done.text
    day = client.get(f"/plans/{code}/daily/2017-08-30")
    assert day.status_code == 200 and 'id="day-summary"' in day.text
    assert 'id="daily-jobs"' in client.get(f"/plans/{code}/daily").text


def test_book_page_runs_an_offering_and_an_investor_sees_its_own(client: TestClient, world: World, clock) -> None:
    code = world.plan_a
    login(client, "plan-manager")
    page = client.get(f"/plans/{code}/book")
    csrf = csrf_of(page.text)
    assert 'id="offering-form"' in page.text and 'id="investor-form"' in page.text
    for n, name in enumerate(("甲基金", "乙银行")):
        added = client.post(f"/plans/{code}/book/investors", follow_redirects=False,
                            data={"name": name, "investor_type": "fund", "credit_code": credit_code(n),
                                  "csrf_token": csrf})
        assert added.status_code == 303, added.text
    bad = client.post(f"/plans/{code}/book/offerings", data={"tranche_id": "A", "size": "abc", "csrf_token": csrf})
    assert bad.status_code == 422 and "size" in bad.text and "payee_bank" in bad.text  # every problem at once
    local = clock.now + timedelta(hours=8)  # forms speak Beijing time
    opened = client.post(f"/plans/{code}/book/offerings", follow_redirects=False, data={
        "tranche_id": "A", "security_name": "融出1优A", "size": "10000", "lot": "100", "rate_min": "2.0",
        "rate_max": "3.5", "bid_open": (local - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "bid_close": (local + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "payment_deadline": (local + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"), "payee_name": "专户",
        "payee_bank": "示例银行", "payee_account": "31001234567890", "csrf_token": csrf})
    assert opened.status_code == 303, opened.text
    for investor, rate, amount in (("甲基金", "2.60", "6000"), ("乙银行", "2.80", "8000"), ("乙银行", "3.00", "500")):
        placed = client.post(f"/plans/{code}/book/A/bids", follow_redirects=False,
                             data={"investor": investor, "rate": rate, "amount": amount, "csrf_token": csrf})
        assert placed.status_code == 303, placed.text
    page = client.get(f"/plans/{code}/book")
    bid_ids = re.findall(r"/book/A/bids/(\d+)/withdraw", page.text)
    assert len(bid_ids) == 3
    assert client.post(f"/plans/{code}/book/A/bids/{bid_ids[-1]}/withdraw", data={"csrf_token": csrf},
                       follow_redirects=False).status_code == 303
    page = client.get(f"/plans/{code}/book")
    assert re.search(r'class="marginal-rate">2\.8000%', page.text)
    early = client.post(f"/plans/{code}/book/A/finalize", data={"csrf_token": csrf})
    assert early.status_code == 409 and 'id="form-errors"' in early.text
    clock.now += timedelta(hours=2)
    assert client.post(f"/plans/{code}/book/A/finalize", data={"csrf_token": csrf},
                       follow_redirects=False).status_code == 303
    page = client.get(f"/plans/{code}/book")
    assert 'class="grid allocation"' in page.text and "notices.zip" in page.text
    assert page.text.count(f"{code}-A-00") == 2  # two notices
    zipped = client.get(re.search(r'href="(/api/v1/[^"]+notices\.zip)"', page.text).group(1))
    assert zipped.status_code == 200 and zipped.content.startswith(b"PK")

    user_service.link_investor(world.ctx, "investor", "乙银行")
    client.cookies.clear()
    login(client, "investor")
    seen = client.get(f"/plans/{code}/book")
    assert 'id="own-only"' in seen.text and "乙银行" in seen.text and "甲基金" not in seen.text
    assert 'id="offering-form"' not in seen.text and "/finalize" not in seen.text
    assert seen.text.count(f"{code}-A-00") == 1
    assert 'class="bid-form"' not in seen.text  # the book is closed
    denied = client.post(f"/plans/{code}/book/A/bids", data={"investor": "甲基金", "rate": "2.5", "amount": "100",
                                                             "csrf_token": csrf_of(seen.text)})
    assert denied.status_code == 403  # another investor's bid, whatever the state of the book
    late = client.post(f"/plans/{code}/book/A/bids", data={"investor": "乙银行", "rate": "2.5", "amount": "100",
                                                           "csrf_token": csrf_of(seen.text)})
    assert late.status_code == 409 and 'id="form-errors"' in late.text


def test_a_linked_investor_bids_for_itself_on_the_book_page(client: TestClient, world: World, clock) -> None:
    from tests.services.test_bookbuilding_service import setup_book

    code = setup_book(world.ctx, clock)
    user_service.grant(world.ctx, "investor", code)
    login(client, "investor")
    page = client.get(f"/plans/{code}/book")
    assert 'class="bid-form"' not in page.text  # not linked to an investor: nothing to bid for
    user_service.link_investor(world.ctx, "investor", "C")
    page = client.get(f"/plans/{code}/book")
    assert 'class="bidding-for"' in page.text and '<select name="investor"' not in page.text
    csrf = csrf_of(page.text)
    placed = client.post(f"/plans/{code}/book/A/bids", follow_redirects=False,
                         data={"investor": "C", "rate": "2.70", "amount": "300", "csrf_token": csrf})
    assert placed.status_code == 303, placed.text
    page = client.get(f"/plans/{code}/book")
    bid_ids = re.findall(r"/book/A/bids/(\d+)/withdraw", page.text)
    assert len(bid_ids) == 1 and "2.7000%" in page.text
    assert client.post(f"/plans/{code}/book/A/bids/{bid_ids[0]}/withdraw", data={"csrf_token": csrf},
                       follow_redirects=False).status_code == 303
    assert re.findall(r"/book/A/bids/(\d+)/withdraw", client.get(f"/plans/{code}/book").text) == []
