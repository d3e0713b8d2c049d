"""Pricing and risk of dated cash flows, and Excel's plain-bond functions.

Generic analytics (any tranche or flow): present value and price ↔ yield with a named day
count (ACT/365F by default) and compounding frequency, WAL, Macaulay and modified
duration, convexity, principal window, IRR and XIRR, and a breakeven root finder.

Discounting: a cash flow at time ``t`` years (day count from settlement) is worth
``CF / (1 + y/f)^(f·t)``, ``f`` the compounding frequency per year (1 = annual, the
default; Chinese exchange ABS quotes usually compound annually).

Plain-bond functions follow Excel's arguments and semantics: ``bond_price`` = PRICE,
``bond_yield`` = YIELD, ``bond_duration`` = DURATION, ``bond_mduration`` = MDURATION, with
Excel's basis 0 (30/360 US), 1 (actual/actual), 2 (actual/360), 3 (actual/365) and
4 (30E/360). Prices are per 100 of face.
"""

from __future__ import annotations

import calendar
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import numpy as np
from scipy.optimize import brentq

from absflow.domain.daycount import DayCount, days_30_360, days_30e_360, year_fraction

__all__ = [
    "Breakeven",
    "BreakevenStatus",
    "DatedFlow",
    "FlowAnalytics",
    "analyze",
    "bond_duration",
    "bond_mduration",
    "bond_price",
    "bond_yield",
    "breakeven",
    "convexity",
    "irr",
    "macaulay_duration",
    "modified_duration",
    "present_value",
    "price_from_yield",
    "principal_window",
    "wal_years",
    "xirr",
    "yield_from_price",
]


@dataclass(frozen=True, slots=True)
class DatedFlow:
    """One payment: ``interest`` and ``principal`` in yuan (floats inside the engine)."""

    on: date
    interest: float = 0.0
    principal: float = 0.0

    @property
    def amount(self) -> float:
        return self.interest + self.principal


def _times(flows: Sequence[DatedFlow], settlement: date, day_count: DayCount | str) -> np.ndarray:
    return _year_times(settlement, tuple(f.on for f in flows), DayCount(day_count))


@functools.lru_cache(maxsize=256)
def _year_times(settlement: date, dates: tuple[date, ...], day_count: DayCount) -> np.ndarray:
    """Years from ``settlement`` to each date (read-only; a root search asks for the same dates many times)."""
    times = np.array([year_fraction(settlement, d, day_count) for d in dates], dtype=np.float64)
    times.setflags(write=False)
    return times


def _future(flows: Sequence[DatedFlow], settlement: date) -> list[DatedFlow]:
    """Flows strictly after settlement (a flow on the settlement date belongs to the seller)."""
    return [f for f in flows if f.on > settlement]


def _future_arrays(
    flows: Sequence[DatedFlow], settlement: date, day_count: DayCount | str
) -> tuple[np.ndarray, np.ndarray]:
    """Times (years) and amounts (yuan) of the flows after ``settlement``; empty arrays when none.

    A root search discounts the same flows at many yields: it reads these once (``_discount``).
    """
    future = _future(flows, settlement)
    if not future:
        empty = np.zeros(0, dtype=np.float64)
        return empty, empty
    return _times(future, settlement, day_count), np.array([f.amount for f in future], dtype=np.float64)


def _discount(t: np.ndarray, amounts: np.ndarray, yield_rate: float, frequency: int) -> np.ndarray:
    """Present values (yuan) of ``amounts`` at times ``t`` (years)."""
    return amounts / (1.0 + yield_rate / frequency) ** (frequency * t)


def _discounted(
    flows: Sequence[DatedFlow], settlement: date, yield_rate: float, day_count: DayCount | str, frequency: int
) -> tuple[np.ndarray, np.ndarray]:
    """Times (years) and present values (yuan) of the flows after ``settlement``; empty arrays when none."""
    t, amounts = _future_arrays(flows, settlement, day_count)
    return t, _discount(t, amounts, yield_rate, frequency)


def present_value(
    flows: Sequence[DatedFlow],
    settlement: date,
    yield_rate: float,
    *,
    day_count: DayCount | str = DayCount.ACT_365F,
    frequency: int = 1,
) -> float:
    """Present value (yuan) at ``settlement`` of the flows after it, at ``yield_rate`` (fraction)."""
    _, pv = _discounted(flows, settlement, yield_rate, day_count, frequency)
    return float(np.sum(pv))


