"""The deal runner: deal + pool + scenario → per-period pool, tranche, account, fee and trigger results.

The pool of a revolving deal (margin-financing receivables, seed 001) is modelled in
aggregate, day by day: each calendar day the balance earns its rate (ACT/365), repays
``payment_rate_monthly`` (converted to a daily rate) and defaults at the scenario's CDR
(converted likewise); a default is liquidated ``recovery_lag_months`` calendar months
after the day it happens (the same day with no lag) and recovers
defaults × (1 − severity); recoveries falling after the last period are not received.
On revolving days (before the interim window of each period, while the deal may
revolve) the collections the purchase mode allows buy new assets at par the same day;
in the window and after the revolving period, collections stay in the collection account.
At the final payment date, end-of-term unsettled assets are repurchased at par when the
deal names that repurchase obligation.

Amortizing pools (rep lines or a tape) are projected loan by loan each month
(:mod:`absflow.cashflow.projection`) and summed into the deal's periods.

Trigger metrics come from the same model in both cases (docs/cashflow.md, "Trigger
metrics"): delinquent balance = ``delinquency_rate`` × the pool's end balance; fund idle
rate = the collections that could have bought assets on revolving days but did not (the
scenario's ``unreinvested_share`` of them), held in the collection account at the payment
date, ÷ (pool + that cash) — the interim window's collections are set aside for the
payment, not idle; ineligible-asset rate = the scenario's ``ineligible_rate`` (the pool
model knows no eligibility criteria).
"""

from __future__ import annotations

import functools
from calendar import monthrange as _monthrange
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from absflow.cashflow.curves import Speed
from absflow.cashflow.periods import BusinessCalendar, Period, build_periods
from absflow.cashflow.waterfall import PeriodResult, PoolPeriod, WaterfallEngine, to_fen
from absflow.deal import model as m
from absflow.deal.document import field_path
from absflow.domain.issues import Issue, Location, ValidationFailed

if TYPE_CHECKING:
    from absflow.cashflow.projection import KernelMemo, LoanArrays


@dataclass(frozen=True, slots=True)
class RatingStep:
    on_or_after: date
    rating: str


@dataclass(frozen=True, slots=True)
class Scenario:
    """Assumptions of one run (rates are fractions; CDR annual; payment rate monthly)."""

    name: str = "base"
    cdr: float = 0.0
    default_multiple: float = 1.0  # multiplies the default speed (cdr or sda; breakeven searches over it)
    cpr: float = 0.0  # annual prepayment rate (amortizing pools)
    recovery_lag_months: int = 0
    severity: float = 0.0
    payment_rate_monthly: float | None = None  # overrides the rep lines'
    pool_rate: float | None = None  # overrides the rep lines' rate
    delinquency_rate: float = 0.0
    ineligible_rate: Decimal = Decimal(0)
    unreinvested_share: float = 0.0  # share of reinvestable revolving-day collections that find no assets
    originator_rating: tuple[RatingStep, ...] = ()
    index_rates: dict[str, Decimal] = field(default_factory=dict)
    psa: float | None = None  # percent of the PSA curve, instead of cpr (amortizing pools)
    sda: float | None = None  # percent of the SDA curve, instead of cdr (amortizing pools)
    rate_shift: float = 0.0  # added to the pool's rates and to every floating coupon's index, fraction

    def default_speed(self) -> Speed:
        """The default speed times ``default_multiple``: SDA when given, else CDR (capped at 100%)."""
        if self.sda is not None:
            return Speed.sda(self.sda * self.default_multiple)
        return Speed.cdr(min(1.0, self.cdr * self.default_multiple))

    def prepayment_speed(self) -> Speed:
        return Speed.psa(self.psa) if self.psa is not None else Speed.cpr(self.cpr)

    def rating_on(self, day: date) -> str | None:
        current = None
        for step in self.originator_rating:
            if step.on_or_after <= day:
                current = step.rating
        return current


class _RatingStepDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on_or_after: date
    rating: str


