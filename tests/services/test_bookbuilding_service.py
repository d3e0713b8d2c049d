"""Bookbuilding services end to end on SQLite and PostgreSQL: investors, offering, bids with
history, final allocation flowing back (issuance result, holders, log), notices, payments."""

from __future__ import annotations

import io
import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import openpyxl
import pypdf
import pytest
from sqlalchemy import select

from absflow.bookbuilding import Convention, Offering
from absflow.bookbuilding.comparables import Comparable
from absflow.bookbuilding.investor import credit_code_check_char
from absflow.bookbuilding.notices import PaymentState
from absflow.domain.issues import Conflict, ValidationFailed
from absflow.domain.plan import Party, PartyRole
from absflow.services import bookbuilding as book
from absflow.services import plans as plan_service
from absflow.services.context import Context
from absflow.store.db import transaction
from absflow.store.log import LogEntryRow

WAN = Decimal(10000)
CST = timezone(timedelta(hours=8))
OPEN = datetime(2026, 3, 2, 9, 0, tzinfo=CST)  # offsets other than UTC must survive SQLite
CLOSE = OPEN + timedelta(hours=6)


def code(n: int) -> str:
    first = f"91310000MA1K{n:05d}"
    return first + credit_code_check_char(first)


def pct(text: str) -> Decimal:
    return Decimal(text) / 100


def setup_book(ctx: Context, clock, *, size_wan: int = 100_000, holder_limit: int = 200,
               names: tuple[str, ...] = ("A", "B", "C", "D", "E")) -> str:
    plan = plan_service.create_plan(ctx, name="示例融出资金债权1号资产支持专项计划", asset_type="margin_loan",
                                    parties=[Party(PartyRole.PLAN_MANAGER, "示例资产管理有限公司"),
                                             Party(PartyRole.ORIGINATOR, "申万宏源证券有限公司")])
    for n, name in enumerate(names):
        book.register_investor(ctx, name=name, investor_type="fund", qualified=True, credit_code=code(n),
                               contacts=[book.Contact("张三", "021-12345678", "zs@example.com")],
                               accounts=[book.ProductAccount(f"{name}稳健1号", f"B88{n:07d}")])
    book.create_offering(
        ctx, plan.code, tranche_id="A", security_name="融出1优A", security_code="135001", term_months=18,
        terms=Offering(size_yuan=size_wan * WAN, rate_min=pct("2.00"), rate_max=pct("3.50"),
                       convention=Convention.INCREMENTAL, bid_open=OPEN, bid_close=CLOSE, max_levels=3,
                       holder_limit=holder_limit),
        payment_deadline=CLOSE + timedelta(days=2), payee_name="示例资产管理有限公司（专项计划募集专户）",
        payee_bank="示例银行上海分行", payee_account="31001234567890",
    )
    clock.now = OPEN + timedelta(minutes=5)
    return plan.code


WORKED = [("A", "2.60", 20_000), ("A", "2.70", 10_000), ("B", "2.65", 30_000), ("C", "2.70", 40_000),
          ("C", "2.80", 20_000), ("D", "2.70", 20_000), ("E", "2.75", 30_000)]


def log_types(ctx: Context) -> list[str]:
    with transaction(ctx.engine) as session:
        return list(session.execute(select(LogEntryRow.entry_type).order_by(LogEntryRow.idx)).scalars())


def test_investor_registration_checks_the_credit_code(ctx: Context) -> None:
    with pytest.raises(ValidationFailed) as exc:
        book.register_investor(ctx, name="某银行", investor_type="bank", qualified=True,
                               credit_code="91310000132206289T")
    assert [i.code for i in exc.value.issues] == ["credit_code_checksum"]
    first = book.register_investor(ctx, name="某银行", investor_type="bank", qualified=True, credit_code=code(1))
    again = book.register_investor(ctx, name="某银行", investor_type="bank", qualified=True, credit_code=code(1))
    assert first == again and log_types(ctx).count("book.investor_registered") == 1
    with pytest.raises(Conflict):
        book.register_investor(ctx, name="另一银行", investor_type="bank", qualified=True, credit_code=code(1))