def price_from_yield(
    flows: Sequence[DatedFlow],
    settlement: date,
    yield_rate: float,
    face: float,
    *,
    day_count: DayCount | str = DayCount.ACT_365F,
    frequency: int = 1,
) -> float:
    """Dirty price per 100 of ``face`` (the outstanding principal at settlement, yuan)."""
    if face <= 0:
        raise ValueError("face must be positive")
    return present_value(flows, settlement, yield_rate, day_count=day_count, frequency=frequency) / face * 100.0


def yield_from_price(
    flows: Sequence[DatedFlow],
    settlement: date,
    price: float,
    face: float,
    *,
    day_count: DayCount | str = DayCount.ACT_365F,
    frequency: int = 1,
    low: float = -0.99,
    high: float = 10.0,
) -> float:
    """Yield (fraction) at which the flows are worth ``price`` per 100 of ``face``; brentq in [low, high].

    ``high`` grows tenfold (up to 1e6) while the flows are still worth more than ``price``
    there (a residual tranche bought far below its flows); ValueError when no yield fits.
    """

    if face <= 0:
        raise ValueError("face must be positive")
    t, amounts = _future_arrays(flows, settlement, day_count)

    def gap(y: float) -> float:  # price_from_yield(flows, …, y, face) − price, the flows read once
        return float(np.sum(_discount(t, amounts, y, frequency))) / face * 100.0 - price

    while gap(high) > 0 and high < 1e6:
        high *= 10.0
    if gap(low) * gap(high) > 0:
        raise ValueError(f"no yield in [{low:g}, {high:g}] prices these flows at {price:g}")
    return float(brentq(gap, low, high, xtol=1e-14, rtol=1e-14, maxiter=500))


def wal_years(flows: Sequence[DatedFlow], settlement: date, *, day_count: DayCount | str = DayCount.ACT_365F) -> float:
    """Weighted average life: Σ t·principal / Σ principal, years from ``settlement``."""
    future = _future(flows, settlement)
    principal = np.array([f.principal for f in future], dtype=np.float64)
    total = float(principal.sum())
    if total <= 0:
        return 0.0
    return float(np.sum(_times(future, settlement, day_count) * principal) / total)


def macaulay_duration(
    flows: Sequence[DatedFlow],
    settlement: date,
    yield_rate: float,
    *,
    day_count: DayCount | str = DayCount.ACT_365F,
    frequency: int = 1,
) -> float:
    """Macaulay duration, years: PV-weighted average time of the flows."""
    t, pv = _discounted(flows, settlement, yield_rate, day_count, frequency)
    total = float(pv.sum())
    return float(np.sum(t * pv) / total) if total else 0.0


def modified_duration(
    flows: Sequence[DatedFlow],
    settlement: date,
    yield_rate: float,
    *,
    day_count: DayCount | str = DayCount.ACT_365F,
    frequency: int = 1,
) -> float:
    """Modified duration, years: Macaulay / (1 + y/f)."""
    mac = macaulay_duration(flows, settlement, yield_rate, day_count=day_count, frequency=frequency)
    return mac / (1.0 + yield_rate / frequency)


def convexity(
    flows: Sequence[DatedFlow],
    settlement: date,
    yield_rate: float,
    *,
    day_count: DayCount | str = DayCount.ACT_365F,
    frequency: int = 1,
) -> float:
    """Convexity, years²: (1/P)·d²P/dy² for the compounding ``frequency``."""
    t, pv = _discounted(flows, settlement, yield_rate, day_count, frequency)
    g = 1.0 + yield_rate / frequency
    total = float(pv.sum())
    if not total:
        return 0.0
    return float(np.sum(pv * t * (t + 1.0 / frequency)) / (total * g * g))


def principal_window(flows: Sequence[DatedFlow]) -> tuple[date, date] | None:
    """First and last dates on which principal is paid (None when no principal)."""
    dates = [f.on for f in flows if f.principal > 0]
    return (min(dates), max(dates)) if dates else None


def irr(amounts: Sequence[float], *, low: float = -0.99, high: float = 10.0) -> float:
    """Periodic internal rate of return of ``amounts`` (period 0 first), like Excel's IRR."""
    values = np.asarray(amounts, dtype=np.float64)
    k = np.arange(len(values), dtype=np.float64)

    def npv(r: float) -> float:
        with np.errstate(all="ignore"):
            return float(np.sum(values / (1.0 + r) ** k))

    return float(brentq(npv, low, high, xtol=1e-14, rtol=1e-14, maxiter=500))


