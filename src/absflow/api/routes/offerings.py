"""Bookbuilding writes and reads: investors, offerings, bids, the book, allocation, notices,
payments (`absflow book …`). Money in yuan and rates as fractions, both as decimal strings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Body, Query, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from absflow.api.deps import ActorCtx
from absflow.api.routes.book import plain
from absflow.api.routes.daily import attachment
from absflow.bookbuilding.files import allocate_files, allocation_document, read_bids_csv
from absflow.bookbuilding.model import Convention, Offering
from absflow.domain.issues import ValidationFailed
from absflow.services import bookbuilding as bs
from absflow.services import bookview, transfers

router = APIRouter(tags=["bookbuilding"])
OFFERING = "/plans/{code}/offerings/{tranche}"


class ContactIn(BaseModel):
    name: str
    phone: str | None = None
    email: str | None = None


class AccountIn(BaseModel):
    product_name: str
    securities_account: str | None = None


class InvestorCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    investor_type: str = Field(description="bank bank_wealth securities fund insurance trust private_fund other")
    credit_code: str = Field(description="统一社会信用代码 (18 characters, checksum verified)")
    qualified: bool = True
    contacts: list[ContactIn] = Field(default_factory=list)
    accounts: list[AccountIn] = Field(default_factory=list)


class OfferingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tranche_id: str
    security_name: str
    security_code: str | None = None
    term_months: int | None = None
    size_yuan: Decimal
    lot_yuan: Decimal = Decimal("1000000")
    minimum_yuan: Decimal | None = Field(None, description="default: one lot")
    cap_yuan: Decimal | None = None
    rate_min: Decimal = Field(description="fraction, e.g. 0.025")
    rate_max: Decimal
    convention: Convention = Convention.INCREMENTAL
    max_levels: int | None = None
    holder_limit: int = 200
    bid_open: datetime
    bid_close: datetime
    payment_deadline: datetime
    payee_name: str
    payee_bank: str
    payee_account: str


class BidIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    investor: str
    rate: Decimal = Field(description="fraction, e.g. 0.027")
    amount_yuan: Decimal


class BidUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rate: Decimal | None = None
    amount_yuan: Decimal | None = None


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    investor: str
    amount_yuan: Decimal
    reference: str = Field(description="bank reference; recording it twice is a no-op")


class AllocateFiles(BaseModel):
    model_config = ConfigDict(extra="forbid")
    offering: str = Field(description="OFFERING.yaml text: size, lot (万元), rate_min, rate_max (%), convention")
    bids: str = Field(description="BIDS.csv text: investor,rate,amount[,time] (rate %, amount 万元)")


# ---------------------------------------------------------------- investors


@router.get("/investors", summary="Registered investors (book investors); an investor user sees its own entity")
def investors(ctx: ActorCtx) -> list[Any]:
    return plain(bs.list_investors(ctx))  # type: ignore[no-any-return]


@router.post("/investors", status_code=status.HTTP_201_CREATED, summary="Register an investor (book investor-add)")
def add_investor(ctx: ActorCtx, body: InvestorCreate) -> Any:
    return plain(bs.register_investor(
        ctx, name=body.name, investor_type=body.investor_type, qualified=body.qualified, credit_code=body.credit_code,
        contacts=[bs.Contact(c.name, c.phone, c.email) for c in body.contacts],
        accounts=[bs.ProductAccount(a.product_name, a.securities_account) for a in body.accounts]))


# ---------------------------------------------------------------- offerings


@router.get("/plans/{code}/offerings", summary="The plan's offerings (book offerings)")
def offerings(ctx: ActorCtx, code: str) -> list[Any]:
    return plain(bs.list_offerings(ctx, code))  # type: ignore[no-any-return]


@router.post("/plans/{code}/offerings", status_code=status.HTTP_201_CREATED,
             summary="Open the book of a tranche (book offering-create)")
def create_offering(ctx: ActorCtx, code: str, body: OfferingCreate) -> Any:
    terms = Offering(
        size_yuan=body.size_yuan, rate_min=body.rate_min, rate_max=body.rate_max, convention=body.convention,
        lot_yuan=body.lot_yuan, minimum_yuan=body.minimum_yuan if body.minimum_yuan is not None else body.lot_yuan,
        bid_open=body.bid_open, bid_close=body.bid_close, max_levels=body.max_levels, cap_yuan=body.cap_yuan,
        holder_limit=body.holder_limit)
    return plain(bs.create_offering(
        ctx, code, tranche_id=body.tranche_id, security_name=body.security_name, security_code=body.security_code,
        term_months=body.term_months, terms=terms, payment_deadline=body.payment_deadline, payee_name=body.payee_name,
        payee_bank=body.payee_bank, payee_account=body.payee_account))


@router.get(OFFERING + "/bids", summary="Active bids (an investor user: its own); ?history=true for every version "
            "(book history)")
def bids(ctx: ActorCtx, code: str, tranche: str, history: bool = False, investor: str | None = None) -> list[Any]:
    if history:
        return plain(bs.bid_history(ctx, code, tranche, investor))  # type: ignore[no-any-return]
    return plain(bs.active_bids(ctx, code, tranche))  # type: ignore[no-any-return]


@router.post(OFFERING + "/bids", status_code=status.HTTP_201_CREATED,
             summary="Submit bid levels now, all or nothing (book bid)")
def submit_bids(ctx: ActorCtx, code: str, tranche: str, body: list[BidIn]) -> list[Any]:
    return plain(bs.submit_bids(ctx, code, tranche, [  # type: ignore[no-any-return]
        bs.BidInput(b.investor, b.rate, b.amount_yuan, i + 1) for i, b in enumerate(body)]))


@router.post(OFFERING + "/bids.csv", status_code=status.HTTP_201_CREATED,
             summary="Submit every level of a BIDS.csv text (investor,rate %,amount 万元), all or nothing "
             "(book bids-import)")
def import_bids(ctx: ActorCtx, code: str, tranche: str, text: str = Body(..., media_type="text/csv")) -> list[Any]:
    parsed, problems = read_bids_csv(text)
    if problems:
        raise ValidationFailed(problems)
    return plain(bs.submit_bids(ctx, code, tranche, [  # type: ignore[no-any-return]
        bs.BidInput(b.investor, b.rate, b.amount_yuan, b.row) for b in parsed]))


@router.patch(OFFERING + "/bids/{bid_id}", summary="Amend an active bid level before the close (book amend)")
def amend_bid(ctx: ActorCtx, code: str, tranche: str, bid_id: int, body: BidUpdate) -> Any:
    return plain(bs.amend_bid(ctx, code, tranche, bid_id, rate=body.rate, amount_yuan=body.amount_yuan))


@router.delete(OFFERING + "/bids/{bid_id}", summary="Withdraw an active bid level before the close (book withdraw)")
def withdraw_bid(ctx: ActorCtx, code: str, tranche: str, bid_id: int) -> Any:
    return plain(bs.withdraw_bid(ctx, code, tranche, bid_id))


@router.get(OFFERING + "/summary", summary="标位汇总 of the active bids with the allocation they would get now "
            "(book summary; nothing stored)")
def summary(ctx: ActorCtx, code: str, tranche: str) -> dict[str, Any]:
    return bookview.preview_json(ctx, code, tranche)


@router.post(OFFERING + "/allocation", summary="Allocate after the close and make it final (book finalize; "
             "needs approve; idempotent)")
def finalize(ctx: ActorCtx, code: str, tranche: str) -> dict[str, Any]:
    return bs.allocation_json(bs.run_allocation(ctx, code, tranche))


@router.get(OFFERING + "/allocation", summary="The final allocation (an investor user: its own line)")
def allocation(ctx: ActorCtx, code: str, tranche: str) -> dict[str, Any]:
    return bs.allocation_json(bs.allocation_record(ctx, code, tranche))


@router.get(OFFERING + "/notices", summary="Payment notices as data (an investor user: its own)")
def notices(ctx: ActorCtx, code: str, tranche: str) -> list[Any]:
    return plain(bs.payment_notices(ctx, code, tranche))  # type: ignore[no-any-return]


@router.get(OFFERING + "/notices.zip", response_class=Response,
            summary="Payment notices (配售确认及缴款通知书) as PDF and/or XLSX in one ZIP (book notices; download)")
def notices_zip(ctx: ActorCtx, code: str, tranche: str, fmt: list[str] = Query(["pdf", "xlsx"], alias="format")
                ) -> Response:
    name, data = transfers.notices_zip(ctx, code, tranche, fmt)
    return attachment(name, data, "application/zip")


@router.get(OFFERING + "/payments", summary="Paid / partly paid / unpaid per investor (book payments)")
def payments(ctx: ActorCtx, code: str, tranche: str) -> list[Any]:
    return plain(bs.payment_statuses(ctx, code, tranche))  # type: ignore[no-any-return]


@router.post(OFFERING + "/payments", status_code=status.HTTP_201_CREATED,
             summary="Record money received from an investor (book pay)")
def pay(ctx: ActorCtx, code: str, tranche: str, body: PaymentIn) -> Any:
    return plain(bs.record_payment(ctx, code, tranche, investor=body.investor, amount_yuan=body.amount_yuan,
                                   reference=body.reference))


@router.post(OFFERING + "/payments/{reference}/reconciliation",
             summary="Mark a recorded payment as matched to the bank statement (book reconcile)")
def reconcile(ctx: ActorCtx, code: str, tranche: str, reference: str) -> Any:
    return plain(bs.reconcile_payment(ctx, code, tranche, reference))


@router.get(OFFERING + "/forecast", summary="Marginal-rate forecast with a 90% interval (book forecast)")
def forecast(ctx: ActorCtx, code: str, tranche: str) -> Any:
    return plain(bs.forecast(ctx, code, tranche))


@router.get("/plans/{code}/holders", summary="The holder register of the plan (book results, with "
            "GET …/book/issuance)")
def holders(ctx: ActorCtx, code: str) -> list[Any]:
    return plain(bs.holders(ctx, code))  # type: ignore[no-any-return]


# ---------------------------------------------------------------- files, no database


@router.post("/book/allocate", summary="Allocate a book given as texts, stores nothing (book allocate)")
def allocate(ctx: ActorCtx, body: AllocateFiles) -> dict[str, Any]:
    document: dict[str, Any] = allocation_document(allocate_files(body.offering, body.bids))
    return document


@router.get("/book/backtest", summary="Leave-one-out backtest of the forecast prior (book backtest)")
def backtest(ctx: ActorCtx) -> dict[str, Any]:
    return bookview.backtest_json()
