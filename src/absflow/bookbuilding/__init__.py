"""Issuance bookbuilding (发行簿记): offerings, bids, book summary, marginal rate, allocation,
marginal-rate forecast. Pure: no I/O, no clock; see docs/bookbuilding.md."""

from absflow.bookbuilding.allocation import (
    Allocation,
    BookSummary,
    InvestorAllocation,
    LevelAllocation,
    RateLevel,
    allocate,
    summarize,
)
from absflow.bookbuilding.model import DEFAULT_HOLDER_LIMIT, DEFAULT_LOT_YUAN, Bid, Convention, Offering
from absflow.bookbuilding.validation import Level, check_book, to_levels, validate_bids, validate_offering

__all__ = [
    "DEFAULT_HOLDER_LIMIT", "DEFAULT_LOT_YUAN", "Allocation", "Bid", "BookSummary", "Convention", "InvestorAllocation",
    "Level", "LevelAllocation", "Offering", "RateLevel", "allocate", "check_book", "summarize", "to_levels",
    "validate_bids", "validate_offering",
]