def xirr(dates: Sequence[date], amounts: Sequence[float], *, low: float = -0.99, high: float = 10.0) -> float:
    """Annual IRR of dated amounts, Excel's XIRR: Σ CFᵢ / (1 + r)^((dᵢ − d₀)/365) = 0."""
    if len(dates) != len(amounts) or not dates:
        raise ValueError("dates and amounts must be non-empty and of equal length")
    d0 = dates[0]
    t = np.array([(d - d0).days / 365.0 for d in dates], dtype=np.float64)
    values = np.asarray(amounts, dtype=np.float64)

    def npv(r: float) -> float:
        with np.errstate(all="ignore"):
            return float(np.sum(values / (1.0 + r) ** t))

    return float(brentq(npv, low, high, xtol=1e-14, rtol=1e-14, maxiter=500))


@dataclass(frozen=True, slots=True)
class FlowAnalytics:
    """Everything about one tranche's flows at one yield (or price)."""

    price: float  # per 100 of face, dirty
    yield_rate: float  # fraction
    wal_years: float
    macaulay_duration: float
    modified_duration: float
    convexity: float
    principal_window: tuple[date, date] | None


def analyze(
    flows: Sequence[DatedFlow],
    settlement: date,
    face: float,
    *,
    yield_rate: float | None = None,
    price: float | None = None,
    day_count: DayCount | str = DayCount.ACT_365F,
    frequency: int = 1,
) -> FlowAnalytics:
    """Price from yield (or yield from price) and the risk measures; give exactly one of the two."""
    if (yield_rate is None) == (price is None):
        raise ValueError("give exactly one of yield_rate and price")
    if yield_rate is None:
        assert price is not None
        yield_rate = yield_from_price(flows, settlement, price, face, day_count=day_count, frequency=frequency)
    else:
        price = price_from_yield(flows, settlement, yield_rate, face, day_count=day_count, frequency=frequency)
    kw = {"day_count": day_count, "frequency": frequency}
    return FlowAnalytics(
        price=price,
        yield_rate=yield_rate,
        wal_years=wal_years(flows, settlement, day_count=day_count),
        macaulay_duration=macaulay_duration(flows, settlement, yield_rate, **kw),  # type: ignore[arg-type]
        modified_duration=modified_duration(flows, settlement, yield_rate, **kw),  # type: ignore[arg-type]
        convexity=convexity(flows, settlement, yield_rate, **kw),  # type: ignore[arg-type]
        principal_window=principal_window(flows),
    )


# ---------------------------------------------------------------------------- breakeven


class BreakevenStatus(StrEnum):
    FOUND = "found"  # the root lies inside [low, high]
    NEVER_BREAKS = "never_breaks"  # the metric stays within the threshold up to ``high``
    ALREADY_BROKEN = "already_broken"  # the metric exceeds the threshold already at ``low``


@dataclass(frozen=True, slots=True)
class Breakeven:
    value: float  # the largest x in [low, high] with metric(x) ≤ threshold (to xtol)
    status: BreakevenStatus


def breakeven(
    metric: Callable[[float], float],
    low: float,
    high: float,
    *,
    threshold: float = 0.005,
    xtol: float = 1e-6,
) -> Breakeven:
    """Largest ``x`` in [low, high] at which ``metric(x)`` (e.g. a tranche's loss in yuan, rising
    with ``x``, a default multiple or a severity) is still ≤ ``threshold`` (default half a fen).

    Root of ``metric(x) − threshold`` by ``scipy.optimize.brentq``; the metric must be
    non-decreasing in ``x``.
    """
    if not low < high:
        raise ValueError("need low < high")
    f_low = metric(low) - threshold
    if f_low > 0:
        return Breakeven(low, BreakevenStatus.ALREADY_BROKEN)
    f_high = metric(high) - threshold
    if f_high <= 0:
        return Breakeven(high, BreakevenStatus.NEVER_BREAKS)
    root = float(brentq(lambda x: metric(x) - threshold, low, high, xtol=xtol, maxiter=200))
    # brentq may land just above the flat zero-loss region; step back inside it
    while root > low and metric(root) - threshold > 0:
        root = max(low, root - xtol)
    return Breakeven(root, BreakevenStatus.FOUND)


# ---------------------------------------------------------------------------- Excel bonds


