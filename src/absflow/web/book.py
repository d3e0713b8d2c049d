"""Bookbuilding pages: register investors, open a book, enter and withdraw bids, see the book
summary (标位汇总) with a chart and the marginal rate, finalize the allocation, download the
notices. Forms take amounts in 万元 and rates in percent, as the CLI does. An investor user
linked to an investor enters and withdraws that investor's own bids on plans it may view."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from absflow.bookbuilding.files import CHINA_TIME, parse_time
from absflow.bookbuilding.investor import InvestorType
from absflow.bookbuilding.model import Offering
from absflow.domain.issues import AbsflowError, Issue, Location, ValidationFailed
from absflow.services import bookbuilding as book_service
from absflow.services import bookview
from absflow.services import plans as plan_service
from absflow.web.i18n import translate
from absflow.web.pages import check_csrf, language, page_context, render

router = APIRouter(include_in_schema=False)
WAN = Decimal(10000)


def book_chart(summary: Any, lang: str) -> dict[str, Any]:
    """Demand per rate level and cumulative demand (yuan) against the offering size."""
    rates = [f"{level.rate * 100:.2f}%" for level in summary.levels]
    return {
        "kind": "bar", "title": translate("book_summary", lang), "categories": rates,
        "series": [{"name": translate("demand", lang), "data": [float(level.amount_yuan) for level in summary.levels]},
                   {"name": translate("cumulative", lang), "type": "line",
                    "data": [float(level.cumulative_yuan) for level in summary.levels]},
                   {"name": translate("face_size", lang), "type": "line",
                    "data": [float(summary.size_yuan) for _ in summary.levels]}],
    }


def _book_page(request: Request, code: str, errors: list[Issue] | None = None, status_code: int = 200) -> Response:
    ctx = page_context(request)
    plan = plan_service.get_plan(ctx, code)
    lang = language(request)
    books = [bookview.offering_book(ctx, code, o.tranche_id) for o in bookview.offerings(ctx, code)]
    can_edit = ctx.can("edit", code)
    bidding_for = book_service.acting_investor(ctx)  # an investor user bids for its own investor only
    return render(request, "book.html", status_code=status_code, plan=plan, books=books,
                  charts=[book_chart(b.summary, lang) for b in books], issuance=bookview.issuance(ctx, code),
                  investors=book_service.list_investors(ctx), investor_types=[t.value for t in InvestorType],
                  own_only=book_service.own_investor(ctx) is not None, can_create=ctx.can("create", None),
                  can_edit=can_edit, can_bid=can_edit or bidding_for is not None, bidding_for=bidding_for,
                  can_approve=ctx.can("approve", code),
                  can_download=ctx.can("download", code), form_errors=errors or [], beijing=CHINA_TIME)


class _Form:
    """Reads a submitted form's fields, collecting every problem with its field name."""

    def __init__(self, data: Any) -> None:
        self.data = data
        self.issues: list[Issue] = []

    def text(self, name: str, *, required: bool = True) -> str:
        value = str(self.data.get(name) or "").strip()
        if required and not value:
            self.issues.append(Issue("required", "required", Location(field_path=name)))
        return value

    def number(self, name: str, scale: Decimal) -> Decimal:
        text = self.text(name)
        try:
            return Decimal(text) * scale if text else Decimal(0)
        except InvalidOperation:
            self.issues.append(Issue("not_a_number", "not a number", Location(field_path=name), text))
            return Decimal(0)

    def when(self, name: str) -> Any:
        text = self.text(name)
        value = parse_time(text) if text else None
        if text and value is None:
            self.issues.append(Issue("bad_time", "a date and time, e.g. 2026-03-02T09:00", Location(field_path=name),
                                     text))
        return value

    def check(self) -> None:
        if self.issues:
            raise ValidationFailed(self.issues)


async def _submitted(request: Request, code: str, action: Any) -> Response:
    """Check the CSRF token, run ``action(ctx, form)``; back to the book page, or the page with the errors."""
    ctx = page_context(request)
    data = await request.form()
    check_csrf(request, str(data.get("csrf_token") or ""))
    try:
        action(ctx, _Form(data))
    except (ValidationFailed, AbsflowError) as exc:
        if exc.status in (401, 404):
            raise
        issues = exc.issues if isinstance(exc, ValidationFailed) else [Issue(exc.code, exc.message, Location())]
        return _book_page(request, code, issues, exc.status)
    return RedirectResponse(f"/plans/{quote(code)}/book", status_code=303)


@router.get("/plans/{code}/book")
def book_page(request: Request, code: str) -> Response:
    return _book_page(request, code)


@router.post("/plans/{code}/book/investors")
async def add_investor(request: Request, code: str) -> Response:
    def act(ctx: Any, form: _Form) -> None:
        name, kind, credit = form.text("name"), form.text("investor_type"), form.text("credit_code")
        form.check()
        book_service.register_investor(ctx, name=name, investor_type=kind, qualified=True, credit_code=credit)
    return await _submitted(request, code, act)


@router.post("/plans/{code}/book/offerings")
async def open_book(request: Request, code: str) -> Response:
    def act(ctx: Any, form: _Form) -> None:
        lot = form.number("lot", WAN)
        terms = Offering(size_yuan=form.number("size", WAN), lot_yuan=lot, minimum_yuan=lot,
                         rate_min=form.number("rate_min", Decimal("0.01")),
                         rate_max=form.number("rate_max", Decimal("0.01")),
                         bid_open=form.when("bid_open"), bid_close=form.when("bid_close"))
        fields = {k: form.text(k) for k in ("tranche_id", "security_name", "payee_name", "payee_bank",
                                            "payee_account")}
        deadline = form.when("payment_deadline")
        form.check()
        book_service.create_offering(ctx, code, terms=terms, payment_deadline=deadline,
                                     tranche_id=fields["tranche_id"], security_name=fields["security_name"],
                                     payee_name=fields["payee_name"], payee_bank=fields["payee_bank"],
                                     payee_account=fields["payee_account"])
    return await _submitted(request, code, act)


@router.post("/plans/{code}/book/{tranche}/bids")
async def place_bid(request: Request, code: str, tranche: str) -> Response:
    def act(ctx: Any, form: _Form) -> None:
        investor, rate, amount = form.text("investor"), form.number("rate", Decimal("0.01")), form.number("amount", WAN)
        form.check()
        book_service.submit_bid(ctx, code, tranche, investor=investor, rate=rate, amount_yuan=amount)
    return await _submitted(request, code, act)


@router.post("/plans/{code}/book/{tranche}/bids/{bid_id}/withdraw")
async def withdraw_bid(request: Request, code: str, tranche: str, bid_id: int) -> Response:
    return await _submitted(request, code, lambda ctx, _form: book_service.withdraw_bid(ctx, code, tranche, bid_id))


@router.post("/plans/{code}/book/{tranche}/finalize")
async def finalize(request: Request, code: str, tranche: str) -> Response:
    return await _submitted(request, code, lambda ctx, _form: book_service.run_allocation(ctx, code, tranche))