def test_worked_example_end_to_end(ctx: Context, clock, tmp_path: Path) -> None:
    plan_code = setup_book(ctx, clock)
    for investor, rate, amount in WORKED:
        clock.now += timedelta(minutes=1)
        book.submit_bid(ctx, plan_code, "A", investor=investor, rate=pct(rate), amount_yuan=amount * WAN)
    # E amends 2.75% 30,000 → 2.75% 40,000 then withdraws; history keeps all three versions
    e_bid = [b for b in book.active_bids(ctx, plan_code, "A") if b.investor == "E"][0]
    amended = book.amend_bid(ctx, plan_code, "A", e_bid.id, amount_yuan=40_000 * WAN)
    book.withdraw_bid(ctx, plan_code, "A", amended.id)
    book.submit_bid(ctx, plan_code, "A", investor="E", rate=pct("2.75"), amount_yuan=30_000 * WAN)
    history = book.bid_history(ctx, plan_code, "A", investor="E")
    assert [(h.status, h.amount_yuan / WAN) for h in history] == [
        ("amended", 30_000), ("withdrawn", 40_000), ("active", 30_000)]
    assert history[1].replaces == history[0].id

    summary = book.book_summary(ctx, plan_code, "A")
    assert summary.marginal_rate == pct("2.70") and summary.total_multiple == Decimal("1.7")
    with pytest.raises(Conflict):  # not before the close
        book.run_allocation(ctx, plan_code, "A")

    clock.now = CLOSE + timedelta(minutes=1)
    with pytest.raises(Conflict):  # no more bids after the close
        book.submit_bid(ctx, plan_code, "A", investor="E", rate=pct("2.60"), amount_yuan=100 * WAN)
    record = book.run_allocation(ctx, plan_code, "A")
    assert record.marginal_rate == pct("2.70")
    assert [(n, a / WAN) for n, _, a in record.allocations] == [
        ("A", 27_100), ("B", 30_000), ("C", 28_600), ("D", 14_300)]
    assert (record.total_multiple, record.marginal_multiple) == ("1.70", "1.40")
    log_size = len(log_types(ctx))
    assert book.run_allocation(ctx, plan_code, "A") == record  # idempotent
    assert len(log_types(ctx)) == log_size and log_types(ctx).count("book.allocated") == 1

    results = book.issuance_results(ctx, plan_code)
    assert [(r.tranche_id, r.coupon, r.issued_yuan) for r in results] == [("A", pct("2.70"), 100_000 * WAN)]
    register = book.holders(ctx, plan_code)
    assert [(h.investor, h.face_yuan / WAN) for h in register] == [
        ("A", 27_100), ("B", 30_000), ("C", 28_600), ("D", 14_300)]
    with transaction(ctx.engine) as session:
        body = session.execute(select(LogEntryRow.body).where(LogEntryRow.entry_type == "book.allocated")).scalar_one()
    assert b'"marginal_rate":"0.0270"' in body and b"271000000.00" in body

    # payment notices: PDF with Chinese text, XLSX with the numbers
    issued = book.issue_notices(ctx, plan_code, "A", tmp_path)
    names = sorted(name for name, _ in issued.files)
    assert len([n for n in names if n.endswith(".pdf")]) == 4 and len(names) == 9
    pdf_name = next(n for n in names if n.endswith(".pdf") and "_C." in n)
    text = pypdf.PdfReader(tmp_path / pdf_name).pages[0].extract_text()
    for expected in ("配售确认及缴款通知书", "致：C", "融出1优A", "135001", "2.70%", "286,000,000.00", "18个月",
                     "示例银行上海分行", "31001234567890", "示例资产管理有限公司", "2026年03月04日 15:00"):
        assert expected in text, expected
    sheet = openpyxl.load_workbook(io.BytesIO((tmp_path / pdf_name.replace(".pdf", ".xlsx")).read_bytes())).active
    values = {row[0]: row[1] for row in sheet.iter_rows(min_row=3, values_only=True)}
    assert values["应缴款金额（元）"] == 286_000_000 and values["票面利率"] == "2.70%"
    assert log_types(ctx)[-1] == "book.notices_issued"

    # payments: partly paid, paid, reconciled; a repeated reference is a no-op
    status = book.record_payment(ctx, plan_code, "A", investor="C", amount_yuan=Decimal("100000000.00"),
                                 reference="BK001")
    assert status.state is PaymentState.PARTLY_PAID and status.outstanding_yuan == Decimal("186000000.00")
    book.record_payment(ctx, plan_code, "A", investor="C", amount_yuan=Decimal("100000000.00"), reference="BK001")
    status = book.record_payment(ctx, plan_code, "A", investor="C", amount_yuan=Decimal("186000000.00"),
                                 reference="BK002")
    assert status.state is PaymentState.PAID and status.reconciled_yuan == 0
    status = book.reconcile_payment(ctx, plan_code, "A", "BK001")
    assert status.reconciled_yuan == Decimal("100000000.00")
    states = {s.investor: s.state for s in book.payment_statuses(ctx, plan_code, "A")}
    assert states == {"A": PaymentState.UNPAID, "B": PaymentState.UNPAID, "C": PaymentState.PAID,
                      "D": PaymentState.UNPAID}
    with pytest.raises(Conflict):
        book.record_payment(ctx, plan_code, "A", investor="D", amount_yuan=Decimal(5), reference="BK002")