class ScenarioDoc(BaseModel):
    """Scenario file (YAML/JSON)."""

    model_config = ConfigDict(extra="forbid", title="absflow cash-flow scenario")
    name: str = "base"
    cdr: float = Field(0.0, ge=0, le=1, description="annual constant default rate, fraction of balance")
    default_multiple: float = Field(1.0, ge=0)
    cpr: float = Field(0.0, ge=0, le=1, description="annual prepayment rate (amortizing rep lines)")
    recovery_lag_months: int = Field(0, ge=0)
    severity: float = Field(0.0, ge=0, le=1)
    payment_rate_monthly: float | None = Field(None, gt=0, le=1)
    pool_rate: float | None = Field(None, ge=0)
    delinquency_rate: float = Field(0.0, ge=0, le=1)
    ineligible_rate: Decimal = Field(Decimal(0), ge=0, le=1)
    unreinvested_share: float = Field(0.0, ge=0, le=1, description="share of the collections that could buy "
                                      "assets on revolving days but find none (they wait for the payment date)")
    originator_rating: str | list[_RatingStepDoc] | None = None
    index_rates: dict[str, Decimal] = Field(default_factory=dict)
    psa: float | None = Field(None, ge=0, description="percent of the PSA curve, instead of cpr")
    sda: float | None = Field(None, ge=0, description="percent of the SDA curve, instead of cdr")
    rate_shift: float = Field(0.0, ge=-1, le=1, description="added to pool rates and floating indices, fraction")


def parse_scenario(data: Any) -> Scenario:
    """A Scenario from loaded YAML/JSON (None → the base scenario); problems as ValidationFailed."""
    if data is None:
        return Scenario()
    try:
        doc = ScenarioDoc.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed([
            Issue(e["type"], e["msg"], Location(field_path=field_path(tuple(e["loc"]))),
                  None if isinstance(e.get("input"), dict | list) else str(e.get("input")))
            for e in exc.errors(include_url=False)
        ]) from None
    rating: tuple[RatingStep, ...] = ()
    if isinstance(doc.originator_rating, str):
        rating = (RatingStep(date.min, doc.originator_rating),)
    elif doc.originator_rating:
        rating = tuple(RatingStep(s.on_or_after, s.rating) for s in doc.originator_rating)
    return Scenario(
        name=doc.name, cdr=doc.cdr, default_multiple=doc.default_multiple, severity=doc.severity,
        cpr=doc.cpr, recovery_lag_months=doc.recovery_lag_months,
        payment_rate_monthly=doc.payment_rate_monthly, pool_rate=doc.pool_rate,
        delinquency_rate=doc.delinquency_rate, ineligible_rate=doc.ineligible_rate,
        unreinvested_share=doc.unreinvested_share, originator_rating=rating, index_rates=dict(doc.index_rates),
        psa=doc.psa, sda=doc.sda, rate_shift=doc.rate_shift,
    )


@dataclass
class DealRun:
    """Everything a run produced, period by period."""

    deal: m.Deal
    scenario: Scenario
    periods: list[PeriodResult]

    def tranche_cashflows(self, tranche_id: str) -> list[tuple[date, int, int, int]]:
        """(payment date, interest fen, principal fen, residual fen) for each period."""
        return [
            (r.period.end, r.tranches[tranche_id].interest_paid_fen, r.tranches[tranche_id].principal_paid_fen,
             r.tranches[tranche_id].residual_paid_fen)
            for r in self.periods
        ]

    def tranche_loss_fen(self, tranche_id: str) -> int:
        """Principal never repaid plus interest due and never paid, at the end of the run, fen."""
        last = self.periods[-1].tranches[tranche_id]
        return last.end_balance_fen + last.interest_unpaid_fen


def _daily_rate(annual_or_monthly: float, periods_per_year: float) -> float:
    """Per-day rate equivalent to ``annual_or_monthly`` compounded ``periods_per_year`` times a year."""
    return 1.0 - float((1.0 - annual_or_monthly) ** (periods_per_year / 365.0))


@dataclass
class _AggregatePool:
    balance: float
    rate: float
    daily_repay: float
    daily_default: float
    severity: float
    recovery_lag_months: int = 0
    pending: dict[date, float] = field(default_factory=dict)  # recoveries by the day they are received

    def run_days(self, first: date, days: int, reinvest: Callable[[float, float], float]) -> tuple[
            float, float, float, float, float]:
        """Run the ``days`` calendar days after ``first``; ``reinvest(principal, interest)`` returns what is
        bought back in. Returns (interest, principal, defaults, recoveries, purchases) summed over the days."""
        interest = principal = defaults = recoveries = purchases = 0.0
        balance = self.balance
        for k in range(1, days + 1):
            day = first + timedelta(days=k)
            day_interest = balance * self.rate / 365.0
            day_default = balance * self.daily_default
            day_principal = (balance - day_default) * self.daily_repay
            if day_default:
                due = _add_months(day, self.recovery_lag_months)
                self.pending[due] = self.pending.get(due, 0.0) + day_default * (1.0 - self.severity)
            day_recovery = self.pending.pop(day, 0.0)
            balance -= day_default + day_principal
            bought = reinvest(day_principal + day_recovery, day_interest)
            balance += bought
            purchases += bought
            interest += day_interest
            principal += day_principal
            defaults += day_default
            recoveries += day_recovery
        self.balance = balance
        return interest, principal, defaults, recoveries, purchases


