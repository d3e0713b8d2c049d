"""Bookbuilding for the pages and the API: offerings, book summary, bids, allocation, notices.

Investors see the offering terms, the aggregate book and the issuance results, never the
other investors' bids, allocations or notices (a bid book is confidential between the
plan manager and each bidder; absflow has no link from a user to an investor entity, so
investors see no per-investor rows at all).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from absflow.access import Principal, Role
from absflow.domain.issues import NotFound
from absflow.services import bookbuilding as book_service
from absflow.services.context import Context


def sees_bids(ctx: Context) -> bool:
    """Whether the actor may see per-investor rows (bids, allocations, notices)."""
    actor = ctx.actor
    return not (isinstance(actor, Principal) and actor.role is Role.INVESTOR)


@dataclass(frozen=True)
class OfferingBook:
    offering: book_service.OfferingView
    summary: Any  # BookSummary
    bids: list[book_service.BidView] | None
    allocation: book_service.AllocationRecord | None
    notices: list[Any] | None


def offerings(ctx: Context, plan_code: str) -> list[book_service.OfferingView]:
    return book_service.list_offerings(ctx, plan_code)


def offering_book(ctx: Context, plan_code: str, tranche_id: str) -> OfferingBook:
    """One offering with its book; per-investor parts are None for investors."""
    offering = book_service.get_offering(ctx, plan_code, tranche_id)
    summary = book_service.book_summary(ctx, plan_code, tranche_id)
    try:
        allocation = book_service.allocation_record(ctx, plan_code, tranche_id)
    except NotFound:
        allocation = None
    if not sees_bids(ctx):
        return OfferingBook(offering, summary, None, None, None)
    notices = book_service.payment_notices(ctx, plan_code, tranche_id) if allocation is not None else []
    return OfferingBook(offering, summary, book_service.active_bids(ctx, plan_code, tranche_id), allocation, notices)


def issuance(ctx: Context, plan_code: str) -> list[book_service.IssuanceResult]:
    return book_service.issuance_results(ctx, plan_code)
