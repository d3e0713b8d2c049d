"""Issuance bookbuilding (发行簿记) use cases: investors, offerings, bids with history, book
summary, allocation (final, idempotent, logged), issuance results and the initial holder
register, payment notices, payments, marginal-rate forecast.

Offerings are named by (plan code, tranche id). Amounts are Decimal yuan at this edge,
integer fen in the database; rates are fractions here and basis points in the database.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from absflow.access import Principal, Role
from absflow.bookbuilding.allocation import Allocation, BookSummary, allocate, summarize
from absflow.bookbuilding.comparables import MARGIN_LOAN_DEALS, Comparable
from absflow.bookbuilding.files import multiple_text
from absflow.bookbuilding.forecast import Forecast, forecast_marginal_rate
from absflow.bookbuilding.investor import InvestorType, credit_code_issues, normalize_credit_code
from absflow.bookbuilding.model import RATE_STEP, Bid, Convention, Offering, bp_to_rate, percent_text
from absflow.bookbuilding.notices import PaymentNotice, PaymentState, amount_due, payment_state
from absflow.bookbuilding.validation import Level, to_levels, validate_bids, validate_offering
from absflow.domain.issues import Conflict, Issue, Location, NotFound, PermissionDenied, ValidationFailed
from absflow.domain.money import fen_to_yuan, format_yuan, yuan_to_fen
from absflow.domain.plan import PartyRole
from absflow.reports.notices import notice_pdf, notice_xlsx, notices_register_xlsx
from absflow.reports.pdf import missing_glyphs
from absflow.services import deals as deal_service
from absflow.services.access import PERMISSION_DENIED, record_security_event
from absflow.services.context import Context
from absflow.services.log import append_event
from absflow.services.plans import load_plan_row
from absflow.store.bookbuilding import (
    AllocationLineRow,
    AllocationRunRow,
    BidRow,
    HolderRow,
    InvestorAccountRow,
    InvestorContactRow,
    InvestorRow,
    IssuanceResultRow,
    OfferingRow,
    PaymentRow,
)
from absflow.store.db import transaction
from absflow.store.plans import PlanRow

OPEN = "open"
ALLOCATED = "allocated"
ACTIVE = "active"
AMENDED = "amended"
WITHDRAWN = "withdrawn"


#: The investor id an investor user with no linked investor "acts for": none, so it sees no rows.
NO_INVESTOR = -1


def own_investor(ctx: Context) -> int | None:
    """None when the actor sees every investor's bids, allocations, notices and payments; otherwise the
    one investor id whose rows it sees (an investor user sees its linked investor's rows only)."""
    actor = ctx.actor
    if isinstance(actor, Principal) and actor.role is Role.INVESTOR:
        return actor.investor_id if actor.investor_id is not None else NO_INVESTOR
    return None


def _refuse_investors(ctx: Context, what: str, plan_code: str) -> None:
    """An investor user may not see ``what`` (other investors' rows); recorded like every denial."""
    if own_investor(ctx) is None:
        return
    actor = ctx.actor
    record_security_event(ctx, PERMISSION_DENIED, f"investors may not see {what}",
                          username=getattr(actor, "username", None), remote_addr=ctx.extras.get("remote_addr"),
                          action="view", plan_code=plan_code)
    raise PermissionDenied(f"investors see the aggregate book, not {what}")


def acting_investor(ctx: Context) -> str | None:
    """The name of the investor an investor user bids for (None for other users, or when unlinked)."""
    own = own_investor(ctx)
    if own is None or own == NO_INVESTOR:
        return None
    with transaction(ctx.engine) as session:
        row = session.get(InvestorRow, own)
        return row.name if row is not None else None


def _require_bidding(ctx: Context, plan_code: str, investors: Iterable[str]) -> None:
    """Who may enter, amend and withdraw bids: whoever may edit the plan, for any investor; an investor
    user, on a plan it may view, for its own linked investor only (``investors``: the names of the
    investors whose bids the call touches). Refusals are recorded like every denial."""
    if own_investor(ctx) is None:
        ctx.require("edit", plan_code)
        return
    ctx.require("view", plan_code)
    own_name = acting_investor(ctx)
    if own_name is not None and all(name == own_name for name in investors):
        return
    reason = ("this investor user is not linked to an investor" if own_name is None
              else "investors may only enter, amend or withdraw their own bids")
    record_security_event(ctx, PERMISSION_DENIED, reason, username=getattr(ctx.actor, "username", None),
                          remote_addr=ctx.extras.get("remote_addr"), action="edit", plan_code=plan_code)
    raise PermissionDenied(reason)


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes for timezone-aware columns; they were stored in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _now(ctx: Context) -> datetime:
    """The service clock in UTC: every stored time is UTC, so SQLite (which drops offsets) reads back right."""
    return ctx.now().astimezone(UTC)


def _rate_bp(rate: Decimal) -> int:
    return int(rate / RATE_STEP)


# ------------------------------------------------------------------------- investors


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class ProductAccount:
    product_name: str
    securities_account: str | None = None


@dataclass(frozen=True, slots=True)
class Investor:
    name: str
    investor_type: InvestorType
    qualified: bool
    credit_code: str
    contacts: tuple[Contact, ...] = ()
    accounts: tuple[ProductAccount, ...] = ()


def _investor(row: InvestorRow) -> Investor:
    return Investor(
        name=row.name, investor_type=InvestorType(row.investor_type), qualified=row.qualified,
        credit_code=row.credit_code,
        contacts=tuple(Contact(c.name, c.phone, c.email) for c in row.contacts),
        accounts=tuple(ProductAccount(a.product_name, a.securities_account) for a in row.accounts),
    )


def _investor_json(investor: Investor) -> dict[str, Any]:
    return {
        "name": investor.name, "type": investor.investor_type.value, "qualified": investor.qualified,
        "credit_code": investor.credit_code,
        "contacts": [{"name": c.name, "phone": c.phone, "email": c.email} for c in investor.contacts],
        "accounts": [{"product": a.product_name, "securities_account": a.securities_account}
                     for a in investor.accounts],
    }


def _load_investor(session: Session, name: str) -> InvestorRow:
    row = session.execute(
        select(InvestorRow).where(InvestorRow.name == name)
        .options(selectinload(InvestorRow.contacts), selectinload(InvestorRow.accounts))
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no investor named {name!r}")
    return row


def register_investor(
    ctx: Context,
    *,
    name: str,
    investor_type: InvestorType | str,
    qualified: bool,
    credit_code: str,
    contacts: Sequence[Contact] = (),
    accounts: Sequence[ProductAccount] = (),
) -> Investor:
    """Register an investor (客户信息). The credit code's checksum is verified; names and codes are unique.

    Registering the same investor again with identical data changes nothing (idempotent).
    """
    ctx.require("create", None)
    issues: list[Issue] = []
    if not name.strip():
        issues.append(Issue("required", "an investor needs a name", Location(field_path="name")))
    try:
        kind = InvestorType(investor_type)
    except ValueError:
        allowed = ", ".join(t.value for t in InvestorType)
        issues.append(Issue("unknown_investor_type", f"unknown investor type {investor_type!r}; one of: {allowed}",
                            Location(field_path="investor_type"), str(investor_type)))
        kind = InvestorType.OTHER
    issues.extend(credit_code_issues(credit_code))
    for i, contact in enumerate(contacts):
        if not contact.name.strip():
            issues.append(Issue("required", "a contact needs a name", Location(field_path=f"contacts[{i}].name")))
    if issues:
        raise ValidationFailed(issues)
    investor = Investor(name.strip(), kind, qualified, normalize_credit_code(credit_code), tuple(contacts),
                        tuple(accounts))
    now = _now(ctx)
    with transaction(ctx.engine) as session:
        existing = session.execute(
            select(InvestorRow).where((InvestorRow.name == investor.name)
                                      | (InvestorRow.credit_code == investor.credit_code))
            .options(selectinload(InvestorRow.contacts), selectinload(InvestorRow.accounts))
        ).scalars().all()
        for row in existing:
            if _investor(row) == investor:
                return investor
            raise Conflict(f"investor {row.name!r} (credit code {row.credit_code}) is already registered with "
                           "other details; use update")
        row = InvestorRow(name=investor.name, investor_type=kind.value, qualified=qualified,
                          credit_code=investor.credit_code, created_at=now, updated_at=now)
        row.contacts = [InvestorContactRow(name=c.name, phone=c.phone, email=c.email) for c in contacts]
        row.accounts = [InvestorAccountRow(product_name=a.product_name, securities_account=a.securities_account)
                        for a in accounts]
        session.add(row)
        session.flush()
        append_event(session, entry_type="book.investor_registered", plan_code=None, recorded_at=now,
                     payload=_investor_json(investor))
    return investor


def set_investor_qualified(ctx: Context, name: str, qualified: bool) -> Investor:
    """Mark an investor qualified (合格投资者) or not; logged."""
    ctx.require("edit", None)
    now = _now(ctx)
    with transaction(ctx.engine) as session:
        row = _load_investor(session, name)
        if row.qualified != qualified:
            row.qualified = qualified
            row.updated_at = now
            append_event(session, entry_type="book.investor_updated", plan_code=None, recorded_at=now,
                         payload={"name": name, "qualified": qualified})
        return _investor(row)


def list_investors(ctx: Context) -> list[Investor]:
    """Registered investors; an investor user sees only the investor it acts for."""
    ctx.require("view", None)
    own = own_investor(ctx)
    with transaction(ctx.engine) as session:
        query = (select(InvestorRow).order_by(InvestorRow.name)
                 .options(selectinload(InvestorRow.contacts), selectinload(InvestorRow.accounts)))
        if own is not None:
            query = query.where(InvestorRow.id == own)
        rows = session.execute(query).scalars().all()
        return [_investor(r) for r in rows]


def get_investor(ctx: Context, name: str) -> Investor:
    ctx.require("view", None)
    own = own_investor(ctx)
    with transaction(ctx.engine) as session:
        row = _load_investor(session, name)
        if own is not None and row.id != own:
            raise NotFound(f"no investor named {name!r}")
        return _investor(row)


# ------------------------------------------------------------------------- offerings


@dataclass(frozen=True, slots=True)
class OfferingView:
    """An offering as stored, with its pure-core terms."""

    id: int
    plan_code: str
    tranche_id: str
    security_name: str
    security_code: str | None
    term_months: int | None
    terms: Offering
    payment_deadline: datetime
    payee_name: str
    payee_bank: str
    payee_account: str
    status: str


def _offering_terms(row: OfferingRow) -> Offering:
    return Offering(
        size_yuan=fen_to_yuan(row.size_fen), rate_min=bp_to_rate(row.rate_min_bp), rate_max=bp_to_rate(row.rate_max_bp),
        convention=Convention(row.convention), lot_yuan=fen_to_yuan(row.lot_fen),
        minimum_yuan=fen_to_yuan(row.minimum_fen), bid_open=_aware(row.bid_open), bid_close=_aware(row.bid_close),
        max_levels=row.max_levels, cap_yuan=fen_to_yuan(row.cap_fen) if row.cap_fen is not None else None,
        holder_limit=row.holder_limit,
    )


def _offering_view(row: OfferingRow, plan_code: str) -> OfferingView:
    return OfferingView(
        id=row.id, plan_code=plan_code, tranche_id=row.tranche_id, security_name=row.security_name,
        security_code=row.security_code, term_months=row.term_months, terms=_offering_terms(row),
        payment_deadline=_aware(row.payment_deadline), payee_name=row.payee_name, payee_bank=row.payee_bank,
        payee_account=row.payee_account, status=row.status,
    )


def _load_offering(session: Session, plan_code: str, tranche_id: str, *, for_update: bool = False
                   ) -> tuple[PlanRow, OfferingRow]:
    plan = load_plan_row(session, plan_code)
    query = select(OfferingRow).where(OfferingRow.plan_id == plan.id, OfferingRow.tranche_id == tranche_id)
    if for_update:
        query = query.with_for_update()
    row = session.execute(query).scalar_one_or_none()
    if row is None:
        raise NotFound(f"plan {plan_code} has no offering for tranche {tranche_id!r}")
    return plan, row


def create_offering(
    ctx: Context,
    plan_code: str,
    *,
    tranche_id: str,
    security_name: str,
    terms: Offering,
    payment_deadline: datetime,
    payee_name: str,
    payee_bank: str,
    payee_account: str,
    security_code: str | None = None,
    term_months: int | None = None,
) -> OfferingView:
    """Open the book of one tranche (发行信息). ``terms`` must carry the bid window.

    Creating the same offering again with identical terms changes nothing.
    """
    ctx.require("edit", plan_code)
    issues = validate_offering(terms)
    if terms.bid_open is None or terms.bid_close is None:
        issues.append(Issue("required", "an offering needs a bid window (bid_open and bid_close)",
                            Location(field_path="bid_open")))
    elif payment_deadline < terms.bid_close:
        issues.append(Issue("deadline_before_close", "the payment deadline is before the book closes",
                            Location(field_path="payment_deadline"), payment_deadline.isoformat()))
    for key, value in (("tranche_id", tranche_id), ("security_name", security_name), ("payee_name", payee_name),
                       ("payee_bank", payee_bank), ("payee_account", payee_account)):
        if not value.strip():
            issues.append(Issue("required", f"the offering needs {key}", Location(field_path=key)))
    if term_months is not None and term_months <= 0:
        issues.append(Issue("term_not_positive", "term_months must be positive", Location(field_path="term_months"),
                            str(term_months)))
    for key, amount in (("size", terms.size_yuan), ("lot", terms.lot_yuan), ("minimum", terms.minimum_yuan)):
        if amount != amount.quantize(Decimal("0.01")):
            issues.append(Issue("amount_precision", f"{key} is finer than a fen", Location(field_path=key),
                                str(amount)))
    if issues:
        raise ValidationFailed(issues)
    assert terms.bid_open is not None and terms.bid_close is not None
    now = _now(ctx)
    with transaction(ctx.engine) as session:
        plan = load_plan_row(session, plan_code, for_update=True)
        existing = session.execute(
            select(OfferingRow).where(OfferingRow.plan_id == plan.id, OfferingRow.tranche_id == tranche_id)
        ).scalar_one_or_none()
        row = OfferingRow(
            plan_id=plan.id, tranche_id=tranche_id, security_name=security_name, security_code=security_code,
            term_months=term_months, size_fen=yuan_to_fen(terms.size_yuan), lot_fen=yuan_to_fen(terms.lot_yuan),
            minimum_fen=yuan_to_fen(terms.minimum_yuan),
            cap_fen=yuan_to_fen(terms.cap_yuan) if terms.cap_yuan is not None else None,
            rate_min_bp=_rate_bp(terms.rate_min), rate_max_bp=_rate_bp(terms.rate_max),
            convention=terms.convention.value, max_levels=terms.max_levels, holder_limit=terms.holder_limit,
            bid_open=terms.bid_open.astimezone(UTC), bid_close=terms.bid_close.astimezone(UTC),
            payment_deadline=payment_deadline.astimezone(UTC),
            payee_name=payee_name, payee_bank=payee_bank, payee_account=payee_account, status=OPEN, created_at=now,
        )
        if existing is not None:
            same = _offering_view(existing, plan_code)
            wanted = _offering_view(row, plan_code)
            if (same.terms, same.security_name, same.security_code, same.term_months, same.payee_account) == (
                    wanted.terms, wanted.security_name, wanted.security_code, wanted.term_months,
                    wanted.payee_account):
                return same
            raise Conflict(f"plan {plan_code} already has an offering for tranche {tranche_id!r} with other terms")
        session.add(row)
        session.flush()
        append_event(session, entry_type="book.offering_created", plan_code=plan_code, recorded_at=now, payload={
            "tranche_id": tranche_id, "security_name": security_name, "security_code": security_code,
            "size": format_yuan(row.size_fen), "lot": format_yuan(row.lot_fen), "minimum": format_yuan(row.minimum_fen),
            "rate_min": str(terms.rate_min), "rate_max": str(terms.rate_max), "convention": terms.convention.value,
            "bid_open": terms.bid_open.isoformat(), "bid_close": terms.bid_close.isoformat(),
        })
        return _offering_view(row, plan_code)


def get_offering(ctx: Context, plan_code: str, tranche_id: str) -> OfferingView:
    ctx.require("view", plan_code)
    with transaction(ctx.engine) as session:
        _, row = _load_offering(session, plan_code, tranche_id)
        return _offering_view(row, plan_code)


def list_offerings(ctx: Context, plan_code: str) -> list[OfferingView]:
    ctx.require("view", plan_code)
    with transaction(ctx.engine) as session:
        plan = load_plan_row(session, plan_code)
        rows = session.execute(
            select(OfferingRow).where(OfferingRow.plan_id == plan.id).order_by(OfferingRow.tranche_id)
        ).scalars().all()
        return [_offering_view(r, plan_code) for r in rows]


# ------------------------------------------------------------------------------ bids


@dataclass(frozen=True, slots=True)
class BidView:
    """One version of a bid level. ``status``: active, amended (replaced by ``replaced_by``), withdrawn."""

    id: int
    investor: str
    rate: Decimal
    amount_yuan: Decimal
    status: str
    submitted_at: datetime
    closed_at: datetime | None
    replaces: int | None


def _bid_view(row: BidRow, investor: str) -> BidView:
    return BidView(row.id, investor, bp_to_rate(row.rate_bp), fen_to_yuan(row.amount_fen), row.status,
                   _aware(row.submitted_at), _aware(row.closed_at) if row.closed_at else None, row.replaces_id)


def _bid(row: BidRow, investor: str) -> Bid:
    return Bid(investor=investor, rate=bp_to_rate(row.rate_bp), amount_yuan=fen_to_yuan(row.amount_fen), seq=row.id,
               time=_aware(row.submitted_at))


def _active_bids(session: Session, offering_id: int, investor_id: int | None = None
                 ) -> list[tuple[BidRow, str]]:
    query = (select(BidRow, InvestorRow.name).join(InvestorRow, InvestorRow.id == BidRow.investor_id)
             .where(BidRow.offering_id == offering_id, BidRow.status == ACTIVE).order_by(BidRow.id))
    if investor_id is not None:
        query = query.where(BidRow.investor_id == investor_id)
    return [(row, name) for row, name in session.execute(query).all()]


@dataclass(frozen=True, slots=True)
class BidInput:
    """A bid to submit: investor name, rate (fraction), amount (yuan of face); ``row`` its source line if any."""

    investor: str
    rate: Decimal
    amount_yuan: Decimal
    row: int | None = None


def _check_open(offering: OfferingRow, now: datetime, plan_code: str) -> None:
    if offering.status != OPEN:
        raise Conflict(f"the book of {plan_code} tranche {offering.tranche_id} is {offering.status}; bids are closed")
    if now < _aware(offering.bid_open):
        raise Conflict(f"the book of {plan_code} tranche {offering.tranche_id} opens at "
                       f"{_aware(offering.bid_open).isoformat()}")
    if now >= _aware(offering.bid_close):
        raise Conflict(f"the book of {plan_code} tranche {offering.tranche_id} closed at "
                       f"{_aware(offering.bid_close).isoformat()}; bids can no longer change")


def _always(answer: bool) -> Callable[[str], bool]:
    def is_qualified(_name: str) -> bool:
        return answer
    return is_qualified


def _validate_investor_bids(terms: Offering, own: list[Bid], investor: InvestorRow) -> None:
    issues = validate_bids(terms, own, is_qualified=_always(investor.qualified))
    if issues:
        raise ValidationFailed(issues)


def _log_bid(session: Session, ctx: Context, kind: str, plan_code: str, offering: OfferingRow, row: BidRow,
             investor: str, now: datetime) -> None:
    append_event(session, entry_type=f"book.bid_{kind}", plan_code=plan_code, recorded_at=now, payload={
        "tranche_id": offering.tranche_id, "bid_id": row.id, "investor": investor, "rate": str(bp_to_rate(row.rate_bp)),
        "amount": format_yuan(row.amount_fen), "replaces": row.replaces_id, "status": row.status,
    })


def submit_bids(ctx: Context, plan_code: str, tranche_id: str, bids: Sequence[BidInput]) -> list[BidView]:
    """Submit rate levels (申购) now (``_now(ctx)``), all or nothing; every problem at once.

    Each level is checked with the investor's other active levels: rate range and step,
    lot multiple, minimum, window, qualified investor, duplicate level, level count,
    cumulative amounts not falling, cap.
    """
    _require_bidding(ctx, plan_code, [b.investor for b in bids])
    now = _now(ctx)
    with transaction(ctx.engine) as session:
        _, offering = _load_offering(session, plan_code, tranche_id, for_update=True)
        _check_open(offering, now, plan_code)
        terms = _offering_terms(offering)
        by_name: dict[str, InvestorRow] = {}
        issues: list[Issue] = []
        for i, b in enumerate(bids):
            if b.investor not in by_name:
                found_row = session.execute(
                    select(InvestorRow).where(InvestorRow.name == b.investor)).scalar_one_or_none()
                if found_row is None:
                    issues.append(Issue("unknown_investor", f"no registered investor named {b.investor!r}",
                                        Location(row=b.row, column="investor", field_path=f"bids[{i}].investor"),
                                        b.investor))
                    continue
                by_name[b.investor] = found_row
        if issues:
            raise ValidationFailed(issues)
        grouped: dict[str, list[Bid]] = defaultdict(list)
        for name, investor in by_name.items():
            grouped[name] = [_bid(r, name) for r, _ in _active_bids(session, offering.id, investor.id)]
        for b in bids:
            grouped[b.investor].append(Bid(b.investor, b.rate, b.amount_yuan, seq=-1, time=now, row=b.row))
        for name, own in grouped.items():
            issues.extend(validate_bids(terms, own, is_qualified=_always(by_name[name].qualified)))
        if issues:
            raise ValidationFailed(issues)
        views: list[BidView] = []
        for b in bids:
            bid_row = BidRow(offering_id=offering.id, investor_id=by_name[b.investor].id, rate_bp=_rate_bp(b.rate),
                             amount_fen=yuan_to_fen(b.amount_yuan), status=ACTIVE, submitted_at=now)
            session.add(bid_row)
            session.flush()
            _log_bid(session, ctx, "submitted", plan_code, offering, bid_row, b.investor, now)
            views.append(_bid_view(bid_row, b.investor))
        return views


def submit_bid(ctx: Context, plan_code: str, tranche_id: str, *, investor: str, rate: Decimal,
               amount_yuan: Decimal) -> BidView:
    """Submit one rate level now; see ``submit_bids``."""
    return submit_bids(ctx, plan_code, tranche_id, [BidInput(investor, rate, amount_yuan)])[0]


def _load_active_bid(session: Session, offering: OfferingRow, bid_id: int, *, own: int | None = None
                     ) -> tuple[BidRow, InvestorRow]:
    """The active bid ``bid_id`` of the book; ``own``: an investor user's investor id, whose bids
    alone it may see (another investor's bid answers exactly like a missing one)."""
    row = session.get(BidRow, bid_id)
    if row is None or row.offering_id != offering.id or (own is not None and row.investor_id != own):
        raise NotFound(f"no bid {bid_id} in this book")
    if row.status != ACTIVE:
        raise Conflict(f"bid {bid_id} is {row.status}; only the active version of a bid can change")
    investor = session.get(InvestorRow, row.investor_id)
    assert investor is not None
    return row, investor


def amend_bid(ctx: Context, plan_code: str, tranche_id: str, bid_id: int, *, rate: Decimal | None = None,
              amount_yuan: Decimal | None = None) -> BidView:
    """Replace an active bid level by a new version (before the close). The old version stays in the history.

    The new version's time is now: an amended bid ranks as a new bid for ties at the margin.
    """
    _require_bidding(ctx, plan_code, [])  # an investor user: its own bids only (see _load_active_bid)
    now = _now(ctx)
    with transaction(ctx.engine) as session:
        _, offering = _load_offering(session, plan_code, tranche_id, for_update=True)
        _check_open(offering, now, plan_code)
        old, investor = _load_active_bid(session, offering, bid_id, own=own_investor(ctx))
        new_rate = rate if rate is not None else bp_to_rate(old.rate_bp)
        new_amount = amount_yuan if amount_yuan is not None else fen_to_yuan(old.amount_fen)
        own = [_bid(r, investor.name) for r, _ in _active_bids(session, offering.id, investor.id) if r.id != old.id]
        own.append(Bid(investor.name, new_rate, new_amount, seq=-1, time=now))
        _validate_investor_bids(_offering_terms(offering), own, investor)
        old.status = AMENDED
        old.closed_at = now
        row = BidRow(offering_id=offering.id, investor_id=investor.id, rate_bp=_rate_bp(new_rate),
                     amount_fen=yuan_to_fen(new_amount), status=ACTIVE, replaces_id=old.id, submitted_at=now)
        session.add(row)
        session.flush()
        _log_bid(session, ctx, "amended", plan_code, offering, row, investor.name, now)
        return _bid_view(row, investor.name)


def withdraw_bid(ctx: Context, plan_code: str, tranche_id: str, bid_id: int) -> BidView:
    """Withdraw an active bid level (before the close); it stays in the history as withdrawn."""
    _require_bidding(ctx, plan_code, [])  # an investor user: its own bids only (see _load_active_bid)
    now = _now(ctx)
    with transaction(ctx.engine) as session:
        _, offering = _load_offering(session, plan_code, tranche_id, for_update=True)
        _check_open(offering, now, plan_code)
        row, investor = _load_active_bid(session, offering, bid_id, own=own_investor(ctx))
        remaining = [_bid(r, investor.name) for r, _ in _active_bids(session, offering.id, investor.id)
                     if r.id != row.id]
        if remaining:  # e.g. a cumulative ladder must stay non-decreasing without this level
            _validate_investor_bids(_offering_terms(offering), remaining, investor)
        row.status = WITHDRAWN
        row.closed_at = now
        _log_bid(session, ctx, "withdrawn", plan_code, offering, row, investor.name, now)
        return _bid_view(row, investor.name)


def bid_history(ctx: Context, plan_code: str, tranche_id: str, investor: str | None = None) -> list[BidView]:
    """Every version of every bid of the book (oldest first), optionally of one investor
    (an investor user: its own only)."""
    ctx.require("view", plan_code)
    own = own_investor(ctx)
    with transaction(ctx.engine) as session:
        _, offering = _load_offering(session, plan_code, tranche_id)
        query = (select(BidRow, InvestorRow.name).join(InvestorRow, InvestorRow.id == BidRow.investor_id)
                 .where(BidRow.offering_id == offering.id).order_by(BidRow.id))
        if investor is not None:
            query = query.where(InvestorRow.name == investor)
        if own is not None:
            query = query.where(BidRow.investor_id == own)
        return [_bid_view(row, name) for row, name in session.execute(query).all()]


def active_bids(ctx: Context, plan_code: str, tranche_id: str) -> list[BidView]:
    """The book's active bid levels (an investor user: its own only)."""
    ctx.require("view", plan_code)
    with transaction(ctx.engine) as session:
        _, offering = _load_offering(session, plan_code, tranche_id)
        return [_bid_view(row, name) for row, name in _active_bids(session, offering.id, own_investor(ctx))]


# ------------------------------------------------------------------- book and allocation


def _book(session: Session, offering: OfferingRow) -> tuple[Offering, list[Bid], list[Level]]:
    terms = _offering_terms(offering)
    bids = [_bid(row, name) for row, name in _active_bids(session, offering.id)]
    return terms, bids, to_levels(terms, bids)


def book_summary(ctx: Context, plan_code: str, tranche_id: str) -> BookSummary:
    """标位汇总 of the active bids: per rate level amount and cumulative amount, counts, multiples."""
    ctx.require("view", plan_code)
    with transaction(ctx.engine) as session:
        _, offering = _load_offering(session, plan_code, tranche_id)
        terms, bids, levels = _book(session, offering)
        return summarize(terms, levels, valid_bid_count=len(bids))


def preview_allocation(ctx: Context, plan_code: str, tranche_id: str) -> Allocation:
    """The allocation the active bids would get now (nothing is stored); check ``flags()`` before finalizing.
    Not for investor users: it names every bidder."""
    ctx.require("view", plan_code)
    _refuse_investors(ctx, "the allocation preview", plan_code)
    with transaction(ctx.engine) as session:
        _, offering = _load_offering(session, plan_code, tranche_id)
        terms, bids, levels = _book(session, offering)
        return allocate(terms, levels, valid_bid_count=len(bids))


@dataclass(frozen=True, slots=True)
class AllocationRecord:
    """A final allocation as stored. Amounts in yuan; ``marginal_rate`` a fraction."""

    plan_code: str
    tranche_id: str
    marginal_rate: Decimal | None
    total_demand_yuan: Decimal
    allocated_total_yuan: Decimal
    shortfall_yuan: Decimal
    total_multiple: str
    marginal_multiple: str | None
    undersubscribed: bool
    valid_bid_count: int
    holder_count: int
    input_sha256: str
    allocations: tuple[tuple[str, Decimal, Decimal], ...]  # (investor, bid yuan, allocated yuan), by investor
    created_at: datetime


def _input_digest(terms: Offering, bids: Sequence[Bid]) -> str:
    canonical = {
        "size": str(terms.size_yuan), "lot": str(terms.lot_yuan), "convention": terms.convention.value,
        "bids": [[b.seq, b.investor, str(b.rate), str(b.amount_yuan), b.time.isoformat() if b.time else None]
                 for b in sorted(bids, key=lambda b: b.seq)],
    }
    text = json.dumps(canonical, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _record(plan_code: str, tranche_id: str, run: AllocationRunRow, names: dict[int, str]) -> AllocationRecord:
    lines = sorted(((names[line.investor_id], fen_to_yuan(line.bid_fen), fen_to_yuan(line.allocated_fen))
                    for line in run.lines), key=lambda t: t[0])
    return AllocationRecord(
        plan_code=plan_code, tranche_id=tranche_id,
        marginal_rate=bp_to_rate(run.marginal_rate_bp) if run.marginal_rate_bp is not None else None,
        total_demand_yuan=fen_to_yuan(run.total_demand_fen), allocated_total_yuan=fen_to_yuan(run.allocated_total_fen),
        shortfall_yuan=fen_to_yuan(run.shortfall_fen), total_multiple=run.total_multiple,
        marginal_multiple=run.marginal_multiple, undersubscribed=run.undersubscribed,
        valid_bid_count=run.valid_bid_count, holder_count=run.holder_count, input_sha256=run.input_sha256,
        allocations=tuple(lines), created_at=_aware(run.created_at),
    )


def _load_run(session: Session, offering_id: int) -> AllocationRunRow | None:
    return session.execute(
        select(AllocationRunRow).where(AllocationRunRow.offering_id == offering_id)
        .options(selectinload(AllocationRunRow.lines))
    ).scalar_one_or_none()


def _investor_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = session.execute(select(InvestorRow.id, InvestorRow.name).where(InvestorRow.id.in_(wanted))).all()
    return {i: n for i, n in rows}


def run_allocation(ctx: Context, plan_code: str, tranche_id: str) -> AllocationRecord:
    """Allocate the book after it closed and make the result final (中标分配); idempotent per offering.

    Refused (nothing changes) before the close, or when the holder limit would be exceeded.
    In one transaction: the allocation run, the issuance result (coupon = marginal rate,
    face issued), the initial holder register, and the ``book.allocated`` log entry.
    Running it again returns the stored result.
    """
    ctx.require("approve", plan_code)
    now = _now(ctx)
    with transaction(ctx.engine) as session:
        plan, offering = _load_offering(session, plan_code, tranche_id, for_update=True)
        existing = _load_run(session, offering.id)
        if existing is not None:
            record = _record(plan_code, tranche_id, existing,
                             _investor_names(session, [line.investor_id for line in existing.lines]))
        else:
            record = _allocate_and_store(session, plan_code, tranche_id, plan, offering, now)
    with contextlib.suppress(PermissionDenied):  # the allocation stands; one who may edit the deal syncs later
        sync_coupon_to_deal(ctx, plan_code, tranche_id)
    return record


def _allocate_and_store(session: Session, plan_code: str, tranche_id: str, plan: PlanRow, offering: OfferingRow,
                        now: datetime) -> AllocationRecord:
    """The allocation of a closed book, stored with its issuance result, holders and log entry (caller's session)."""
    if now < _aware(offering.bid_close):
        raise Conflict(f"the book of {plan_code} tranche {tranche_id} closes at "
                       f"{_aware(offering.bid_close).isoformat()}; allocate after the close")
    terms, bids, levels = _book(session, offering)
    result = allocate(terms, levels, valid_bid_count=len(bids))
    flags = result.flags()
    if flags:
        raise ValidationFailed(flags, "the allocation cannot be made final: " + "; ".join(f.message for f in flags))
    ids = dict(session.execute(select(InvestorRow.name, InvestorRow.id).where(
        InvestorRow.name.in_({b.investor for b in bids}))).tuples().all())
    summary = result.summary
    digest = _input_digest(terms, bids)
    run = AllocationRunRow(
        offering_id=offering.id, input_sha256=digest,
        marginal_rate_bp=_rate_bp(result.marginal_rate) if result.marginal_rate is not None else None,
        total_demand_fen=yuan_to_fen(summary.total_demand_yuan),
        allocated_total_fen=yuan_to_fen(result.allocated_total_yuan),
        shortfall_fen=yuan_to_fen(result.shortfall_yuan),
        total_multiple=multiple_text(summary.total_multiple),
        marginal_multiple=(multiple_text(summary.marginal_multiple)
                           if summary.marginal_multiple is not None else None),
        undersubscribed=result.undersubscribed, valid_bid_count=summary.valid_bid_count,
        holder_count=result.holder_count, created_at=now,
    )
    run.lines = [AllocationLineRow(investor_id=ids[a.investor], bid_fen=yuan_to_fen(a.bid_yuan),
                                   allocated_fen=yuan_to_fen(a.allocated_yuan)) for a in result.by_investor]
    session.add(run)
    offering.status = ALLOCATED
    session.add(IssuanceResultRow(
        plan_id=plan.id, tranche_id=tranche_id, offering_id=offering.id, coupon_bp=run.marginal_rate_bp,
        issued_fen=run.allocated_total_fen, settled_at=now,
    ))
    for a in result.by_investor:
        session.add(HolderRow(plan_id=plan.id, tranche_id=tranche_id, investor_id=ids[a.investor],
                              face_fen=yuan_to_fen(a.allocated_yuan), since=now))
    session.flush()
    append_event(session, entry_type="book.allocated", plan_code=plan_code, recorded_at=now,
                 business_date=_aware(offering.bid_close).date(), payload={
        "tranche_id": tranche_id, "security_name": offering.security_name,
        "security_code": offering.security_code,
        "marginal_rate": str(result.marginal_rate) if result.marginal_rate is not None else None,
        "size": format_yuan(offering.size_fen), "total_demand": format_yuan(run.total_demand_fen),
        "allocated_total": format_yuan(run.allocated_total_fen), "shortfall": format_yuan(run.shortfall_fen),
        "total_multiple": run.total_multiple, "marginal_multiple": run.marginal_multiple,
        "undersubscribed": run.undersubscribed, "valid_bid_count": run.valid_bid_count,
        "input_sha256": digest,
        "allocations": [{"investor": a.investor, "allocated": format_yuan(yuan_to_fen(a.allocated_yuan))}
                        for a in result.by_investor],
    })
    return _record(plan_code, tranche_id, run, {v: k for k, v in ids.items()})


def sync_coupon_to_deal(ctx: Context, plan_code: str, tranche_id: str) -> int | None:
    """Set the issued coupon on the tranche of the plan's deal document (a new deal version); idempotent.

    Does nothing when the tranche has no issuance result or coupon, the plan has no deal
    document, the tranche is not in it or its coupon is not fixed, or the rate is already
    the issued one. Returns the deal version attached, else None. It runs after the
    allocation's own transaction (the deal service keeps its own); ``run_allocation``
    calls it every time, so a failed sync is repaired by allocating again.
    """
    ctx.require("edit", plan_code)
    result = next((r for r in issuance_results(ctx, plan_code) if r.tranche_id == tranche_id), None)
    if result is None or result.coupon is None:
        return None
    try:
        version = deal_service.current_deal_version(ctx, plan_code)
    except NotFound:
        return None
    document = copy.deepcopy(version.document)
    for tranche in document.get("tranches", []):
        coupon = tranche.get("coupon") if isinstance(tranche, dict) else None
        if tranche.get("id") != tranche_id or not isinstance(coupon, dict) or coupon.get("kind") != "fixed":
            continue
        if coupon.get("rate") is not None and Decimal(str(coupon["rate"])) == result.coupon:
            return None
        coupon["rate"] = str(result.coupon)
        attached = deal_service.attach_deal(ctx, plan_code, json.dumps(document, ensure_ascii=False))
        return attached.version
    return None


def allocation_record(ctx: Context, plan_code: str, tranche_id: str) -> AllocationRecord:
    """The final allocation of the tranche, or NotFound when it has not been made. An investor user
    gets the totals and its own line only."""
    ctx.require("view", plan_code)
    own = own_investor(ctx)
    with transaction(ctx.engine) as session:
        _, offering = _load_offering(session, plan_code, tranche_id)
        run = _load_run(session, offering.id)
        if run is None:
            raise NotFound(f"the book of {plan_code} tranche {tranche_id} has not been allocated")
        record = _record(plan_code, tranche_id, run, _investor_names(session, [x.investor_id for x in run.lines]))
        if own is None:
            return record
        names = _investor_names(session, [own])
        return dataclasses.replace(record, allocations=tuple(a for a in record.allocations if a[0] in names.values()))


# ------------------------------------------------------------ results flowing back


@dataclass(frozen=True, slots=True)
class IssuanceResult:
    """The outcome of issuance for one tranche: coupon (fraction, None for an empty book) and face issued."""

    plan_code: str
    tranche_id: str
    security_name: str
    security_code: str | None
    coupon: Decimal | None
    issued_yuan: Decimal
    size_yuan: Decimal
    term_months: int | None
    settled_at: datetime


def issuance_results(ctx: Context, plan_code: str) -> list[IssuanceResult]:
    """Issuance results of the plan's tranches (by tranche id): what other areas read the coupon from."""
    ctx.require("view", plan_code)
    with transaction(ctx.engine) as session:
        plan = load_plan_row(session, plan_code)
        rows = session.execute(
            select(IssuanceResultRow, OfferingRow).join(OfferingRow, OfferingRow.id == IssuanceResultRow.offering_id)
            .where(IssuanceResultRow.plan_id == plan.id).order_by(IssuanceResultRow.tranche_id)
        ).all()
        return [
            IssuanceResult(plan_code, r.tranche_id, o.security_name, o.security_code,
                           bp_to_rate(r.coupon_bp) if r.coupon_bp is not None else None, fen_to_yuan(r.issued_fen),
                           fen_to_yuan(o.size_fen), o.term_months, _aware(r.settled_at))
            for r, o in rows
        ]


@dataclass(frozen=True, slots=True)
class Holder:
    tranche_id: str
    investor: str
    face_yuan: Decimal


def holders(ctx: Context, plan_code: str, tranche_id: str | None = None) -> list[Holder]:
    """The holder register (持有人名册) of the plan, by tranche then investor (an investor user: its own)."""
    ctx.require("view", plan_code)
    own = own_investor(ctx)
    with transaction(ctx.engine) as session:
        plan = load_plan_row(session, plan_code)
        query = (select(HolderRow, InvestorRow.name).join(InvestorRow, InvestorRow.id == HolderRow.investor_id)
                 .where(HolderRow.plan_id == plan.id))
        if own is not None:
            query = query.where(HolderRow.investor_id == own)
        if tranche_id is not None:
            query = query.where(HolderRow.tranche_id == tranche_id)
        rows = session.execute(query).all()
        return sorted((Holder(h.tranche_id, name, fen_to_yuan(h.face_fen)) for h, name in rows),
                      key=lambda h: (h.tranche_id, h.investor))


# -------------------------------------------------------------------- notices


def _manager_name(plan: PlanRow) -> str:
    for party in plan.parties:
        if party.role == PartyRole.PLAN_MANAGER.value:
            return party.name
    return "计划管理人"


def payment_notices(ctx: Context, plan_code: str, tranche_id: str) -> list[PaymentNotice]:
    """One notice per allocated investor (by investor name), from the final allocation (an investor
    user: its own notice only, numbered as in the full set)."""
    ctx.require("view", plan_code)
    own = own_investor(ctx)
    now = _now(ctx)
    with transaction(ctx.engine) as session:
        plan, offering = _load_offering(session, plan_code, tranche_id)
        run = _load_run(session, offering.id)
        if run is None:
            raise NotFound(f"the book of {plan_code} tranche {tranche_id} has not been allocated; no notices yet")
        investors = {r.id: r for r in session.execute(
            select(InvestorRow).where(InvestorRow.id.in_([x.investor_id for x in run.lines]))).scalars()}
        coupon = bp_to_rate(run.marginal_rate_bp) if run.marginal_rate_bp is not None else Decimal(0)
        manager = _manager_name(plan)
        lines = sorted(run.lines, key=lambda x: investors[x.investor_id].name)
        notices = []
        for number, line in enumerate(lines, start=1):
            if own is not None and line.investor_id != own:
                continue
            investor = investors[line.investor_id]
            face = fen_to_yuan(line.allocated_fen)
            notices.append(PaymentNotice(
                notice_no=f"{plan_code}-{tranche_id}-{number:03d}", plan_code=plan_code, plan_name=plan.name,
                manager_name=manager, investor=investor.name, investor_credit_code=investor.credit_code,
                security_name=offering.security_name, security_code=offering.security_code or "",
                tranche_id=tranche_id, size_yuan=fen_to_yuan(offering.size_fen), term_months=offering.term_months,
                coupon=coupon, allocated_face_yuan=face, issue_price=Decimal(100), amount_due_yuan=amount_due(face),
                payment_deadline=_aware(offering.payment_deadline), payee_name=offering.payee_name,
                payee_bank=offering.payee_bank, payee_account=offering.payee_account, issued_at=now,
            ))
        return notices


@dataclass(frozen=True, slots=True)
class IssuedNotices:
    """Files written for an offering's notices and their SHA-256 (also in the log entry)."""

    directory: Path
    files: list[tuple[str, str]] = field(default_factory=list)  # (file name, sha256)
    missing_glyphs: list[str] = field(default_factory=list)


def _safe_file_part(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text)[:60]


def issue_notices(ctx: Context, plan_code: str, tranche_id: str, out_dir: Path,
                  formats: Sequence[str] = ("pdf", "xlsx")) -> IssuedNotices:
    """Write each investor's notice (PDF and/or XLSX) and a register XLSX into ``out_dir``; log their hashes."""
    ctx.require("download", plan_code)
    unknown = [f for f in formats if f not in ("pdf", "xlsx")]
    if unknown:
        raise ValidationFailed([Issue("unknown_format", f"unknown notice format {f!r}; pdf or xlsx",
                                      Location(field_path="formats"), f) for f in unknown])
    notices = payment_notices(ctx, plan_code, tranche_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    issued = IssuedNotices(directory=out_dir)
    outputs: list[tuple[str, bytes]] = []
    for n in notices:
        stem = f"{n.notice_no}_{_safe_file_part(n.investor)}"
        if "pdf" in formats:
            outputs.append((f"{stem}.pdf", notice_pdf(n)))
            issued.missing_glyphs.extend(sorted(missing_glyphs(n.investor + n.plan_name + n.payee_bank)))
        if "xlsx" in formats:
            outputs.append((f"{stem}.xlsx", notice_xlsx(n)))
    if "xlsx" in formats:
        outputs.append((f"{plan_code}-{tranche_id}_配售结果汇总.xlsx", notices_register_xlsx(notices)))
    for name, data in outputs:
        (out_dir / name).write_bytes(data)
        issued.files.append((name, hashlib.sha256(data).hexdigest()))
    now = _now(ctx)
    with transaction(ctx.engine) as session:
        append_event(session, entry_type="book.notices_issued", plan_code=plan_code, recorded_at=now, payload={
            "tranche_id": tranche_id, "files": [{"name": n, "sha256": h} for n, h in issued.files
                                                if n.endswith(".pdf") or n.endswith(".xlsx")],
        })
    return issued


# -------------------------------------------------------------------- payments


@dataclass(frozen=True, slots=True)
class PaymentStatus:
    """An investor's payment position for an offering (yuan)."""

    investor: str
    due_yuan: Decimal
    paid_yuan: Decimal
    reconciled_yuan: Decimal
    outstanding_yuan: Decimal
    state: PaymentState


def record_payment(ctx: Context, plan_code: str, tranche_id: str, *, investor: str, amount_yuan: Decimal,
                   reference: str, received_at: datetime | None = None) -> PaymentStatus:
    """Record money received (缴款) under a bank reference; the same reference twice is a no-op."""
    ctx.require("edit", plan_code)
    issues = []
    if amount_yuan <= 0 or amount_yuan != amount_yuan.quantize(Decimal("0.01")):
        issues.append(Issue("amount_invalid", "a payment is a positive amount in yuan and fen",
                            Location(field_path="amount"), str(amount_yuan)))
    if not reference.strip():
        issues.append(Issue("required", "a payment needs its bank reference", Location(field_path="reference")))
    if issues:
        raise ValidationFailed(issues)
    now = _now(ctx)
    with transaction(ctx.engine) as session:
        _, offering = _load_offering(session, plan_code, tranche_id, for_update=True)
        if offering.status != ALLOCATED:
            raise Conflict(f"the book of {plan_code} tranche {tranche_id} has not been allocated; nothing is due")
        inv = _load_investor(session, investor)
        existing = session.execute(select(PaymentRow).where(
            PaymentRow.offering_id == offering.id, PaymentRow.reference == reference)).scalar_one_or_none()
        if existing is not None:
            if existing.investor_id != inv.id or existing.amount_fen != yuan_to_fen(amount_yuan):
                raise Conflict(f"payment reference {reference!r} is already recorded with another investor or amount")
        else:
            row = PaymentRow(offering_id=offering.id, investor_id=inv.id, amount_fen=yuan_to_fen(amount_yuan),
                             reference=reference, received_at=(received_at or now).astimezone(UTC), reconciled=False)
            session.add(row)
            session.flush()
            append_event(session, entry_type="book.payment_recorded", plan_code=plan_code, recorded_at=now, payload={
                "tranche_id": tranche_id, "investor": investor, "amount": format_yuan(row.amount_fen),
                "reference": reference,
            })
        return _statuses(session, offering, only=inv.id)[0]


def reconcile_payment(ctx: Context, plan_code: str, tranche_id: str, reference: str) -> PaymentStatus:
    """Mark a recorded payment as matched to the bank statement (对账); idempotent."""
    ctx.require("edit", plan_code)
    now = _now(ctx)
    with transaction(ctx.engine) as session:
        _, offering = _load_offering(session, plan_code, tranche_id, for_update=True)
        row = session.execute(select(PaymentRow).where(
            PaymentRow.offering_id == offering.id, PaymentRow.reference == reference)).scalar_one_or_none()
        if row is None:
            raise NotFound(f"no payment with reference {reference!r} in this book")
        if not row.reconciled:
            row.reconciled = True
            row.reconciled_at = now
            append_event(session, entry_type="book.payment_reconciled", plan_code=plan_code, recorded_at=now,
                         payload={"tranche_id": tranche_id, "reference": reference,
                                  "amount": format_yuan(row.amount_fen)})
        return _statuses(session, offering, only=row.investor_id)[0]


def _statuses(session: Session, offering: OfferingRow, only: int | None = None) -> list[PaymentStatus]:
    run = _load_run(session, offering.id)
    due: dict[int, int] = {}
    if run is not None:
        due = {line.investor_id: yuan_to_fen(amount_due(fen_to_yuan(line.allocated_fen))) for line in run.lines}
    paid: dict[int, int] = defaultdict(int)
    reconciled: dict[int, int] = defaultdict(int)
    for investor_id, amount, is_reconciled in session.execute(
            select(PaymentRow.investor_id, func.sum(PaymentRow.amount_fen), PaymentRow.reconciled)
            .where(PaymentRow.offering_id == offering.id).group_by(PaymentRow.investor_id, PaymentRow.reconciled)):
        paid[investor_id] += int(amount)
        if is_reconciled:
            reconciled[investor_id] += int(amount)
    ids = set(due) | set(paid)
    if only is not None:
        ids = {only}
    names = _investor_names(session, ids)
    out = [
        PaymentStatus(names[i], fen_to_yuan(due.get(i, 0)), fen_to_yuan(paid[i]), fen_to_yuan(reconciled[i]),
                      fen_to_yuan(max(due.get(i, 0) - paid[i], 0)), payment_state(due.get(i, 0), paid[i]))
        for i in ids
    ]
    return sorted(out, key=lambda s: s.investor)


def payment_statuses(ctx: Context, plan_code: str, tranche_id: str) -> list[PaymentStatus]:
    """Paid / partly paid / unpaid (and reconciled amounts) for every allocated or paying investor
    (an investor user: its own)."""
    ctx.require("view", plan_code)
    own = own_investor(ctx)
    with transaction(ctx.engine) as session:
        _, offering = _load_offering(session, plan_code, tranche_id)
        statuses = _statuses(session, offering)
        if own is None:
            return statuses
        names = set(_investor_names(session, [own]).values())
        return [x for x in statuses if x.investor in names]


# -------------------------------------------------------------------- forecast


def forecast(ctx: Context, plan_code: str, tranche_id: str, *, comparables: Sequence[Comparable] | None = None
             ) -> Forecast:
    """Marginal-rate forecast (边际价格预测) for a tranche from the bids so far, comparable deals and
    the plan's own earlier issuance results; the interval narrows as the book fills and time passes."""
    ctx.require("view", plan_code)
    now = _now(ctx)
    own_history: list[Comparable] = []
    with transaction(ctx.engine) as session:
        plan, offering = _load_offering(session, plan_code, tranche_id)
        terms, _bids, levels = _book(session, offering)
        for r, o in session.execute(
                select(IssuanceResultRow, OfferingRow)
                .join(OfferingRow, OfferingRow.id == IssuanceResultRow.offering_id)
                .where(IssuanceResultRow.plan_id == plan.id, IssuanceResultRow.tranche_id != tranche_id)).all():
            if r.coupon_bp is None:
                continue
            own_history.append(Comparable(
                name=f"{plan_code} {o.security_name}", originator=_originator(plan), coupon=bp_to_rate(r.coupon_bp),
                size_yuan=fen_to_yuan(o.size_fen), term_months=o.term_months, value_date=_aware(r.settled_at).date(),
                own_plan=True,
            ))
        bid_open, bid_close = _aware(offering.bid_open), _aware(offering.bid_close)
        term = offering.term_months
        originator = _originator(plan)
    window = (bid_close - bid_open).total_seconds()
    progress = min(max((now - bid_open).total_seconds() / window, 0.0), 1.0) if window > 0 else 1.0
    return forecast_marginal_rate(
        terms, levels, comparables=list(comparables if comparables is not None else MARGIN_LOAN_DEALS) + own_history,
        issue_date=bid_close.date(), term_months=term, originator=originator,
        progress=Decimal(str(round(progress, 4))),
    )


def _originator(plan: PlanRow) -> str | None:
    for party in plan.parties:
        if party.role == PartyRole.ORIGINATOR.value:
            return party.name
    return None


def allocation_json(record: AllocationRecord) -> dict[str, Any]:
    """A stored allocation for JSON (amounts in yuan as strings, rates as percent strings)."""
    return {
        "plan_code": record.plan_code, "tranche_id": record.tranche_id,
        "marginal_rate": percent_text(record.marginal_rate) if record.marginal_rate is not None else None,
        "total_demand": str(record.total_demand_yuan), "allocated_total": str(record.allocated_total_yuan),
        "shortfall": str(record.shortfall_yuan), "total_multiple": record.total_multiple,
        "marginal_multiple": record.marginal_multiple, "undersubscribed": record.undersubscribed,
        "valid_bid_count": record.valid_bid_count, "holder_count": record.holder_count,
        "input_sha256": record.input_sha256,
        "allocations": [{"investor": n, "bid": str(b), "allocated": str(a)} for n, b, a in record.allocations],
    }