def _check_pool(deal: m.Deal, loans: LoanArrays | None = None) -> bool:
    """True when the pool is revolving lines (aggregate daily model), False for amortizing lines (projection)."""
    if loans is not None:
        from absflow.cashflow.projection import AmortizationKind

        all_revolving = loans.kind is not None and bool(np.all(loans.kind == int(AmortizationKind.REVOLVING)))
        if deal.periods.initial_status is m.DealStatus.REVOLVING and not all_revolving:
            raise ValidationFailed([Issue(
                "pool_not_supported", "a revolving deal's pool is modelled from revolving lines (payment rate); "
                "the plan's loans are not all revolving", Location(field_path="pool.source"), deal.pool.source.value)])
        return all_revolving
    lines = deal.pool.rep_lines
    if deal.pool.source is not m.PoolSource.REP_LINES or not lines:
        raise ValidationFailed([Issue(
            "pool_not_supported", "a plan's or a tape file's pool runs as loan arrays (loans=…): "
            "`absflow cashflow run` reads them (services.dealrun.deal_loans)",
            Location(field_path="pool.source"), deal.pool.source.value)])
    revolving = [r.amortization is m.Amortization.REVOLVING for r in lines]
    if any(revolving) and not all(revolving):
        raise ValidationFailed([Issue(
            "pool_not_supported", "rep lines are either all revolving (payment rate) or all amortizing",
            Location(field_path=f"pool.rep_lines[{i}].amortization"), lines[i].amortization.value)
            for i, rv in enumerate(revolving) if not rv])
    if not all(revolving) and deal.periods.initial_status is m.DealStatus.REVOLVING:
        raise ValidationFailed([Issue(
            "pool_not_supported", "a revolving deal's pool is modelled with revolving rep lines (payment rate)",
            Location(field_path="pool.rep_lines"))])
    return all(revolving)


_KIND_NAMES = {
    m.Amortization.LEVEL_PAYMENT: "level_payment", m.Amortization.EQUAL_PRINCIPAL: "equal_principal",
    m.Amortization.INTEREST_ONLY: "interest_only", m.Amortization.BULLET: "single_payment",
}


def _add_months(start: date, months: int) -> date:
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, _monthrange(year, month)[1]))


@functools.lru_cache(maxsize=64)
def _month_ends(cutoff: date, count: int) -> tuple[date, ...]:
    """Cut-off + 1, 2, … ``count`` months (the projection's month ends; the same for every scenario)."""
    return tuple(_add_months(cutoff, k + 1) for k in range(count))


def static_pool_periods(deal: m.Deal, scenario: Scenario, periods: list[Period],
                        loans: LoanArrays | None = None, memo: KernelMemo | None = None) -> list[PoolPeriod]:
    """Amortizing rep lines projected monthly from the cut-off (loan-level projection), summed into
    the deal's periods: the collections of month k (ending cut-off + k months) belong to the period
    whose payment date is the first on or after that month end. ``memo``: see ``KernelMemo`` (many
    scenarios over the same ``loans``)."""
    from absflow.cashflow.money import pool_to_fen
    from absflow.cashflow.projection import Assumptions, LoanArrays, parse_amortization_kind, project

    lines = deal.pool.rep_lines
    loans = loans if loans is not None else LoanArrays.from_columns(
        balance=[float(r.balance) for r in lines], gross_rate=[float(r.rate) for r in lines],
        net_rate=[float(r.net_rate if r.net_rate is not None else r.rate) for r in lines],
        remaining_term=[r.remaining_term_months or r.term_months for r in lines],
        age=[r.term_months - (r.remaining_term_months or r.term_months) for r in lines],
        kind=[int(parse_amortization_kind(_KIND_NAMES[r.amortization])) for r in lines],
    )
    if scenario.rate_shift:
        loans = memo.with_rate_shift(loans, scenario.rate_shift) if memo is not None else loans.with_rate_shift(
            scenario.rate_shift)
    assumptions = Assumptions(
        prepayment=scenario.prepayment_speed(), default=scenario.default_speed(), severity=scenario.severity,
        recovery_lag_periods=scenario.recovery_lag_months, delinquency=scenario.delinquency_rate,
    )
    pool = pool_to_fen(project(loans, assumptions, memo=memo).pool)  # exact fen, columns add up (largest remainder)
    out: list[PoolPeriod] = []
    month = 0
    begin = pool.begin_balance[0] if pool.periods else 0
    month_ends = _month_ends(deal.dates.cutoff, pool.periods)
    for number, period in enumerate(periods):
        interest = principal = recovery = default = 0
        end = begin
        delinquent = 0
        last = number == len(periods) - 1
        while month < pool.periods and (last or month_ends[month] <= period.end):
            interest += pool.net_interest[month]
            principal += pool.scheduled_principal[month] + pool.prepayment[month]
            recovery += pool.recovery[month]
            default += pool.default[month]
            end = pool.end_balance[month]
            delinquent = pool.delinquent_balance[month]
            month += 1
        out.append(PoolPeriod(
            begin_balance_fen=begin, interest_fen=interest, principal_fen=principal, recoveries_fen=recovery,
            defaults_fen=default, end_balance_fen=end, delinquent_fen=delinquent,
            ineligible_rate=scenario.ineligible_rate,
            originator_rating=scenario.rating_on(period.end),
        ))
        begin = end
    return out