def test_bid_rules_in_the_service(ctx: Context, clock) -> None:
    plan_code = setup_book(ctx, clock)
    book.register_investor(ctx, name="非合格", investor_type="other", qualified=False, credit_code=code(99))
    with pytest.raises(ValidationFailed) as exc:
        book.submit_bids(ctx, plan_code, "A", [
            book.BidInput("A", pct("3.60"), 100 * WAN), book.BidInput("B", pct("2.70"), 150 * WAN),
            book.BidInput("非合格", pct("2.70"), 100 * WAN), book.BidInput("C", pct("2.70"), 100 * WAN),
            book.BidInput("C", pct("2.70"), 200 * WAN), book.BidInput("nobody", pct("2.70"), 100 * WAN),
        ])
    assert [i.code for i in exc.value.issues] == ["unknown_investor"]
    with pytest.raises(ValidationFailed) as exc:
        book.submit_bids(ctx, plan_code, "A", [
            book.BidInput("A", pct("3.60"), 100 * WAN), book.BidInput("B", pct("2.70"), 150 * WAN),
            book.BidInput("非合格", pct("2.70"), 100 * WAN), book.BidInput("C", pct("2.70"), 100 * WAN),
            book.BidInput("C", pct("2.70"), 200 * WAN),
        ])
    assert sorted(i.code for i in exc.value.issues) == [
        "amount_not_lot_multiple", "duplicate_level", "rate_out_of_range", "unqualified_investor"]
    assert book.active_bids(ctx, plan_code, "A") == []  # all or nothing
    clock.now = OPEN - timedelta(hours=1)
    with pytest.raises(Conflict):
        book.submit_bid(ctx, plan_code, "A", investor="A", rate=pct("2.70"), amount_yuan=100 * WAN)


def test_holder_limit_blocks_the_final_allocation(ctx: Context, clock) -> None:
    names = tuple(f"投资者{n:02d}" for n in range(4))
    plan_code = setup_book(ctx, clock, size_wan=400, holder_limit=3, names=names)
    book.submit_bids(ctx, plan_code, "A", [book.BidInput(n, pct("2.70"), 100 * WAN) for n in names])
    assert book.preview_allocation(ctx, plan_code, "A").holder_limit_exceeded
    clock.now = CLOSE
    with pytest.raises(ValidationFailed) as exc:
        book.run_allocation(ctx, plan_code, "A")
    assert [i.code for i in exc.value.issues] == ["holder_limit_exceeded"]
    assert book.holders(ctx, plan_code) == [] and "book.allocated" not in log_types(ctx)


def test_forecast_narrows_as_bids_arrive_and_meets_the_result_at_the_close(ctx: Context, clock) -> None:
    plan_code = setup_book(ctx, clock)
    recent = [Comparable(f"近期可比{n}", None, pct(c), 10 * 10**8 * Decimal(1), 18, date(2026, 2, n))
              for n, c in ((2, "2.75"), (9, "2.85"), (16, "2.95"))]
    clock.now = OPEN
    before = book.forecast(ctx, plan_code, "A", comparables=recent)
    assert before.prior_rate == pct("2.85")
    assert before.book_rate is None and before.low <= before.rate <= before.high
    for investor, rate, amount in WORKED:
        book.submit_bid(ctx, plan_code, "A", investor=investor, rate=pct(rate), amount_yuan=amount * WAN)
    clock.now = OPEN + (CLOSE - OPEN) / 2
    middle = book.forecast(ctx, plan_code, "A", comparables=recent)
    assert middle.covered_now and middle.high <= pct("2.70")  # a covered book's margin can only fall
    assert middle.high - middle.low < before.high - before.low
    clock.now = CLOSE
    final = book.forecast(ctx, plan_code, "A", comparables=recent)
    assert final.rate == final.low == final.high == pct("2.70")
    json.dumps([str(final.rate)])  # plain values


def test_the_coupon_flows_back_into_the_deal_document(ctx: Context, clock) -> None:
    from absflow.services import deals as deal_service

    plan_code = setup_book(ctx, clock)
    deal_file = Path(__file__).resolve().parents[2] / "examples" / "deals" / "09_pyas_swhy_1.yaml"
    deal_service.attach_deal(ctx, plan_code, deal_file.read_text(encoding="utf-8"))
    assert deal_service.current_deal(ctx, plan_code).tranches[0].coupon.rate == Decimal("0.05")
    book.submit_bids(ctx, plan_code, "A", [book.BidInput(i, pct(r), a * WAN) for i, r, a in WORKED])
    clock.now = CLOSE
    book.run_allocation(ctx, plan_code, "A")
    deal = deal_service.current_deal(ctx, plan_code)
    assert {t.id: t.coupon.rate for t in deal.tranches}["A"] == pct("2.70")
    versions = deal_service.deal_versions(ctx, plan_code)
    book.run_allocation(ctx, plan_code, "A")  # idempotent: no further deal version
    assert deal_service.deal_versions(ctx, plan_code) == versions and len(versions) == 2
