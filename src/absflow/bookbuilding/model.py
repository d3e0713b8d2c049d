"""Offerings and bids: the inputs of a book (发行簿记).

Units: face amounts are ``Decimal`` yuan; rates are fractions (0.027 = 2.70%) quoted to
0.01% (one basis point); times are aware datetimes. Inside the allocation amounts become
integer lots and rates integer basis points, so every sum is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache

#: One lot (一手) of face by default: 100万元.
DEFAULT_LOT_YUAN = Decimal("1000000")
#: Rates are quoted to 0.01% = one basis point.
RATE_STEP = Decimal("0.0001")
#: A security may have at most this many holders (qualified-investor offering rules).
DEFAULT_HOLDER_LIMIT = 200


class Convention(StrEnum):
    """How the amounts of an investor's rate levels are read.

    incremental (边际/增量): each level's amount is extra demand at that rate.
    cumulative (累计): each level's amount is the investor's total demand if the coupon is
    at or above that rate, so amounts may not fall as the rate rises.
    """

    INCREMENTAL = "incremental"
    CUMULATIVE = "cumulative"


@dataclass(frozen=True, slots=True)
class Offering:
    """The terms a book is run on (one security / tranche).

    ``size_yuan`` and ``minimum_yuan`` must be whole multiples of ``lot_yuan``.
    ``rate_min``/``rate_max`` bound acceptable bid rates (fractions, inclusive).
    ``bid_open``/``bid_close`` bound bid times when given (open inclusive, close exclusive).
    ``max_levels`` caps the rate levels per investor; ``cap_yuan`` caps an investor's
    total demand (its largest cumulative amount); None means no cap.
    """

    size_yuan: Decimal
    rate_min: Decimal
    rate_max: Decimal
    convention: Convention = Convention.INCREMENTAL
    lot_yuan: Decimal = DEFAULT_LOT_YUAN
    minimum_yuan: Decimal = DEFAULT_LOT_YUAN
    bid_open: datetime | None = None
    bid_close: datetime | None = None
    max_levels: int | None = None
    cap_yuan: Decimal | None = None
    holder_limit: int = DEFAULT_HOLDER_LIMIT


@dataclass(frozen=True, slots=True)
class Bid:
    """One rate level (标位) of one investor.

    ``seq`` orders bids that came in at the same time (the row of a file, the id of a
    stored bid): lower came first. ``row`` is the source line for error messages.
    """

    investor: str
    rate: Decimal
    amount_yuan: Decimal
    seq: int
    time: datetime | None = None
    row: int | None = None


def rate_to_bp(rate: Decimal) -> int:
    """Fraction → integer basis points; precondition: ``rate`` is a whole number of bp."""
    return int(rate / RATE_STEP)


@lru_cache(maxsize=8192)
def bp_to_rate(rate_bp: int) -> Decimal:
    """Integer basis points → fraction with four decimals (27 bp… 270 bp → Decimal('0.0270'))."""
    return (Decimal(rate_bp) * RATE_STEP).quantize(RATE_STEP)


def percent_text(rate: Decimal) -> str:
    """A fraction as percent with two decimals: Decimal('0.027') → '2.70'."""
    return str((rate * 100).quantize(Decimal("0.01")))