def _pool_model(deal: m.Deal, scenario: Scenario, loans: LoanArrays | None = None) -> _AggregatePool:
    if loans is not None:
        total = float(loans.balance.sum())
        weights = loans.balance / total if total > 0 else loans.balance
        rate = scenario.pool_rate if scenario.pool_rate is not None else float(np.sum(weights * loans.gross_rate))
        paid = loans.payment_rate if loans.payment_rate is not None else np.zeros_like(loans.balance)
        monthly = scenario.payment_rate_monthly if scenario.payment_rate_monthly is not None else float(
            np.sum(weights * paid))
    else:
        lines = deal.pool.rep_lines
        total = sum(float(r.balance) for r in lines)
        rate = scenario.pool_rate if scenario.pool_rate is not None else sum(
            float(r.balance) * float(r.rate) for r in lines) / total
        monthly = scenario.payment_rate_monthly if scenario.payment_rate_monthly is not None else sum(
            float(r.balance) * float(r.payment_rate_monthly or 0) for r in lines) / total
    if scenario.psa is not None or scenario.sda is not None:
        raise ValidationFailed([Issue(
            "scenario_not_supported", "PSA and SDA follow a loan's age: a revolving pool takes cpr/cdr",
            Location(field_path="scenario.psa" if scenario.psa is not None else "scenario.sda"))])
    cdr = scenario.default_speed().value
    return _AggregatePool(total, rate + scenario.rate_shift, _daily_rate(monthly, 12.0), _daily_rate(cdr, 1.0),
                          scenario.severity, scenario.recovery_lag_months)


def _shift(scenario: Scenario) -> Decimal:
    return Decimal(repr(scenario.rate_shift))


_IDLE_PLACES = Decimal("0.000001")


def _idle_rate(idle_fen: int, pool_fen: int) -> Decimal:
    """Idle cash at the payment date ÷ (pool + that cash), to 1e-6."""
    if idle_fen <= 0:
        return Decimal(0)
    return (Decimal(idle_fen) / Decimal(pool_fen + idle_fen)).quantize(_IDLE_PLACES)


