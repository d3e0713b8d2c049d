"""Marginal-rate forecast (边际价格预测): comparable deals give a prior, the bids so far move it.

Prior: a kernel-weighted mean of comparable coupons — weight falls with the distance in
issue date beyond the nearest comparable's (Gaussian, ``DATE_BANDWIDTH_DAYS``; so a target
past the data leans on the latest deals) and in term (``TERM_BANDWIDTH_MONTHS``);
the plan's own earlier tranches count ``OWN_PLAN_WEIGHT`` times, the same originator
``SAME_ORIGINATOR_WEIGHT`` times; a deal without a known date gets ``UNKNOWN_DATE_WEIGHT``.
Its spread is the weighted standard deviation of those coupons plus a floor.

Book: with the share ``progress`` of the bid window gone (0 at the open, 1 at the close)
and demand assumed to keep arriving with the same rate profile, the final marginal rate is
the lowest rate at which today's cumulative demand reaches ``progress × size``. The
forecast blends prior and book with weight ``progress`` on the book; at the close it is the
book's marginal rate. Once the book is covered its current marginal rate is a hard upper
bound (more bids can only lower it). Everything is clamped to the offering's rate range.
The interval is the central ``COVERAGE`` band of a normal with the blended spread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from absflow.bookbuilding.comparables import Comparable
from absflow.bookbuilding.model import RATE_STEP, Offering, bp_to_rate
from absflow.bookbuilding.validation import Level

DATE_BANDWIDTH_DAYS = 120.0
TERM_BANDWIDTH_MONTHS = 12.0
UNKNOWN_DATE_WEIGHT = 0.05
OWN_PLAN_WEIGHT = 3.0
SAME_ORIGINATOR_WEIGHT = 1.5
#: Spread never below this (fraction): model error that the comparables' scatter misses.
SPREAD_FLOOR = 0.0015
#: Spread of the book's own estimate at the open; it shrinks linearly to 0 at the close.
BOOK_SPREAD_AT_OPEN = 0.0050
COVERAGE = 0.90
_Z = 1.6448536269514722  # two-sided 90%


@dataclass(frozen=True, slots=True)
class Forecast:
    """A forecast marginal rate (fraction, to the basis point) with a ``COVERAGE`` interval."""

    rate: Decimal
    low: Decimal
    high: Decimal
    prior_rate: Decimal
    prior_spread: Decimal
    book_rate: Decimal | None
    book_weight: Decimal
    progress: Decimal
    covered_now: bool
    current_marginal_rate: Decimal | None
    comparables: tuple[tuple[str, Decimal], ...]  # (name, normalized weight), heaviest first


def _to_rate(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(RATE_STEP, rounding=ROUND_HALF_EVEN)


def prior(
    comparables: Sequence[Comparable],
    *,
    issue_date: date | None,
    term_months: int | None,
    originator: str | None = None,
) -> tuple[float, float, list[tuple[str, float]]]:
    """(mean, spread, [(name, weight)]) of the comparable coupons around the target (fractions)."""
    if not comparables:
        raise ValueError("a forecast needs at least one comparable deal")
    weights: list[float] = []
    distances = [abs((issue_date - c.value_date).days) for c in comparables
                 if issue_date is not None and c.value_date is not None]
    nearest = min(distances, default=0)
    for c in comparables:
        w = 1.0
        if issue_date is not None:
            if c.value_date is None:
                w *= UNKNOWN_DATE_WEIGHT
            else:
                days = abs((issue_date - c.value_date).days) - nearest
                w *= math.exp(-0.5 * (days / DATE_BANDWIDTH_DAYS) ** 2)
        if term_months is not None and c.term_months is not None:
            w *= math.exp(-0.5 * ((term_months - c.term_months) / TERM_BANDWIDTH_MONTHS) ** 2)
        if c.own_plan:
            w *= OWN_PLAN_WEIGHT
        if originator is not None and c.originator == originator:
            w *= SAME_ORIGINATOR_WEIGHT
        weights.append(w)
    total = sum(weights)
    if total < 1e-9:  # the target is far from every comparable: fall back to equal weights
        weights = [1.0] * len(comparables)
        total = float(len(comparables))
    coupons = [float(c.coupon) for c in comparables]
    mean = sum(w * x for w, x in zip(weights, coupons, strict=True)) / total
    variance = sum(w * (x - mean) ** 2 for w, x in zip(weights, coupons, strict=True)) / total
    spread = math.sqrt(variance + SPREAD_FLOOR**2)
    named = sorted(((c.name, w / total) for c, w in zip(comparables, weights, strict=True)), key=lambda t: -t[1])
    return mean, spread, named


def _book_rate(offering: Offering, levels: Sequence[Level], share: float) -> tuple[float | None, float | None, bool]:
    """(projected marginal rate, current marginal rate if covered, covered now) from the bids so far."""
    size_lots = int(offering.size_yuan / offering.lot_yuan)
    demand: dict[int, int] = {}
    for level in levels:
        if level.lots > 0:
            demand[level.rate_bp] = demand.get(level.rate_bp, 0) + level.lots
    running = 0
    projected: int | None = None
    current: int | None = None
    for rate_bp in sorted(demand):
        running += demand[rate_bp]
        if projected is None and running >= share * size_lots:
            projected = rate_bp
        if current is None and running >= size_lots:
            current = rate_bp
    as_rate = float(RATE_STEP)
    return (projected * as_rate if projected is not None else None,
            current * as_rate if current is not None else None, current is not None)


def forecast_marginal_rate(
    offering: Offering,
    levels: Sequence[Level],
    *,
    comparables: Sequence[Comparable],
    issue_date: date | None,
    term_months: int | None,
    originator: str | None = None,
    progress: Decimal = Decimal(0),
) -> Forecast:
    """Forecast the final marginal rate of ``offering`` given the bids so far (``levels``).

    ``progress`` is the share of the bid window gone, 0–1 (the service computes it from
    the clock). Preconditions: at least one comparable; ``levels`` valid and incremental.
    """
    p = min(max(float(progress), 0.0), 1.0)
    mean0, spread0, named = prior(comparables, issue_date=issue_date, term_months=term_months, originator=originator)
    book_rate, current, covered = _book_rate(offering, levels, max(p, 1e-6))
    if book_rate is None:
        # demand so far does not reach the projected share of the size: the book points above its
        # highest bid; it tells nothing more precise, so the prior carries on (weight shrinks with the gap)
        weight = 0.0
        mean, spread = mean0, spread0
    else:
        weight = p
        book_spread = BOOK_SPREAD_AT_OPEN * (1.0 - p)
        mean = (1.0 - weight) * mean0 + weight * book_rate
        spread = math.sqrt(((1.0 - weight) * spread0) ** 2 + (weight * book_spread) ** 2)
    low, high = mean - _Z * spread, mean + _Z * spread
    floor_rate, cap_rate = float(offering.rate_min), float(offering.rate_max)
    if current is not None:
        cap_rate = min(cap_rate, current)
    mean = min(max(mean, floor_rate), cap_rate)
    low = min(max(low, floor_rate), mean)
    high = max(min(high, cap_rate), mean)
    return Forecast(
        rate=_to_rate(mean), low=_to_rate(low), high=_to_rate(high), prior_rate=_to_rate(mean0),
        prior_spread=_to_rate(spread0), book_rate=_to_rate(book_rate) if book_rate is not None else None,
        book_weight=Decimal(repr(round(weight, 4))), progress=Decimal(repr(round(p, 4))), covered_now=covered,
        current_marginal_rate=bp_to_rate(round(current / float(RATE_STEP))) if current is not None else None,
        comparables=tuple((name, Decimal(repr(round(w, 4)))) for name, w in named),
    )


@dataclass(frozen=True, slots=True)
class BacktestRow:
    name: str
    actual: Decimal
    predicted: Decimal
    low: Decimal
    high: Decimal

    @property
    def error(self) -> Decimal:
        return self.predicted - self.actual


@dataclass(frozen=True, slots=True)
class Backtest:
    rows: tuple[BacktestRow, ...]
    mean_absolute_error: Decimal
    root_mean_square_error: Decimal
    coverage: Decimal  # share of actual coupons inside the interval


def leave_one_out(comparables: Sequence[Comparable]) -> Backtest:
    """Forecast each deal's coupon from the others (no book: the prior alone) and score it."""
    rows: list[BacktestRow] = []
    wide = Offering(size_yuan=Decimal(1), rate_min=Decimal(0), rate_max=Decimal(1), lot_yuan=Decimal(1),
                    minimum_yuan=Decimal(1))
    for i, deal in enumerate(comparables):
        others = [c for j, c in enumerate(comparables) if j != i]
        f = forecast_marginal_rate(wide, [], comparables=others, issue_date=deal.value_date,
                                   term_months=deal.term_months, originator=deal.originator)
        rows.append(BacktestRow(deal.name, deal.coupon, f.rate, f.low, f.high))
    n = Decimal(len(rows))
    mae = sum((abs(r.error) for r in rows), Decimal(0)) / n
    rmse = Decimal(repr(math.sqrt(float(sum((r.error**2 for r in rows), Decimal(0)) / n))))
    inside = sum(1 for r in rows if r.low <= r.actual <= r.high)
    return Backtest(tuple(rows), mae.quantize(Decimal("0.00001")), rmse.quantize(Decimal("0.00001")),
                    (Decimal(inside) / n).quantize(Decimal("0.001")))
