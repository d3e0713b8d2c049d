"""Bookbuilding for the pages and the API: offerings, book summary, bids, allocation, notices.

Investors see the offering terms, the aggregate book and the issuance results; of the
per-investor rows (bids, allocation lines, notices) an investor user sees those of the
investor entity it is linked to (`absflow user link-investor`), and none when unlinked: the
service functions in ``services.bookbuilding`` filter them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from absflow.domain.issues import NotFound
from absflow.services import bookbuilding as book_service
from absflow.services.context import Context


@dataclass(frozen=True)
class OfferingBook:
    offering: book_service.OfferingView
    summary: Any  # BookSummary
    bids: list[book_service.BidView]
    allocation: book_service.AllocationRecord | None
    notices: list[Any]


def offerings(ctx: Context, plan_code: str) -> list[book_service.OfferingView]:
    return book_service.list_offerings(ctx, plan_code)


def offering_book(ctx: Context, plan_code: str, tranche_id: str) -> OfferingBook:
    """One offering with its book; for an investor user only its own bids, allocation line and notice."""
    offering = book_service.get_offering(ctx, plan_code, tranche_id)
    summary = book_service.book_summary(ctx, plan_code, tranche_id)
    try:
        allocation = book_service.allocation_record(ctx, plan_code, tranche_id)
    except NotFound:
        allocation = None
    notices = book_service.payment_notices(ctx, plan_code, tranche_id) if allocation is not None else []
    return OfferingBook(offering, summary, book_service.active_bids(ctx, plan_code, tranche_id), allocation, notices)


def issuance(ctx: Context, plan_code: str) -> list[book_service.IssuanceResult]:
    return book_service.issuance_results(ctx, plan_code)


def preview_json(ctx: Context, plan_code: str, tranche_id: str) -> dict[str, Any]:
    """`absflow book summary --json`: the book's levels and the allocation the active bids would get now."""
    from absflow.bookbuilding.files import allocation_document, wan_text
    from absflow.bookbuilding.model import percent_text

    result = book_service.preview_allocation(ctx, plan_code, tranche_id)
    s = result.summary
    body: dict[str, Any] = allocation_document(result)
    body["levels"] = [{"rate": percent_text(lv.rate), "amount": wan_text(lv.amount_yuan),
                       "cumulative": wan_text(lv.cumulative_yuan), "bids": lv.bid_count} for lv in s.levels]
    body["valid_bid_count"] = s.valid_bid_count
    body["holder_count"] = result.holder_count
    body["flags"] = [f.as_dict() for f in result.flags()]
    return body


def backtest_json() -> dict[str, Any]:
    """`absflow book backtest --json`: leave-one-out backtest of the forecast prior on the comparable deals."""
    from absflow.bookbuilding.comparables import MARGIN_LOAN_DEALS
    from absflow.bookbuilding.forecast import leave_one_out
    from absflow.bookbuilding.model import percent_text

    result = leave_one_out(MARGIN_LOAN_DEALS)
    rows = [{"deal": r.name, "actual": percent_text(r.actual), "predicted": percent_text(r.predicted),
             "low": percent_text(r.low), "high": percent_text(r.high)} for r in result.rows]
    return {"mean_absolute_error": percent_text(result.mean_absolute_error),
            "root_mean_square_error": percent_text(result.root_mean_square_error),
            "coverage": str(result.coverage), "deals": rows}
