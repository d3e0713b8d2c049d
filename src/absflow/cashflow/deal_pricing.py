"""Deal-level pricing and risk: per-tranche metrics of a run, subordinate XIRR, breakeven by root finding.

The generic analytics (price ↔ yield, WAL, durations, convexity, principal window, XIRR,
the brentq breakeven helper) are :mod:`absflow.cashflow.pricing`'s; this module turns a
:class:`~absflow.cashflow.runner.DealRun` into their dated flows and asks them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import Any

from absflow.cashflow.periods import BusinessCalendar
from absflow.cashflow.pricing import (
    BreakevenStatus,
    DatedFlow,
    analyze,
    breakeven,
    principal_window,
    wal_years,
    xirr,
)
from absflow.cashflow.projection import LoanArrays
from absflow.cashflow.runner import DealRun, Scenario, run_deal
from absflow.deal import model as m


def tranche_flows(run: DealRun, tranche_id: str) -> list[DatedFlow]:
    """Dated flows of a tranche in yuan: interest (incl. residual/excess return) and principal."""
    return [
        DatedFlow(on, (interest + residual) / 100.0, principal / 100.0)
        for on, interest, principal, residual in run.tranche_cashflows(tranche_id)
        if interest or principal or residual
    ]


@dataclass(frozen=True, slots=True)
class TrancheMetrics:
    tranche_id: str
    price: float  # per 100 of face at settlement, dirty
    yield_rate: float  # fraction, annual compounding (ACT/365F)
    wal_years: float
    macaulay_duration: float
    modified_duration: float
    convexity: float
    principal_window: tuple[date, date] | None
    loss_yuan: float  # principal and interest unpaid at the end of the run
    xirr: float | None  # subordinate tranches: IRR of (−price paid, flows received) on dates

    def as_dict(self) -> dict[str, Any]:
        window = self.principal_window
        return {
            "tranche": self.tranche_id, "price": _num(self.price, 6), "yield": _num(self.yield_rate, 8),
            "wal_years": _num(self.wal_years, 6), "macaulay_duration": _num(self.macaulay_duration, 6),
            "modified_duration": _num(self.modified_duration, 6), "convexity": _num(self.convexity, 6),
            "principal_window": None if window is None else [window[0].isoformat(), window[1].isoformat()],
            "loss": round(self.loss_yuan, 2), "xirr": None if self.xirr is None else round(self.xirr, 8),
        }


def _num(value: float, places: int) -> float | None:
    """Rounded for JSON; None (null) for a figure that does not exist (NaN)."""
    return round(value, places) if math.isfinite(value) else None


def tranche_metrics(run: DealRun, tranche_id: str, *, settlement: date | None = None, price: float | None = None,
                    yield_rate: float | None = None, frequency: int = 1) -> TrancheMetrics:
    """Metrics of one tranche: give ``price`` (per 100) or ``yield_rate``; default: the issue price.

    Settlement defaults to the establishment date; the face is the tranche size.
    """
    tranche = run.deal.tranche(tranche_id)
    settle = settlement or run.deal.dates.establishment
    flows = tranche_flows(run, tranche_id)
    face = float(tranche.size)
    if price is None and yield_rate is None:
        price = float(tranche.issue_price)
    loss = run.tranche_loss_fen(tranche_id) / 100.0
    subordinate = tranche.tranche_class is m.TrancheClass.SUBORDINATE
    if not flows:  # nothing ever paid: worth nothing, a yield (and a subordinate's IRR) of −100%
        return TrancheMetrics(tranche_id, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, None, loss, -1.0 if subordinate else None)
    try:
        a = analyze(flows, settle, face, yield_rate=yield_rate, price=price, frequency=frequency)
    except ValueError:  # no yield prices the flows (e.g. nothing but a tiny residual): yield-based figures are NaN
        nan = float("nan")
        return TrancheMetrics(tranche_id, price if price is not None else nan, nan if yield_rate is None
                              else yield_rate, wal_years(flows, settle), nan, nan, nan, principal_window(flows),
                              loss, None)
    irr: float | None = None
    if subordinate:
        dates = [settle] + [f.on for f in flows]
        amounts = [-face * a.price / 100.0] + [f.amount for f in flows]
        try:
            irr = xirr(dates, amounts)
        except ValueError:
            irr = None
    return TrancheMetrics(tranche_id, a.price, a.yield_rate, a.wal_years, a.macaulay_duration, a.modified_duration,
                          a.convexity, a.principal_window, loss, irr)


def deal_metrics(run: DealRun, *, settlement: date | None = None, prices: dict[str, float] | None = None,
                 yields: dict[str, float] | None = None) -> list[TrancheMetrics]:
    """Metrics of every tranche (at its issue price unless a price or a yield is given for it)."""
    prices, yields = prices or {}, yields or {}
    return [
        tranche_metrics(run, t.id, settlement=settlement, price=prices.get(t.id), yield_rate=yields.get(t.id))
        for t in run.deal.tranches
    ]


class BreakevenVariable(StrEnum):
    DEFAULT_MULTIPLE = "default_multiple"  # × the scenario's CDR
    CDR = "cdr"  # annual default rate
    SEVERITY = "severity"  # loss given default


@dataclass(frozen=True, slots=True)
class BreakevenResult:
    tranche_id: str
    variable: BreakevenVariable
    value: float  # the largest value at which the tranche loses nothing (to the tolerance); see ``status``
    status: BreakevenStatus  # never_breaks: no loss anywhere in [low, high] (value = high, not a breakeven)
    loss_at_value_yuan: float
    runs: int
    low: float = 0.0
    high: float = 0.0


def breakeven_for_tranche(deal: m.Deal, calendar: BusinessCalendar, tranche_id: str, *,
                          scenario: Scenario | None = None,
                          variable: BreakevenVariable = BreakevenVariable.DEFAULT_MULTIPLE,
                          low: float = 0.0, high: float | None = None, xtol: float = 1e-4,
                          loans: LoanArrays | None = None,
                          progress: Callable[[int], None] | None = None) -> BreakevenResult:
    """The largest ``variable`` in [low, high] at which ``tranche_id`` loses nothing (≤ half a fen).

    Each evaluation reruns the whole deal (``progress(runs so far)`` after each); the loss must
    not fall as the variable rises.
    """
    base = scenario or Scenario()
    if variable is BreakevenVariable.DEFAULT_MULTIPLE and base.cdr <= 0 and not base.sda:
        base = replace(base, cdr=0.01)  # a multiple of nothing is nothing: multiples of 1% CDR
    top = high if high is not None else {BreakevenVariable.DEFAULT_MULTIPLE: 100.0, BreakevenVariable.CDR: 1.0,
                                         BreakevenVariable.SEVERITY: 1.0}[variable]
    runs = 0

    def loss(x: float) -> float:
        nonlocal runs
        runs += 1
        if variable is BreakevenVariable.DEFAULT_MULTIPLE:
            trial = replace(base, default_multiple=x)
        elif variable is BreakevenVariable.CDR:
            trial = replace(base, cdr=x, sda=None)
        else:
            trial = replace(base, severity=x)
        lost = run_deal(deal, calendar, trial, loans=loans).tranche_loss_fen(tranche_id) / 100.0
        if progress is not None:
            progress(runs)
        return lost

    found = breakeven(loss, low, top, xtol=xtol)
    return BreakevenResult(tranche_id, variable, found.value, found.status, loss(found.value), runs, low, top)


