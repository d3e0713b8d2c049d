"""Bookbuilding of a plan: offerings, book summary, bids, allocation, issuance results (read side)."""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from decimal import Decimal
from typing import Any

from fastapi import APIRouter

from absflow.api.deps import ActorCtx
from absflow.services import bookview

router = APIRouter(prefix="/plans/{code}/book", tags=["bookbuilding"])


def plain(value: Any) -> Any:
    """Dataclasses to JSON-ready data; Decimal money and rates as strings."""
    if is_dataclass(value) and not isinstance(value, type):
        return plain(asdict(value))
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value") and not isinstance(value, int | float | str):
        return value.value
    return value


@router.get("/issuance", summary="Issuance results per tranche (coupon, face issued)")
def issuance(ctx: ActorCtx, code: str) -> list[Any]:
    return plain(bookview.issuance(ctx, code))  # type: ignore[no-any-return]


@router.get("/{tranche_id}", summary="One offering: terms, book summary, and (not for investors) bids, "
            "allocation and payment notices")
def offering(ctx: ActorCtx, code: str, tranche_id: str) -> dict[str, Any]:
    book = bookview.offering_book(ctx, code, tranche_id)
    return {"offering": plain(book.offering), "summary": plain(book.summary), "bids": plain(book.bids),
            "allocation": plain(book.allocation), "notices": plain(book.notices)}