def _add_months(d: date, months: int, end_of_month: bool) -> date:
    total = d.year * 12 + (d.month - 1) + months
    year, month = divmod(total, 12)
    last = calendar.monthrange(year, month + 1)[1]
    day = last if end_of_month else min(d.day, last)
    return date(year, month + 1, day)


def _coupon_dates(settlement: date, maturity: date, frequency: int) -> tuple[date, date, int]:
    """Previous coupon date, next coupon date and number of coupons left (Excel COUPPCD/COUPNCD/COUPNUM)."""
    if frequency not in (1, 2, 4):
        raise ValueError("frequency must be 1, 2 or 4")
    if not settlement < maturity:
        raise ValueError("settlement must be before maturity")
    step = 12 // frequency
    eom = maturity.day == calendar.monthrange(maturity.year, maturity.month)[1]
    k = 0
    next_coupon = maturity
    previous = _add_months(maturity, -step, eom)
    while previous > settlement:
        k += 1
        next_coupon = previous
        previous = _add_months(maturity, -step * (k + 1), eom)
    return previous, next_coupon, k + 1


def _coupon_days(settlement: date, maturity: date, frequency: int, basis: int) -> tuple[float, float, float, int]:
    """(A, DSC, E, N): days accrued, days settlement → next coupon, days in the period, coupons left."""
    pcd, ncd, n = _coupon_dates(settlement, maturity, frequency)
    if basis == 0:
        a = float(days_30_360(pcd, settlement))
        e = 360.0 / frequency
        dsc = e - a
    elif basis == 4:
        a = float(days_30e_360(pcd, settlement))
        e = 360.0 / frequency
        dsc = e - a
    elif basis in (1, 2, 3):
        a = float((settlement - pcd).days)
        dsc = float((ncd - settlement).days)
        e = {1: float((ncd - pcd).days), 2: 360.0 / frequency, 3: 365.0 / frequency}[basis]
    else:
        raise ValueError("basis must be 0, 1, 2, 3 or 4")
    return a, dsc, e, n


def bond_price(
    settlement: date, maturity: date, rate: float, yld: float, redemption: float, frequency: int, basis: int = 0
) -> float:
    """Excel PRICE: clean price per 100 face of a bond paying ``rate`` (fraction) ``frequency`` times a year."""
    a, dsc, e, n = _coupon_days(settlement, maturity, frequency, basis)
    coupon = 100.0 * rate / frequency
    accrued = coupon * a / e
    if n == 1:
        return (redemption + coupon) / (1.0 + dsc / e * yld / frequency) - accrued
    g = 1.0 + yld / frequency
    k = np.arange(1, n + 1, dtype=np.float64)
    coupons = float(np.sum(coupon / g ** (k - 1.0 + dsc / e)))
    return float(redemption / g ** (n - 1.0 + dsc / e) + coupons - accrued)


def bond_yield(
    settlement: date, maturity: date, rate: float, pr: float, redemption: float, frequency: int, basis: int = 0
) -> float:
    """Excel YIELD: the yield (fraction) at which ``bond_price`` equals ``pr``."""
    a, dsc, e, n = _coupon_days(settlement, maturity, frequency, basis)
    if n == 1:
        coupon = rate / frequency
        dirty = pr / 100.0 + a / e * coupon
        return (redemption / 100.0 + coupon - dirty) / dirty * frequency * e / dsc

    def gap(y: float) -> float:
        return bond_price(settlement, maturity, rate, y, redemption, frequency, basis) - pr

    return float(brentq(gap, -frequency * 0.999, 100.0, xtol=1e-15, rtol=1e-15, maxiter=500))


def bond_duration(
    settlement: date, maturity: date, coupon: float, yld: float, frequency: int, basis: int = 0
) -> float:
    """Excel DURATION: Macaulay duration in years of a 100-face bond."""
    _a, dsc, e, n = _coupon_days(settlement, maturity, frequency, basis)
    k = np.arange(1, n + 1, dtype=np.float64)
    periods = k - 1.0 + dsc / e
    flows = np.full(n, 100.0 * coupon / frequency)
    flows[-1] += 100.0
    pv = flows / (1.0 + yld / frequency) ** periods
    return float(np.sum(periods / frequency * pv) / np.sum(pv))


def bond_mduration(
    settlement: date, maturity: date, coupon: float, yld: float, frequency: int, basis: int = 0
) -> float:
    """Excel MDURATION: ``bond_duration / (1 + yld / frequency)``."""
    return bond_duration(settlement, maturity, coupon, yld, frequency, basis) / (1.0 + yld / frequency)