def run_deal(deal: m.Deal, calendar: BusinessCalendar, scenario: Scenario | None = None,
             *, loans: LoanArrays | None = None, progress: Callable[[int, int], None] | None = None,
             periods: Sequence[Period] | None = None, memo: KernelMemo | None = None) -> DealRun:
    """Run the deal over all its periods under ``scenario`` (base scenario by default).

    ``loans``: the pool as loan arrays (a plan's imported tape); default: the deal's rep lines.
    ``periods``: ``build_periods(deal, calendar)`` when already built (many runs of one deal).
    ``memo``: a ``KernelMemo`` shared by many runs over the same ``loans`` (amortizing pools).
    """
    scenario = scenario or Scenario()
    periods = list(periods) if periods is not None else build_periods(deal, calendar)
    if not _check_pool(deal, loans):
        return _run_static(deal, periods, scenario, progress, loans, memo)
    pool = _pool_model(deal, scenario, loans)
    engine = WaterfallEngine(deal, periods, index_rates=scenario.index_rates, initial_pool_fen=to_fen(
        Decimal(repr(pool.balance))), index_shift=_shift(scenario))
    mode = deal.revolving.purchase_mode if deal.revolving else m.PurchaseMode.PRINCIPAL_AND_INTEREST_BUY_PRINCIPAL
    buys_interest = mode is not m.PurchaseMode.PRINCIPAL_BUY_PRINCIPAL
    reinvested = 1.0 - scenario.unreinvested_share
    end_of_term_repurchase = any(
        r.kind is m.RepurchaseKind.END_OF_TERM_UNSETTLED for r in deal.credit_enhancement.repurchase)
    results: list[PeriodResult] = []
    for number, period in enumerate(periods, 1):
        begin = pool.balance
        revolving = engine.revolving_allowed(period)
        rev_days = (period.revolving_until - period.start).days if revolving and period.revolving_until else 0
        rev_days = max(0, min(rev_days, period.days))

        def buy(principal: float, interest: float) -> float:
            return (principal + (interest if buys_interest else 0.0)) * reinvested

        i1, p1, d1, r1, bought = pool.run_days(period.start, rev_days, buy)
        i2, p2, d2, r2, _ = pool.run_days(period.start + timedelta(days=rev_days), period.days - rev_days,
                                          lambda p, i: 0.0)
        # to fen: the revolving-day purchases equal exactly the collections the mode lets buy (all of them
        # unless the scenario leaves a share unreinvested: that share is idle cash until the payment date)
        rev_interest_fen, rev_principal_fen = to_fen(Decimal(repr(i1))), to_fen(Decimal(repr(p1 + r1)))
        buyable_fen = rev_principal_fen + (rev_interest_fen if buys_interest else 0)
        purchases_fen = buyable_fen if reinvested == 1.0 else min(buyable_fen, to_fen(Decimal(repr(bought))))
        idle_fen = buyable_fen - purchases_fen
        interest_fen = rev_interest_fen + to_fen(Decimal(repr(i2)))
        principal_side_fen = rev_principal_fen + to_fen(Decimal(repr(p2 + r2)))
        recoveries_fen = min(principal_side_fen, to_fen(Decimal(repr(r1 + r2))))
        principal_fen = principal_side_fen - recoveries_fen
        idle_rate = _idle_rate(idle_fen, to_fen(Decimal(repr(pool.balance)))) if revolving else Decimal(0)
        repurchase_fen = 0
        if period.is_final and not period.is_extension and end_of_term_repurchase and pool.balance > 0:
            repurchase_fen = to_fen(Decimal(repr(pool.balance)))
            pool.balance = 0.0
        end_fen = to_fen(Decimal(repr(pool.balance)))
        pool_period = PoolPeriod(
            begin_balance_fen=to_fen(Decimal(repr(begin))), interest_fen=interest_fen, principal_fen=principal_fen,
            recoveries_fen=recoveries_fen, defaults_fen=to_fen(Decimal(repr(d1 + d2))), end_balance_fen=end_fen,
            purchases_fen=purchases_fen if revolving else 0,
            delinquent_fen=to_fen(Decimal(repr(pool.balance * scenario.delinquency_rate))),
            ineligible_rate=scenario.ineligible_rate,
            fund_idle_rate=idle_rate,
            originator_rating=scenario.rating_on(period.end), repurchase_fen=repurchase_fen,
        )
        result = engine.step(pool_period)
        # purchases at the payment date (buy_assets) join the pool
        pool.balance += (result.purchases_fen - pool_period.purchases_fen) / 100.0
        results.append(result)
        if progress is not None:
            progress(number, len(periods))
        if period.is_final and all(
                t.end_balance_fen == 0 and t.interest_unpaid_fen == 0 for t in result.tranches.values()):
            break  # everything paid: no extension periods needed
    return DealRun(deal, scenario, results)


def _run_static(deal: m.Deal, periods: list[Period], scenario: Scenario,
                progress: Callable[[int, int], None] | None, loans: LoanArrays | None,
                memo: KernelMemo | None = None) -> DealRun:
    flows = static_pool_periods(deal, scenario, periods, loans, memo)
    engine = WaterfallEngine(deal, periods, index_rates=scenario.index_rates,
                             initial_pool_fen=flows[0].begin_balance_fen if flows else 0, index_shift=_shift(scenario))
    results: list[PeriodResult] = []
    for number, (period, flow) in enumerate(zip(periods, flows, strict=True), 1):
        result = engine.step(flow)
        results.append(result)
        if progress is not None:
            progress(number, len(periods))
        if period.is_final and all(
                t.end_balance_fen == 0 and t.interest_unpaid_fen == 0 for t in result.tranches.values()):
            break
    return DealRun(deal, scenario, results)
