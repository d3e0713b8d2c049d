"""Book summary (标位汇总), marginal rate (边际利率) and allocation (中标分配).

Rules (DOMAIN.md, issue 6):
- levels are incremental (cumulative bids were differenced by ``to_levels``), sorted by rate;
- the marginal rate is the lowest rate at which cumulative demand reaches the size;
- bids below it are filled in full; bids at it share what is left pro rata, each share
  rounded down to whole lots, the lots left over going one each by largest remainder,
  ties to the bid that came first (earlier time when every bid at the margin has one,
  else the earlier ``seq``, i.e. the earlier row of a file); the total equals the size and
  nobody gets more than it bid;
- an undersubscribed book fills every bid, its marginal rate is the highest bid rate and
  the shortfall is reported;
- more holders than the offering's holder limit (200) is flagged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from absflow.bookbuilding.model import Offering, bp_to_rate
from absflow.bookbuilding.validation import Level
from absflow.domain.issues import Issue, Location
from absflow.domain.money import largest_remainder


@dataclass(frozen=True, slots=True)
class RateLevel:
    """One row of the book summary: demand at ``rate`` and at or below it (yuan of face)."""

    rate: Decimal
    amount_yuan: Decimal
    cumulative_yuan: Decimal
    bid_count: int


@dataclass(frozen=True, slots=True)
class BookSummary:
    """标位汇总. Multiples are exact ratios (round them only for display)."""

    size_yuan: Decimal
    levels: tuple[RateLevel, ...]
    valid_bid_count: int
    investor_count: int
    total_demand_yuan: Decimal
    highest_rate: Decimal | None
    lowest_rate: Decimal | None
    total_multiple: Decimal
    marginal_rate: Decimal | None
    marginal_multiple: Decimal | None
    undersubscribed: bool


@dataclass(frozen=True, slots=True)
class LevelAllocation:
    """What one bid level got."""

    investor: str
    rate: Decimal
    bid_yuan: Decimal
    allocated_yuan: Decimal
    at_margin: bool
    seq: int


@dataclass(frozen=True, slots=True)
class InvestorAllocation:
    investor: str
    bid_yuan: Decimal
    allocated_yuan: Decimal


@dataclass(frozen=True, slots=True)
class Allocation:
    """The outcome of a book. ``by_investor`` is sorted by investor and lists only those allocated > 0."""

    summary: BookSummary
    marginal_rate: Decimal | None
    allocated_total_yuan: Decimal
    shortfall_yuan: Decimal
    demand_at_margin_yuan: Decimal
    left_for_margin_yuan: Decimal
    by_investor: tuple[InvestorAllocation, ...]
    weighted_allocated_rate: Decimal | None
    holder_count: int
    holder_limit: int
    bid_levels: tuple[Level, ...]
    level_lots: tuple[int, ...]  # lots allocated to each of ``bid_levels``
    lot_yuan: Decimal

    @property
    def levels(self) -> tuple[LevelAllocation, ...]:
        """What each bid level got, in the order of the levels given (built on demand)."""
        lot = self.lot_yuan
        margin = self.marginal_rate
        return tuple(
            LevelAllocation(level.investor, bp_to_rate(level.rate_bp), level.lots * lot, got * lot,
                            margin is not None and bp_to_rate(level.rate_bp) == margin, level.seq)
            for level, got in zip(self.bid_levels, self.level_lots, strict=True)
        )

    @property
    def undersubscribed(self) -> bool:
        return self.summary.undersubscribed

    @property
    def holder_limit_exceeded(self) -> bool:
        return self.holder_count > self.holder_limit

    def flags(self) -> list[Issue]:
        """Problems that must be resolved before the allocation may become final."""
        if not self.holder_limit_exceeded:
            return []
        return [Issue("holder_limit_exceeded",
                      f"{self.holder_count} investors would hold the security; at most {self.holder_limit} are allowed",
                      Location(field_path="allocations"), str(self.holder_count))]


@dataclass(frozen=True, slots=True)
class _Book:
    """Demand aggregated by rate, shared by the summary and the allocation."""

    size_lots: int
    rates_bp: list[int]
    demand_lots: list[int]
    cumulative_lots: list[int]
    bid_counts: list[int]
    margin_index: int | None  # index into rates_bp; None for an empty book
    undersubscribed: bool


def _aggregate(offering: Offering, levels: Sequence[Level]) -> _Book:
    size_lots = int(offering.size_yuan / offering.lot_yuan)
    demand: dict[int, int] = defaultdict(int)
    counts: dict[int, int] = defaultdict(int)
    for level in levels:
        if level.lots > 0:
            demand[level.rate_bp] += level.lots
            counts[level.rate_bp] += 1
    rates = sorted(demand)
    amounts = [demand[r] for r in rates]
    cumulative: list[int] = []
    running = 0
    margin: int | None = None
    for i, amount in enumerate(amounts):
        running += amount
        cumulative.append(running)
        if margin is None and running >= size_lots:
            margin = i
    undersubscribed = margin is None
    if margin is None and rates:
        margin = len(rates) - 1
    return _Book(size_lots, rates, amounts, cumulative, [counts[r] for r in rates], margin, undersubscribed)


def _summary(offering: Offering, levels: Sequence[Level], book: _Book, valid_bid_count: int | None) -> BookSummary:
    lot = offering.lot_yuan
    total_lots = book.cumulative_lots[-1] if book.cumulative_lots else 0
    marginal_rate = bp_to_rate(book.rates_bp[book.margin_index]) if book.margin_index is not None else None
    marginal_multiple: Decimal | None = None
    if not book.undersubscribed and book.margin_index is not None:
        below = book.cumulative_lots[book.margin_index] - book.demand_lots[book.margin_index]
        marginal_multiple = Decimal(book.demand_lots[book.margin_index]) / Decimal(book.size_lots - below)
    return BookSummary(
        size_yuan=offering.size_yuan,
        levels=tuple(
            RateLevel(bp_to_rate(r), a * lot, c * lot, n)
            for r, a, c, n in zip(book.rates_bp, book.demand_lots, book.cumulative_lots, book.bid_counts, strict=True)
        ),
        valid_bid_count=len(levels) if valid_bid_count is None else valid_bid_count,
        investor_count=len({lv.investor for lv in levels if lv.lots > 0}),
        total_demand_yuan=total_lots * lot,
        highest_rate=bp_to_rate(book.rates_bp[-1]) if book.rates_bp else None,
        lowest_rate=bp_to_rate(book.rates_bp[0]) if book.rates_bp else None,
        total_multiple=Decimal(total_lots) / Decimal(book.size_lots),
        marginal_rate=marginal_rate,
        marginal_multiple=marginal_multiple,
        undersubscribed=book.undersubscribed,
    )


def summarize(offering: Offering, levels: Sequence[Level], *, valid_bid_count: int | None = None) -> BookSummary:
    """The book summary (标位汇总) of ``levels``; ``valid_bid_count`` defaults to ``len(levels)``."""
    return _summary(offering, levels, _aggregate(offering, levels), valid_bid_count)


def _first_come_order(levels: Sequence[Level], positions: list[int]) -> list[int]:
    """``positions`` ordered by who came first: time then seq when all have a time, else seq."""
    times = [levels[i].time for i in positions]
    if positions and all(t is not None for t in times):
        stamped: list[tuple[datetime, int, int]] = [
            (t, levels[i].seq, i) for t, i in zip(times, positions, strict=True) if t is not None
        ]
        return [i for _, _, i in sorted(stamped)]
    return sorted(positions, key=lambda i: levels[i].seq)


def allocate(offering: Offering, levels: Sequence[Level], *, valid_bid_count: int | None = None) -> Allocation:
    """Marginal rate and allocation of ``levels`` (valid, incremental) under ``offering``."""
    book = _aggregate(offering, levels)
    summary = _summary(offering, levels, book, valid_bid_count)
    lot = offering.lot_yuan
    allocated_lots: dict[int, int] = {}  # position in ``levels`` → lots
    margin_bp: int | None = None
    demand_at_margin = left = 0
    if book.margin_index is not None:
        margin_bp = book.rates_bp[book.margin_index]
        at_margin: list[int] = []
        for i, level in enumerate(levels):
            if level.lots <= 0:
                continue
            if level.rate_bp < margin_bp:
                allocated_lots[i] = level.lots
            elif level.rate_bp == margin_bp:
                at_margin.append(i)
        demand_at_margin = book.demand_lots[book.margin_index]
        below = book.cumulative_lots[book.margin_index] - demand_at_margin
        left = demand_at_margin if book.undersubscribed else book.size_lots - below
        at_margin = _first_come_order(levels, at_margin)
        shares = largest_remainder(left, [levels[i].lots for i in at_margin])
        for i, share in zip(at_margin, shares, strict=True):
            allocated_lots[i] = share
    get = allocated_lots.get
    level_lots = tuple(get(i, 0) for i in range(len(levels)))
    bid_by_investor: dict[str, int] = defaultdict(int)
    got_by_investor: dict[str, int] = defaultdict(int)
    weighted_bp = 0
    for level, got in zip(levels, level_lots, strict=True):
        if level.lots > 0:
            bid_by_investor[level.investor] += level.lots
        if got:
            got_by_investor[level.investor] += got
            weighted_bp += got * level.rate_bp
    total_lots = sum(got_by_investor.values())
    by_investor = tuple(
        InvestorAllocation(name, bid_by_investor[name] * lot, got_by_investor[name] * lot)
        for name in sorted(got_by_investor)
    )
    return Allocation(
        summary=summary,
        marginal_rate=bp_to_rate(margin_bp) if margin_bp is not None else None,
        allocated_total_yuan=total_lots * lot,
        shortfall_yuan=(book.size_lots - total_lots) * lot,
        demand_at_margin_yuan=demand_at_margin * lot,
        left_for_margin_yuan=left * lot,
        by_investor=by_investor,
        weighted_allocated_rate=Decimal(weighted_bp) / Decimal(total_lots) / Decimal(10000) if total_lots else None,
        holder_count=len(by_investor),
        holder_limit=offering.holder_limit,
        bid_levels=tuple(levels),
        level_lots=level_lots,
        lot_yuan=lot,
    )
