"""The write side over HTTP: daily load and runs as jobs, the servicer report, bookbuilding from
investors to notices, cash-flow analytics, the log's bundles checked by /verify — each with its
404 for another plan and 403 without the grant, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.services.test_bookbuilding_service import code as credit_code
from tests.web.conftest import World, bearer

from absflow.access import Role
from absflow.domain.issues import PermissionDenied
from absflow.services import bookbuilding as book
from absflow.services import jobs as job_service
from absflow.services import users as user_service
from absflow.services.access import as_principal
from absflow.services.simulate import simulate

DEALS = Path(__file__).resolve().parents[2] / "examples" / "deals"
DEAL_TEXT = (DEALS / "09_pyas_swhy_1.yaml").read_text("utf-8")


def run_job(client: TestClient, world: World, job: dict[str, Any], role: Role) -> dict[str, Any]:
    job_service.run_pending(world.ctx)
    done: dict[str, Any] = client.get(f"/api/v1/jobs/{job['id']}", headers=bearer(world, role)).json()
    return done


# ---------------------------------------------------------------- daily


def test_daily_load_run_report_over_http(client: TestClient, world: World) -> None:
    sim = simulate(world.ctx, DEAL_TEXT, days=3, seed=4, loans=300)
    code = sim.plan_code
    for name in ("plan-manager", "investor"):
        user_service.grant(world.ctx, name, code)
    pm, inv = bearer(world, Role.PLAN_MANAGER), bearer(world, Role.INVESTOR)
    day = "2017-08-30"
    files_url = f"/api/v1/plans/{code}/daily/{day}/files"
    # every problem at once, with the file and row; nothing stored
    bad = client.post(files_url, headers=pm, files=[
        ("files", ("collections_bad.csv", b"contract_id,principal,interest,fees\nNOPE,1.00,0,0\nNOPE2,-1,0,0\n")),
        ("files", ("notes.exe", b"MZ\x90\x00"))])
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert {e["code"] for e in bad.json()["errors"]} == {"unsupported_type"}
    bad = client.post(files_url, headers=pm, files=[
        ("files", ("collections_bad.csv", b"contract_id,principal,interest,fees\nNOPE,1.00,0,0\nNOPE2,-1,0,0\n"))])
    assert bad.status_code == 422 and "negative" in bad.text
    good = [("files", ("indicators_day.csv", b"name,value\noriginator_rating,AA+\n"))]
    assert client.post(files_url, headers=inv, files=good).status_code == 403  # investors view, never edit
    assert client.post(files_url, headers=bearer(world, Role.ORIGINATOR), files=good).status_code == 404
    loaded = client.post(files_url, headers=pm, files=good)
    assert loaded.status_code == 201, loaded.text
    assert [f["kind"] for f in loaded.json()["files"]] == ["indicators"]

    runs_url = f"/api/v1/plans/{code}/daily/runs"
    assert client.post(runs_url, headers=inv, json={"through": day}).status_code == 403
    assert client.post(runs_url, headers=pm, json={}).status_code == 422
    job = client.post(runs_url, headers=pm, json={"through": day})
    assert job.status_code == 202 and job.json()["status"] == "queued"
    done = run_job(client, world, job.json(), Role.PLAN_MANAGER)
    assert done["status"] == "done" and done["progress"] == 100, done
    assert [r["business_date"] for r in done["result"]["runs"]] == [day]
    again = run_job(client, world, client.post(runs_url, headers=pm, json={"business_date": day}).json(),
                    Role.PLAN_MANAGER)
    assert again["result"]["runs"][0]["already_done"] is True
    shown = client.get(f"/api/v1/plans/{code}/daily/{day}", headers=inv).json()
    assert shown["summary"]["purchase_state"] == done["result"]["runs"][0]["purchase_state"]

    report_url = f"/api/v1/plans/{code}/reports/servicer?from={sim.as_dict()['first_day']}&to={day}"
    xlsx = client.get(report_url, headers=inv)
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    assert "attachment" in xlsx.headers["content-disposition"]
    assert client.get(report_url + "&format=pdf", headers=pm).content.startswith(b"%PDF")
    assert client.get(report_url + "&format=doc", headers=pm).status_code == 422
    assert client.get(report_url, headers=bearer(world, Role.INTERNAL_CONTROL)).status_code == 404


# ---------------------------------------------------------------- bookbuilding


def offering_body(now: datetime) -> dict[str, Any]:
    return {"tranche_id": "A", "security_name": "融出1优A", "size_yuan": "100000000", "lot_yuan": "1000000",
            "rate_min": "0.02", "rate_max": "0.035", "bid_open": (now - timedelta(hours=1)).isoformat(),
            "bid_close": (now + timedelta(hours=5)).isoformat(),
            "payment_deadline": (now + timedelta(days=2)).isoformat(), "payee_name": "示例资产管理有限公司",
            "payee_bank": "示例银行上海分行", "payee_account": "31001234567890"}


def test_bookbuilding_over_http_and_an_investor_sees_only_its_own(client: TestClient, world: World, clock) -> None:
    admin, pm, inv = (bearer(world, r) for r in (Role.ADMIN, Role.PLAN_MANAGER, Role.INVESTOR))
    a, b = world.plan_a, world.plan_b
    for n, name in enumerate(("甲基金", "乙银行")):
        added = client.post("/api/v1/investors", headers=admin, json={
            "name": name, "investor_type": "fund", "credit_code": credit_code(n),
            "contacts": [{"name": "张三", "phone": "021-12345678"}]})
        assert added.status_code == 201, added.text
    assert client.post("/api/v1/investors", headers=inv, json={
        "name": "丙", "investor_type": "fund", "credit_code": credit_code(7)}).status_code == 403
    created = client.post(f"/api/v1/plans/{a}/offerings", headers=pm, json=offering_body(clock.now))
    assert created.status_code == 201, created.text
    assert client.post(f"/api/v1/plans/{b}/offerings", headers=pm, json=offering_body(clock.now)).status_code == 404
    bids_url = f"/api/v1/plans/{a}/offerings/A/bids"
    placed = client.post(bids_url, headers=pm, json=[
        {"investor": "甲基金", "rate": "0.026", "amount_yuan": "50000000"},
        {"investor": "乙银行", "rate": "0.028", "amount_yuan": "80000000"}])
    assert placed.status_code == 201, placed.text
    csv = "investor,rate,amount\n乙银行,2.90,2000\n"
    bad_csv = client.post(bids_url + ".csv", headers={**pm, "Content-Type": "text/csv"},
                          content="investor,rate,amount\n乙银行,abc,2000\n".encode())
    assert bad_csv.status_code == 422 and bad_csv.json()["errors"][0]["row"] == 2
    imported = client.post(bids_url + ".csv", headers={**pm, "Content-Type": "text/csv"}, content=csv.encode())
    assert imported.status_code == 201, imported.text
    bid_id = imported.json()[0]["id"]
    assert client.patch(f"{bids_url}/{bid_id}", headers=pm, json={"amount_yuan": "30000000"}).status_code == 200
    assert client.delete(f"{bids_url}/{bid_id + 1}", headers=pm).status_code == 200
    assert client.post(bids_url, headers=bearer(world, Role.CUSTODIAN), json=[
        {"investor": "甲基金", "rate": "0.026", "amount_yuan": "1000000"}]).status_code == 403
    assert client.get(f"/api/v1/plans/{b}/offerings/A/bids", headers=pm).status_code == 404

    # an investor user linked to 甲基金 sees 甲基金's bids only; unlinked, none
    assert client.put("/api/v1/users/investor/investor", headers=pm, json={"investor": "甲基金"}).status_code == 403
    assert client.put("/api/v1/users/plan-manager/investor", headers=admin,
                      json={"investor": "甲基金"}).status_code == 422
    linked = client.put("/api/v1/users/investor/investor", headers=admin, json={"investor": "甲基金"})
    assert linked.status_code == 200 and linked.json()["investor_id"] is not None
    assert {x["investor"] for x in client.get(bids_url, headers=pm).json()} == {"甲基金", "乙银行"}
    assert {x["investor"] for x in client.get(bids_url, headers=inv).json()} == {"甲基金"}
    assert {x["investor"] for x in client.get(bids_url + "?history=true", headers=inv).json()} == {"甲基金"}
    assert [i["name"] for i in client.get("/api/v1/investors", headers=inv).json()] == ["甲基金"]
    assert client.get(f"/api/v1/plans/{a}/offerings/A/summary", headers=inv).status_code == 403
    preview = client.get(f"/api/v1/plans/{a}/offerings/A/summary", headers=pm).json()
    assert preview["marginal_rate"] is not None and preview["levels"]
    assert client.get(f"/api/v1/plans/{a}/offerings/A/forecast", headers=inv).status_code == 200

    alloc_url = f"/api/v1/plans/{a}/offerings/A/allocation"
    assert client.post(alloc_url, headers=bearer(world, Role.ORIGINATOR)).status_code == 403  # approve needed
    assert client.post(alloc_url, headers=pm).status_code == 409  # not before the close
    clock.now += timedelta(hours=6)
    final = client.post(alloc_url, headers=pm)
    assert final.status_code == 200, final.text
    assert {x["investor"] for x in final.json()["allocations"]} == {"甲基金", "乙银行"}
    own = client.get(alloc_url, headers=inv).json()
    assert [x["investor"] for x in own["allocations"]] == ["甲基金"]
    assert own["allocated_total"] == final.json()["allocated_total"]  # the totals stay the book's
    assert [n["investor"] for n in client.get(f"/api/v1/plans/{a}/offerings/A/notices", headers=inv).json()] \
        == ["甲基金"]
    zipped = client.get(f"/api/v1/plans/{a}/offerings/A/notices.zip?format=pdf", headers=inv)
    assert zipped.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(zipped.content)).namelist()
    assert len(names) == 1 and "甲基金" in names[0] and names[0].endswith(".pdf")
    all_names = zipfile.ZipFile(io.BytesIO(client.get(f"/api/v1/plans/{a}/offerings/A/notices.zip",
                                                      headers=pm).content)).namelist()
    assert len(all_names) == 5  # two PDFs, two XLSX, the register
    assert client.get(f"/api/v1/plans/{a}/offerings/A/notices.zip",
                      headers=bearer(world, Role.INTERNAL_CONTROL)).status_code == 403  # no download
    pay_url = f"/api/v1/plans/{a}/offerings/A/payments"
    paid = client.post(pay_url, headers=pm, json={"investor": "乙银行", "amount_yuan": "1000", "reference": "R1"})
    assert paid.status_code == 201 and paid.json()["state"] == "partly_paid"
    assert client.post(f"{pay_url}/R1/reconciliation", headers=pm).json()["reconciled_yuan"] == "1000.00"
    assert [p["investor"] for p in client.get(pay_url, headers=inv).json()] == ["甲基金"]
    assert {h["investor"] for h in client.get(f"/api/v1/plans/{a}/holders", headers=inv).json()} == {"甲基金"}
    page = client.get(f"/api/v1/plans/{a}/book/A", headers=inv).json()
    assert {x["investor"] for x in page["bids"]} == {"甲基金"} and len(page["notices"]) == 1
    assert client.put("/api/v1/users/investor/investor", headers=admin, json={"investor": None}).status_code == 200
    assert client.get(bids_url, headers=inv).json() == []


def test_the_service_filters_for_a_linked_investor(ctx, clock) -> None:  # type: ignore[no-untyped-def]
    from tests.services.test_bookbuilding_service import WORKED, pct, setup_book

    plan_code = setup_book(ctx, clock)
    for investor, rate, amount in WORKED:
        book.submit_bid(ctx, plan_code, "A", investor=investor, rate=pct(rate), amount_yuan=amount * 10000)
    user_service.create_user(ctx, username="inv", password="correct horse 1", role=Role.INVESTOR)
    user_service.grant(ctx, "inv", plan_code)
    user_service.link_investor(ctx, "inv", "C")
    principal = user_service.authenticate(ctx, "inv", "correct horse 1")
    acting = as_principal(ctx, principal)
    assert {b.investor for b in book.active_bids(acting, plan_code, "A")} == {"C"}
    assert len(book.active_bids(ctx, plan_code, "A")) == len(WORKED)
    with pytest.raises(PermissionDenied):
        book.preview_allocation(acting, plan_code, "A")
    assert book.book_summary(acting, plan_code, "A") == book.book_summary(ctx, plan_code, "A")  # the aggregate
    clock.now = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
    book.run_allocation(ctx, plan_code, "A")
    assert [a[0] for a in book.allocation_record(acting, plan_code, "A").allocations] == ["C"]
    assert [n.investor for n in book.payment_notices(acting, plan_code, "A")] == ["C"]
    user_service.link_investor(ctx, "inv", None)
    unlinked = as_principal(ctx, user_service.authenticate(ctx, "inv", "correct horse 1"))
    assert book.active_bids(unlinked, plan_code, "A") == [] and book.payment_notices(unlinked, plan_code, "A") == []


# ---------------------------------------------------------------- analytics, log, verify


def test_cashflow_deal_and_log_endpoints(client: TestClient, world: World) -> None:
    pm, inv, admin = (bearer(world, r) for r in (Role.PLAN_MANAGER, Role.INVESTOR, Role.ADMIN))
    deal = (DEALS / "01_gtja_htzg_1.yaml").read_text("utf-8")
    ok = client.post("/api/v1/deals/validate", headers={**inv, "Content-Type": "text/plain"},
                     content=deal.encode())
    assert ok.status_code == 200 and ok.json()["valid"] is True
    broken = client.post("/api/v1/deals/validate", headers={**inv, "Content-Type": "text/plain"},
                         content=b"name: x\ntranches: 3\n")
    assert broken.status_code == 422 and broken.json()["errors"]
    assert "properties" in client.get("/api/v1/deals/schema", headers=inv).json()
    priced = client.post("/api/v1/cashflow/price", headers=inv, json={"deal": deal})
    assert priced.status_code == 200, priced.text
    assert priced.json()["tranches"] and all("wal_years" in t for t in priced.json()["tranches"])
    tranche = priced.json()["tranches"][0]["tranche"]
    found = client.post("/api/v1/cashflow/breakeven", headers=inv, json={"deal": deal, "tranche": tranche})
    assert found.status_code == 200 and found.json()["tranche"] == tranche
    assert client.post("/api/v1/cashflow/price", headers=inv, json={"plan": world.plan_b}).status_code == 404
    assert client.post("/api/v1/cashflow/price", headers=inv, json={}).status_code == 422
    line = client.post("/api/v1/cashflow/repline", headers=inv,
                       json={"balance": 100000, "rate": 0.06, "term": 12, "cpr": 0.1})
    assert line.status_code == 200 and len(line.json()["periods"]) == 12
    grid = client.post("/api/v1/cashflow/grids", headers=inv, json={"cpr": "0,0.1", "balance": 100000, "term": 12})
    assert grid.status_code == 202
    done = run_job(client, world, grid.json(), Role.INVESTOR)
    assert done["status"] == "done" and len(done["result"]["scenarios"]) == 2
    assert client.get(f"/api/v1/jobs/{grid.json()['id']}", headers=pm).status_code == 404  # not pm's job
    assert client.post("/api/v1/cashflow/grids", headers=inv, json={"plan": world.plan_b}).status_code == 404
    assert client.post("/api/v1/simulations", headers=inv, json={"deal": deal}).status_code == 403

    assert client.get("/api/v1/log/audit", headers=pm).status_code == 403
    audit = client.get("/api/v1/log/audit", headers=admin).json()
    assert audit["ok"] is True and audit["entries_checked"] == audit["size"] > 0
    assert client.post("/api/v1/log/checkpoints", headers=pm).status_code == 201
    bundle = client.get("/api/v1/log/checkpoint-bundle", headers=inv).json()
    from absflow.services.tlog import log_signer

    vkey = log_signer(world.ctx).verifier().encode()
    verified = client.post("/api/v1/verify", headers=inv, json={"bundle": bundle, "keys": [vkey]}).json()
    assert verified["ok"] is True and verified["proven"]
    lines = bundle["checkpoints"][0].split("\n")
    lines[1] = str(int(lines[1]) + 1)  # claim a bigger log than was signed
    bundle["checkpoints"] = ["\n".join(lines)]
    assert client.post("/api/v1/verify", headers=inv, json={"bundle": bundle, "keys": [vkey]}).json()["ok"] is False
    assert client.post("/api/v1/verify", json={"bundle": {}, "keys": []}).status_code == 401


def test_who_initiates_a_plan_or_a_simulation_may_work_on_it(client: TestClient, world: World) -> None:
    pm, other = bearer(world, Role.PLAN_MANAGER), bearer(world, Role.ORIGINATOR)
    created = client.post("/api/v1/plans", headers=pm, json={"name": "新计划", "asset_type": "margin_loan"})
    assert created.status_code == 201
    code = created.json()["code"]
    assert client.get(f"/api/v1/plans/{code}", headers=pm).status_code == 200
    assert client.get(f"/api/v1/plans/{code}", headers=other).status_code == 404  # nobody else got a grant
    job = client.post("/api/v1/simulations", headers=pm, json={"deal": DEAL_TEXT, "days": 2, "seed": 3,
                                                               "loans": 120})
    assert job.status_code == 202, job.text
    assert client.post("/api/v1/simulations", headers=pm, json={"deal": "name: [", "days": 2}).status_code == 422
    assert client.post("/api/v1/simulations", headers=pm, json={"deal": DEAL_TEXT, "days": 0}).status_code == 422
    done = run_job(client, world, job.json(), Role.PLAN_MANAGER)
    assert done["status"] == "done" and done["result"]["days_run"] == 2, done
    simulated = done["result"]["plan_code"]
    assert len(client.get(f"/api/v1/plans/{simulated}/daily", headers=pm).json()) == 2
    assert client.get(f"/api/v1/plans/{simulated}/daily", headers=other).status_code == 404


# role → expected status for (view offerings, edit: queue a daily run, approve: finalize before the
# close, download: an entry's proof bundle) on plan A (granted to every role but regulator and admin,
# who reach every plan), and for the same on plan B (granted to nobody).
OPS_MATRIX = {
    Role.PLAN_MANAGER: (200, 202, 409, 200),
    Role.ORIGINATOR: (200, 202, 403, 200),
    Role.CUSTODIAN: (200, 403, 409, 200),
    Role.INVESTOR: (200, 403, 403, 200),
    Role.RATING_AGENCY: (200, 403, 403, 200),
    Role.REGULATOR: (200, 403, 403, 200),
    Role.INTERNAL_CONTROL: (200, 403, 409, 403),
    Role.ADMIN: (200, 202, 409, 200),
}


@pytest.mark.parametrize("role", list(Role))
def test_role_by_operation_matrix(client: TestClient, world: World, clock, role: Role) -> None:
    for code in (world.plan_a, world.plan_b):
        body = offering_body(clock.now)
        assert client.post(f"/api/v1/plans/{code}/offerings", headers=bearer(world, Role.ADMIN),
                           json=body).status_code == 201
    entries = client.get(f"/api/v1/plans/{world.plan_a}/log", headers=bearer(world, Role.ADMIN)).json()["entries"]
    index = entries[0]["index"]
    h = bearer(world, role)

    def statuses(code: str, entry: int) -> tuple[int, int, int, int]:
        return (client.get(f"/api/v1/plans/{code}/offerings", headers=h).status_code,
                client.post(f"/api/v1/plans/{code}/daily/runs", headers=h,
                            json={"business_date": "2026-03-02"}).status_code,
                client.post(f"/api/v1/plans/{code}/offerings/A/allocation", headers=h).status_code,
                client.get(f"/api/v1/plans/{code}/log/{entry}/proof", headers=h).status_code)

    assert statuses(world.plan_a, index) == OPS_MATRIX[role]
    other = client.get(f"/api/v1/plans/{world.plan_b}/log", headers=bearer(world, Role.ADMIN)).json()["entries"]
    on_b = statuses(world.plan_b, other[0]["index"])
    if role in (Role.REGULATOR, Role.ADMIN):
        assert on_b == OPS_MATRIX[role]
    else:
        assert on_b == (404, 404, 404, 404)


def test_a_deal_sent_over_http_may_not_read_server_files(client: TestClient, world: World, tmp_path: Path
                                                          ) -> None:
    """`pool.source: tape_file` names a path on the disk of whoever runs the deal: fine on the CLI,
    refused over HTTP (it would read the server's files)."""
    from tests.cashflow.static_deal import static_deal_text
    from tests.cashflow.test_pool_sources import SIZES, _loans, _write

    _write(_loans(), tmp_path / "server-side.csv")
    deal = static_deal_text(f"  source: tape_file\n  tape_file: {tmp_path / 'server-side.csv'}\n"
                            "  tape_mapping: consumer_loan", *SIZES)
    pm = bearer(world, Role.PLAN_MANAGER)
    for url, body in (("/api/v1/cashflow/price", {"deal": deal}),
                      ("/api/v1/cashflow/breakeven", {"deal": deal, "tranche": "A"}),
                      ("/api/v1/cashflow/grids", {"deal": deal, "cdr": "0,0.05"})):
        refused = client.post(url, headers=pm, json=body)
        assert refused.status_code == 422 and refused.json()["errors"][0]["code"] == "server_file", url
    attach = client.put(f"/api/v1/plans/{world.plan_a}/deal", headers={**pm, "Content-Type": "text/plain"},
                        content=deal.encode())
    assert attach.status_code == 422 and attach.json()["errors"][0]["field"] == "pool.source"
    rep_lines = (DEALS / "01_gtja_htzg_1.yaml").read_text("utf-8")
    job = client.post("/api/v1/cashflow/grids", headers=pm, json={"deal": rep_lines, "cdr": "0,0.05"})
    assert job.status_code == 202, job.text
    done = run_job(client, world, job.json(), Role.PLAN_MANAGER)
    assert done["status"] == "done" and len(done["result"]["scenarios"]) == 2, done
    assert any(k.endswith(".wal_years") for k in done["result"]["scenarios"][0])


def test_a_linked_investor_enters_amends_and_withdraws_only_its_own_bids(ctx, clock) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select
    from tests.services.test_bookbuilding_service import pct, setup_book

    from absflow.domain.issues import NotFound
    from absflow.store.db import transaction
    from absflow.store.users import SecurityEventRow

    plan_code = setup_book(ctx, clock)
    other = book.submit_bid(ctx, plan_code, "A", investor="B", rate=pct("2.65"), amount_yuan=Decimal(30_000_000))
    user_service.create_user(ctx, username="inv", password="correct horse 1", role=Role.INVESTOR)
    user_service.grant(ctx, "inv", plan_code)
    unlinked = as_principal(ctx, user_service.authenticate(ctx, "inv", "correct horse 1"))
    with pytest.raises(PermissionDenied, match="not linked"):
        book.submit_bid(unlinked, plan_code, "A", investor="C", rate=pct("2.70"), amount_yuan=Decimal(3_000_000))
    user_service.link_investor(ctx, "inv", "C")
    acting = as_principal(ctx, user_service.authenticate(ctx, "inv", "correct horse 1"))
    assert book.acting_investor(acting) == "C" and book.acting_investor(ctx) is None
    mine = book.submit_bid(acting, plan_code, "A", investor="C", rate=pct("2.70"), amount_yuan=Decimal(3_000_000))
    assert mine.investor == "C"
    with pytest.raises(PermissionDenied, match="their own bids"):
        book.submit_bid(acting, plan_code, "A", investor="D", rate=pct("2.70"), amount_yuan=Decimal(3_000_000))
    with pytest.raises(NotFound, match=f"no bid {other.id} in this book"):  # another's bid looks missing
        book.withdraw_bid(acting, plan_code, "A", other.id)
    with pytest.raises(NotFound):
        book.amend_bid(acting, plan_code, "A", other.id, rate=pct("2.00"))
    amended = book.amend_bid(acting, plan_code, "A", mine.id, rate=pct("2.75"))
    assert book.withdraw_bid(acting, plan_code, "A", amended.id).status == "withdrawn"
    assert {(b.investor, b.status) for b in book.bid_history(ctx, plan_code, "A")} == {
        ("B", "active"), ("C", "amended"), ("C", "withdrawn")}
    with transaction(ctx.engine) as session:
        reasons = session.execute(select(SecurityEventRow.detail).where(
            SecurityEventRow.kind == "permission_denied", SecurityEventRow.username == "inv")).scalars().all()
    assert "investors may only enter, amend or withdraw their own bids" in reasons
    user_service.create_user(ctx, username="inv2", password="correct horse 2", role=Role.INVESTOR)
    user_service.link_investor(ctx, "inv2", "D")
    stranger = as_principal(ctx, user_service.authenticate(ctx, "inv2", "correct horse 2"))
    with pytest.raises(NotFound):  # no grant on the plan: the plan itself is hidden
        book.submit_bid(stranger, plan_code, "A", investor="D", rate=pct("2.70"), amount_yuan=Decimal(3_000_000))
