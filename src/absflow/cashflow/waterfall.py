"""The waterfall interpreter: runs a deal's ordered actions period by period, in integer fen.

Each period: pool collections land in the collection account; revolving purchases made
before the interim window leave it; triggers are tested on the period's metrics and set
the deal status (and waterfall); the status's waterfall runs action by action. Every
period the engine asserts cash in = cash out + change in account balances, to the fen.
Pro-rata splits use :func:`absflow.domain.money.largest_remainder`. Accruals are exact
Decimal and rounded half-even to the fen once per tranche, fee and period.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from absflow.cashflow.periods import Period
from absflow.deal import model as m
from absflow.domain.daycount import accrual_fraction
from absflow.domain.money import largest_remainder

_STATUS_ORDER = {
    m.DealStatus.REVOLVING: 0, m.DealStatus.AMORTIZING: 1, m.DealStatus.ACCELERATED: 2, m.DealStatus.DEFAULTED: 3,
}
# Enum members the engine reads every period, bound once: on CPython 3.11 reading ``m.DealStatus.REVOLVING``
# goes through the enum class's attribute machinery (about 0.3–1 µs), dozens of times a period.
_ACCELERATED = m.DealStatus.ACCELERATED
_AMORTIZING = m.DealStatus.AMORTIZING
_DEFAULTED = m.DealStatus.DEFAULTED
_REVOLVING = m.DealStatus.REVOLVING
_SPLIT_PRO_RATA = m.SplitMode.PRO_RATA
_SPLIT_SEQUENTIAL = m.SplitMode.SEQUENTIAL
_SPLIT_TO_TARGET = m.SplitMode.TO_TARGET
_PRINCIPAL_BULLET = m.PrincipalType.BULLET
_PRINCIPAL_SEQUENTIAL = m.PrincipalType.SEQUENTIAL
_PRINCIPAL_TARGET_BALANCE = m.PrincipalType.TARGET_BALANCE
_METRIC_CUMULATIVE_DEFAULT_RATE = m.Metric.CUMULATIVE_DEFAULT_RATE
_METRIC_DELINQUENCY_RATE = m.Metric.DELINQUENCY_RATE
_METRIC_FUND_IDLE_RATE = m.Metric.FUND_IDLE_RATE
_METRIC_INELIGIBLE_ASSET_RATE = m.Metric.INELIGIBLE_ASSET_RATE
_METRIC_ORIGINATOR_RATING = m.Metric.ORIGINATOR_RATING
_METRIC_POOL_FACTOR = m.Metric.POOL_FACTOR
_CMP_EQ = m.Comparison.EQ
_CMP_GE = m.Comparison.GE
_CMP_GT = m.Comparison.GT
_CMP_LE = m.Comparison.LE
_CMP_LT = m.Comparison.LT
_FEE_FIXED = m.FeeKind.FIXED
_FEE_PERCENT_OF_BALANCE = m.FeeKind.PERCENT_OF_BALANCE
_FEE_BASE_POOL = m.FeeBase.POOL
_TARGET_FIXED = m.ReserveTargetKind.FIXED
_TARGET_PERCENT_OF_POOL = m.ReserveTargetKind.PERCENT_OF_POOL
_TARGET_PERCENT_OF_TRANCHES = m.ReserveTargetKind.PERCENT_OF_TRANCHES
_LIMIT_AMOUNT = m.LimitKind.AMOUNT
_LIMIT_DUE_ONLY = m.LimitKind.DUE_ONLY
_LIMIT_PERCENT_OF_AVAILABLE = m.LimitKind.PERCENT_OF_AVAILABLE
_EFFECT_CHANGE_STATUS = m.EffectKind.CHANGE_STATUS
_EFFECT_STOP_REVOLVING = m.EffectKind.STOP_REVOLVING
_EFFECT_SWITCH_WATERFALL = m.EffectKind.SWITCH_WATERFALL
_SUPPORT_ACCOUNT = m.SupportKind.ACCOUNT
_SUPPORT_GUARANTOR = m.SupportKind.GUARANTOR
_SUPPORT_LIQUIDITY = m.SupportKind.LIQUIDITY
_FEN_PER_YUAN = Decimal(100)


class CashNotConserved(AssertionError):
    """The engine's books do not balance: a bug, never a user error."""


def to_fen(yuan: Decimal) -> int:
    return int((yuan * _FEN_PER_YUAN).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


_ONE = Decimal(1)


@functools.lru_cache(maxsize=8192)
def _accrual(start: date, end: date, day_count: m.DayCount) -> Decimal:
    """``accrual_fraction``, remembered: every engine over the same periods (a scenario grid) asks again."""
    return accrual_fraction(start, end, day_count)


def _round_fen(value: Decimal) -> int:
    return int(value.quantize(_ONE, rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True, slots=True)
class PoolPeriod:
    """What the pool did in one period, in fen; the runner (or a test) supplies it.

    ``purchases_fen``: revolving purchases made on revolving days of the period (before the
    interim window), paid from the collection account; must not exceed the collections the
    purchase mode lets buy assets. Metrics the pool cannot know (ratings, ineligible rate,
    fund idle rate) come from the scenario.
    """

    begin_balance_fen: int
    interest_fen: int
    principal_fen: int  # scheduled + prepaid principal collected
    recoveries_fen: int = 0
    defaults_fen: int = 0  # balance that defaulted in the period
    end_balance_fen: int = 0  # after collections and defaults, before end-of-period purchases
    purchases_fen: int = 0
    delinquent_fen: int = 0
    ineligible_rate: Decimal = Decimal(0)
    fund_idle_rate: Decimal = Decimal(0)
    originator_rating: str | None = None
    repurchase_fen: int = 0  # repurchase price paid in by the originator, on top of the collections


@dataclass(slots=True)
class TrancheFlow:
    tranche_id: str
    begin_balance_fen: int
    interest_accrued_fen: int = 0
    interest_due_fen: int = 0
    interest_paid_fen: int = 0
    principal_paid_fen: int = 0
    residual_paid_fen: int = 0
    end_balance_fen: int = 0
    interest_unpaid_fen: int = 0  # accrued or due but not paid, carried to the next period


@dataclass(slots=True)
class FeeFlow:
    fee_id: str
    due_fen: int = 0
    paid_fen: int = 0
    unpaid_fen: int = 0


# TriggerState and ActionLine are made several times a period: their __init__ is written out
# with object.__setattr__ bound once (the generated one of a frozen dataclass looks it up per
# field, about twice the cost); still frozen, compared and hashed by the dataclass.


@dataclass(frozen=True, slots=True, init=False)
class TriggerState:
    trigger_id: str
    metric: str
    value: str
    threshold: str | None
    breached: bool  # condition true this period
    active: bool  # effects apply (breached now, or breached before and not curable)

    def __init__(self, trigger_id: str, metric: str, value: str, threshold: str | None, breached: bool,
                 active: bool, _set: Callable[[object, str, object], None] = object.__setattr__) -> None:
        _set(self, "trigger_id", trigger_id)
        _set(self, "metric", metric)
        _set(self, "value", value)
        _set(self, "threshold", threshold)
        _set(self, "breached", breached)
        _set(self, "active", active)


@dataclass(frozen=True, slots=True, init=False)
class ActionLine:
    """One money movement of one action: ``kind`` of action, ``target`` id, fen."""

    step: int
    kind: str
    target: str
    amount_fen: int

    def __init__(self, step: int, kind: str, target: str, amount_fen: int,
                 _set: Callable[[object, str, object], None] = object.__setattr__) -> None:
        _set(self, "step", step)
        _set(self, "kind", kind)
        _set(self, "target", target)
        _set(self, "amount_fen", amount_fen)


@dataclass(slots=True)
class PeriodResult:
    period: Period
    status: m.DealStatus
    waterfall: str
    pool: PoolPeriod
    tranches: dict[str, TrancheFlow]
    fees: dict[str, FeeFlow]
    accounts_begin_fen: dict[str, int]
    accounts_end_fen: dict[str, int]
    tax_due_fen: int = 0
    tax_paid_fen: int = 0
    purchases_fen: int = 0  # pre-window purchases + buy_assets at the payment date
    liquidity_drawn_fen: dict[str, int] = field(default_factory=dict)
    liquidity_repaid_fen: dict[str, int] = field(default_factory=dict)
    liquidity_outstanding_fen: dict[str, int] = field(default_factory=dict)
    shortfall_paid_fen: dict[str, int] = field(default_factory=dict)
    triggers: list[TriggerState] = field(default_factory=list)
    lines: list[ActionLine] = field(default_factory=list)
    revolving_allowed: bool = False
    cash_in_fen: int = 0
    cash_out_fen: int = 0

    @property
    def collections_fen(self) -> int:
        return self.pool.interest_fen + self.pool.principal_fen + self.pool.recoveries_fen + self.pool.repurchase_fen


class _Books:
    """Accounts and the period's in/out counters; every movement goes through here."""

    __slots__ = ("balances", "cash_in", "cash_out")

    def __init__(self, balances: dict[str, int]) -> None:
        self.balances = balances
        self.cash_in = 0
        self.cash_out = 0

    def deposit(self, account: str, fen: int) -> None:
        self.balances[account] += fen
        self.cash_in += fen

    def pay_out(self, account: str, fen: int) -> None:
        if fen > self.balances[account]:
            raise CashNotConserved(f"paying {fen} fen from {account} holding {self.balances[account]}")
        self.balances[account] -= fen
        self.cash_out += fen

    def move(self, source: str, target: str, fen: int) -> None:
        if fen > self.balances[source]:
            raise CashNotConserved(f"moving {fen} fen from {source} holding {self.balances[source]}")
        self.balances[source] -= fen
        self.balances[target] += fen


def _compare(comparison: m.Comparison, left: Decimal, right: Decimal) -> bool:
    if comparison is _CMP_LT:
        return left < right
    if comparison is _CMP_LE:
        return left <= right
    if comparison is _CMP_GT:
        return left > right
    if comparison is _CMP_GE:
        return left >= right
    if comparison is _CMP_EQ:
        return left == right
    return left != right


def metric_breached(metric: m.Metric, comparison: m.Comparison, value: str, threshold: str) -> bool:
    """Compare a metric value with a threshold; ratings compare by quality (``lt AA``: worse than AA)."""
    if metric is _METRIC_ORIGINATOR_RATING:
        v, t = m.rating_rank(value), m.rating_rank(threshold)
        if v is None or t is None:
            return False
        # a lower rank is a better rating: "lt" means worse, i.e. a larger rank
        return _compare(comparison, Decimal(-v), Decimal(-t))
    return _compare(comparison, Decimal(value), Decimal(threshold))


def _split_payment(available_fen: int, claims_fen: list[int], mode: m.SplitMode) -> list[int]:
    """Pay ``available_fen`` against ``claims_fen`` (in action order): pro-rata by largest remainder
    when the mode is pro-rata and cash falls short, else in order; no claim gets more than it is owed."""
    if mode is _SPLIT_PRO_RATA and available_fen < sum(claims_fen):
        return largest_remainder(available_fen, claims_fen)
    parts, left = [], available_fen
    for claim in claims_fen:
        part = min(left, claim)
        parts.append(part)
        left -= part
    return parts


#: An action's implementation: (step number, action, source account, period, result, books, buy allowed).
_ActionHandler = Callable[[int, m.Action, str, Period, "PeriodResult", "_Books", bool], None]


class WaterfallEngine:
    """Runs one deal period by period. Create, then call :meth:`step` once per period in order."""

    def __init__(self, deal: m.Deal, periods: Sequence[Period], *, index_rates: dict[str, Decimal] | None = None,
                 initial_pool_fen: int | None = None, index_shift: Decimal = Decimal(0)) -> None:
        self.deal = deal
        self.periods = list(periods)
        self.index_rates = dict(index_rates or {})
        self.index_shift = index_shift  # added to every floating coupon's index (a scenario's rate shift)
        self.collection = deal.collection_account
        self.balances = {a.id: to_fen(a.initial_balance) for a in deal.accounts}
        self.tranche_balance = {t.id: to_fen(t.size) for t in deal.tranches}
        self.interest_unpaid = {t.id: 0 for t in deal.tranches}
        self.fee_unpaid = {f.id: 0 for f in deal.fees}
        self.one_off_done: set[str] = set()
        self.liquidity_outstanding = {x.id: 0 for x in deal.credit_enhancement.liquidity_support}
        self.shortfall_called = {x.id: 0 for x in deal.credit_enhancement.shortfall_payment}
        self.initial_pool_fen = initial_pool_fen if initial_pool_fen is not None else (
            to_fen(deal.pool.initial_balance) if deal.pool.initial_balance is not None
            else sum(to_fen(r.balance) for r in deal.pool.rep_lines)
        )
        self.cumulative_defaults_fen = 0
        self.sticky: set[str] = set()
        self.status = deal.periods.initial_status
        self.revolving_stopped = False
        self.senior_interest_shortfall_fen = 0
        self._next = 0
        self._tranche_by_id = {t.id: t for t in deal.tranches}
        self._fee_by_id = {f.id: f for f in deal.fees}
        self._liq_by_id = {x.id: x for x in deal.credit_enhancement.liquidity_support}
        self._sp_by_id = {x.id: x for x in deal.credit_enhancement.shortfall_payment}
        self._accrual_cache: dict[tuple[int, m.DayCount], Decimal] = {}
        self._coupon = {t.id: self.coupon_rate(t) for t in deal.tranches}
        self._threshold_cache: dict[str, Decimal] = {}
        self._seniors = tuple(t.id for t in deal.tranches if t.tranche_class is m.TrancheClass.SENIOR)
        # per-deal constants read every period
        self._accruals = tuple((t.id, self._coupon[t.id], t.interest.day_count) for t in deal.tranches)
        self._tranche_ids = tuple(t.id for t in deal.tranches)
        self._fee_ids = tuple(f.id for f in deal.fees)
        self._account_by_id = {a.id: a for a in deal.accounts}
        self._tax_rate = deal.tax.rate if deal.tax else None
        self._revolving_end = deal.periods.revolving.end if deal.periods.revolving is not None else None
        self._actions: dict[m.ActionKind, _ActionHandler] = {
            m.ActionKind.PAY_TAX: self._act_pay_tax, m.ActionKind.PAY_FEE: self._pay_fees,
            m.ActionKind.PAY_INTEREST: self._pay_interest, m.ActionKind.PAY_PRINCIPAL: self._pay_principal,
            m.ActionKind.PAY_RESIDUAL: self._act_pay_residual, m.ActionKind.TRANSFER: self._act_transfer,
            m.ActionKind.TOP_UP_RESERVE: self._act_top_up_reserve,
            m.ActionKind.DRAW_LIQUIDITY: self._act_draw_liquidity,
            m.ActionKind.REPAY_LIQUIDITY: self._act_repay_liquidity,
            m.ActionKind.CALL_SHORTFALL: self._act_call_shortfall, m.ActionKind.BUY_ASSETS: self._act_buy_assets,
        }

    # ------------------------------------------------------------------ helpers
    def coupon_rate(self, tranche: m.Tranche) -> Decimal:
        c = tranche.coupon
        if c.kind is m.CouponKind.NONE:
            return Decimal(0)
        if c.kind is m.CouponKind.FIXED:
            return c.rate or Decimal(0)
        index = self.index_rates.get(c.index or "", c.index_rate or Decimal(0)) + self.index_shift
        rate = index + (c.margin or Decimal(0))
        if c.floor is not None:
            rate = max(rate, c.floor)
        if c.cap is not None:
            rate = min(rate, c.cap)
        return rate

    def _fraction(self, period: Period, day_count: m.DayCount | None) -> Decimal:
        dc = day_count or self.deal.dates.day_count
        key = (period.index, dc)
        value = self._accrual_cache.get(key)
        if value is None:
            value = self._accrual_cache[key] = _accrual(period.start, period.end, dc)
        return value

    def revolving_allowed(self, period: Period) -> bool:
        """May the pool buy assets during ``period`` (decided by the state before the period)?"""
        return (
            period.revolving_until is not None and self.status is _REVOLVING and not self.revolving_stopped
        )

    def base_status(self, period: Period) -> m.DealStatus:
        """Status by the calendar alone: revolving until the revolving period ends, then amortizing."""
        initial = self.deal.periods.initial_status
        revolving = self.deal.periods.revolving
        if initial is _REVOLVING and revolving is not None and period.end > revolving.end:
            return _AMORTIZING
        return initial

    # ------------------------------------------------------------------ triggers
    def _metric_value(self, metric: m.Metric, pool: PoolPeriod) -> Decimal | str | None:
        """The metric's value this period: a Decimal fraction (yuan for the shortfall), a rating, or None."""
        initial = self.initial_pool_fen or 1
        if metric is _METRIC_CUMULATIVE_DEFAULT_RATE:
            return Decimal(self.cumulative_defaults_fen) / Decimal(initial)
        if metric is _METRIC_DELINQUENCY_RATE:
            return Decimal(pool.delinquent_fen) / Decimal(pool.end_balance_fen or 1)
        if metric is _METRIC_INELIGIBLE_ASSET_RATE:
            return pool.ineligible_rate
        if metric is _METRIC_FUND_IDLE_RATE:
            return pool.fund_idle_rate
        if metric is _METRIC_ORIGINATOR_RATING:
            return pool.originator_rating
        if metric is _METRIC_POOL_FACTOR:
            return Decimal(pool.end_balance_fen) / Decimal(initial)
        return Decimal(self.senior_interest_shortfall_fen) / _FEN_PER_YUAN

    def _test_triggers(self, period: Period, pool: PoolPeriod) -> tuple[list[TriggerState], list[m.Trigger]]:
        states: list[TriggerState] = []
        active: list[m.Trigger] = []
        for trigger in self.deal.triggers:
            value = self._metric_value(trigger.metric, pool)
            threshold = trigger.threshold.value_on(period.end)
            breached = False
            if value is not None and threshold is not None and (
                    trigger.test_from is None or period.end >= trigger.test_from):
                if isinstance(value, Decimal):
                    breached = _compare(trigger.comparison, value, self._threshold(threshold))
                else:
                    breached = metric_breached(trigger.metric, trigger.comparison, value, threshold)
            if breached and not trigger.curable:
                self.sticky.add(trigger.id)
            is_active = breached or trigger.id in self.sticky
            if is_active:
                active.append(trigger)
            states.append(TriggerState(trigger.id, trigger.metric.value, "" if value is None else str(value),
                                       threshold, breached, is_active))
        return states, active

    def _threshold(self, text: str) -> Decimal:
        value = self._threshold_cache.get(text)
        if value is None:
            value = self._threshold_cache[text] = Decimal(text)
        return value

    # ------------------------------------------------------------------ the period
    def step(self, pool: PoolPeriod) -> PeriodResult:
        """Run the next period with the pool's flows; returns everything that happened."""
        period = self.periods[self._next]
        self._next += 1
        revolving_allowed = self.revolving_allowed(period)
        balances = self.balances
        begin_accounts = dict(balances)
        books = _Books(balances)
        tranche_balance = self.tranche_balance
        tranches = {i: TrancheFlow(i, tranche_balance[i]) for i in self._tranche_ids}
        result = PeriodResult(
            period=period, status=self.status, waterfall="", pool=pool, tranches=tranches,
            fees={i: FeeFlow(i) for i in self._fee_ids}, accounts_begin_fen=begin_accounts,
            accounts_end_fen={}, revolving_allowed=revolving_allowed,
        )
        collected = pool.interest_fen + pool.principal_fen + pool.recoveries_fen + pool.repurchase_fen
        books.deposit(self.collection, collected)
        if pool.purchases_fen:
            if not revolving_allowed:
                raise ValueError(f"period {period.index}: purchases given while revolving is not allowed")
            books.pay_out(self.collection, pool.purchases_fen)
            result.purchases_fen += pool.purchases_fen
            result.lines.append(ActionLine(0, "revolving_purchase", self.collection, pool.purchases_fen))
        self.cumulative_defaults_fen += pool.defaults_fen

        # accruals
        interest_unpaid = self.interest_unpaid
        interest_payable = period.interest_payable
        for tranche_id, rate, day_count in self._accruals:
            flow = tranches[tranche_id]
            accrued = _round_fen(Decimal(flow.begin_balance_fen) * rate * self._fraction(
                period, day_count)) if rate else 0
            flow.interest_accrued_fen = accrued
            carried = interest_unpaid[tranche_id] + accrued
            flow.interest_due_fen = carried if tranche_id in interest_payable else 0
            interest_unpaid[tranche_id] = carried
        self._accrue_fees(period, pool, result)
        tax_rate = self._tax_rate
        result.tax_due_fen = _round_fen(Decimal(pool.interest_fen) * tax_rate) if tax_rate is not None else 0

        # triggers → status → waterfall
        states, active = self._test_triggers(period, pool)
        result.triggers = states
        status = self.base_status(period)
        waterfall_id: str | None = None
        stopped = False
        for trigger in active:
            for effect in trigger.effects:
                if effect.kind is _EFFECT_CHANGE_STATUS and effect.status is not None \
                        and _STATUS_ORDER[effect.status] > _STATUS_ORDER[status]:
                    status = effect.status
                elif effect.kind is _EFFECT_STOP_REVOLVING:
                    stopped = True
                elif effect.kind is _EFFECT_SWITCH_WATERFALL:
                    waterfall_id = effect.waterfall
        if status in (_ACCELERATED, _DEFAULTED):
            for tranche_id in self._tranche_ids:
                tranches[tranche_id].interest_due_fen = interest_unpaid[tranche_id]
        self.status = status
        self.revolving_stopped = stopped
        result.status = status
        waterfall = self.deal.waterfall_by_id(waterfall_id) if waterfall_id else self.deal.waterfalls[status]
        result.waterfall = waterfall.id
        buy_allowed = status is _REVOLVING and not stopped and \
            self._revolving_end is not None and period.end <= self._revolving_end

        actions, collection = self._actions, self.collection
        for number, action in enumerate(waterfall.actions, 1):
            handler = actions.get(action.kind)
            if handler is not None:
                handler(number, action, action.source or collection, period, result, books, buy_allowed)

        # carry forward
        for tranche_id in self._tranche_ids:
            flow = tranches[tranche_id]
            flow.end_balance_fen = tranche_balance[tranche_id] = flow.begin_balance_fen - flow.principal_paid_fen
            flow.interest_unpaid_fen = interest_unpaid[tranche_id]
        self.senior_interest_shortfall_fen = sum(
            max(0, tranches[i].interest_due_fen - tranches[i].interest_paid_fen) for i in self._seniors
        )
        fee_unpaid = self.fee_unpaid
        for fee_id, fee_flow in result.fees.items():
            fee_flow.unpaid_fen = fee_unpaid[fee_id]
        result.accounts_end_fen = dict(balances)
        result.liquidity_outstanding_fen = dict(self.liquidity_outstanding)
        result.cash_in_fen, result.cash_out_fen = books.cash_in, books.cash_out
        change = sum(balances.values()) - sum(begin_accounts.values())
        if books.cash_in != books.cash_out + change:
            raise CashNotConserved(
                f"period {period.index}: in {books.cash_in} ≠ out {books.cash_out} + Δaccounts {change} (fen)"
            )
        return result

    def _accrue_fees(self, period: Period, pool: PoolPeriod, result: PeriodResult) -> None:
        for fee in self.deal.fees:
            frac = self._fraction(period, fee.day_count)
            due = 0
            if fee.kind is _FEE_FIXED:
                due = _round_fen((fee.amount or Decimal(0)) * _FEN_PER_YUAN * frac)
            elif fee.kind is _FEE_PERCENT_OF_BALANCE:
                if fee.base is _FEE_BASE_POOL:
                    base = pool.begin_balance_fen
                else:
                    ids = fee.tranches or tuple(self.tranche_balance)
                    base = sum(self.tranche_balance[i] for i in ids)
                due = _round_fen(Decimal(base) * (fee.rate or Decimal(0)) * frac)
            elif fee.id not in self.one_off_done and (fee.on is None or period.end >= fee.on):
                due = to_fen(fee.amount or Decimal(0))
                self.one_off_done.add(fee.id)
            self.fee_unpaid[fee.id] += due
            result.fees[fee.id].due_fen = self.fee_unpaid[fee.id]

    # ------------------------------------------------------------------ actions
    def _cap(self, action: m.Action, available: int, period: Period, tranche_ids: Iterable[str] = ()) -> int:
        lim = action.limit
        if lim is None or lim.kind is _LIMIT_DUE_ONLY:
            return available
        if lim.kind is _LIMIT_AMOUNT:
            return min(available, to_fen(lim.amount or Decimal(0)))
        if lim.kind is _LIMIT_PERCENT_OF_AVAILABLE:
            return min(available, int(Decimal(available) * (lim.rate or Decimal(0))))
        base = sum(self.tranche_balance[i] for i in tranche_ids)
        return min(available, _round_fen(Decimal(base) * (lim.rate or Decimal(0)) * self._fraction(period, None)))

    def _support(self, action: m.Action, source: str, needed: int, result: PeriodResult, books: _Books,
                 step: int, tranche_ids: Sequence[str], *, interest: bool) -> None:
        """Bring ``needed`` fen more into ``source`` through the action's support chain, in order."""
        for link in action.support:
            if needed <= 0:
                return
            amount = 0
            if link.kind is _SUPPORT_ACCOUNT:
                amount = min(needed, self.balances[link.ref])
                if amount:
                    books.move(link.ref, source, amount)
                    result.lines.append(ActionLine(step, "support_account", link.ref, amount))
            elif link.kind is _SUPPORT_LIQUIDITY:
                facility = self._liq_by_id[link.ref]
                covers = facility.cover_interest if interest else facility.cover_principal
                if covers and set(tranche_ids) & set(facility.tranches):
                    outstanding = self.liquidity_outstanding[link.ref]
                    room = needed if facility.cap is None else to_fen(facility.cap) - outstanding
                    amount = max(0, min(needed, room))
                if amount:
                    books.deposit(source, amount)
                    self.liquidity_outstanding[link.ref] += amount
                    result.liquidity_drawn_fen[link.ref] = result.liquidity_drawn_fen.get(link.ref, 0) + amount
                    result.lines.append(ActionLine(step, "draw_liquidity", link.ref, amount))
            else:
                sp = self._sp_by_id[link.ref]
                covers = sp.cover_interest if interest else sp.cover_principal
                if covers and set(tranche_ids) & set(sp.tranches):
                    room = needed if sp.cap is None else to_fen(sp.cap) - self.shortfall_called[link.ref]
                    amount = max(0, min(needed, room))
                if amount:
                    books.deposit(source, amount)
                    self.shortfall_called[link.ref] += amount
                    result.shortfall_paid_fen[link.ref] = result.shortfall_paid_fen.get(link.ref, 0) + amount
                    result.lines.append(ActionLine(step, "shortfall_payment", link.ref, amount))
            needed -= amount

    def _senior_outstanding(self, tranche_id: str) -> bool:
        """Does a tranche listed before ``tranche_id`` still have a balance?"""
        for other in self.deal.tranches:
            if other.id == tranche_id:
                return False
            if self.tranche_balance[other.id] > 0:
                return True
        return False

    def _principal_payable(self, tranche: m.Tranche, period: Period, status: m.DealStatus,
                           mode: m.SplitMode) -> tuple[int, int]:
        """(may be paid, is due) in fen for ``tranche`` this period."""
        balance = self.tranche_balance[tranche.id]
        if balance <= 0:
            return 0, 0
        accelerated = status in (_ACCELERATED, _DEFAULTED)
        maturity = tranche.expected_maturity
        final = period.is_final or (maturity is not None and period.end >= maturity)
        if mode is _SPLIT_TO_TARGET or tranche.principal_type is _PRINCIPAL_TARGET_BALANCE:
            target = 0
            for step in tranche.target_balances:
                if step.on_or_after <= period.end:
                    target = to_fen(step.balance)
            if final or accelerated:
                target = 0
            payable = max(0, balance - target)
            return payable, payable
        if tranche.principal_type is _PRINCIPAL_BULLET and not (final or accelerated):
            return 0, 0
        if tranche.principal_type is _PRINCIPAL_SEQUENTIAL and self._senior_outstanding(tranche.id):
            return 0, 0  # paid only after every tranche above it
        return balance, balance if final else 0

    def _run_action(self, step: int, action: m.Action, period: Period, result: PeriodResult, books: _Books,
                    buy_allowed: bool) -> None:
        handler = self._actions.get(action.kind)
        if handler is not None:
            handler(step, action, action.source or self.collection, period, result, books, buy_allowed)

    def _act_pay_tax(self, step: int, action: m.Action, source: str, period: Period, result: PeriodResult,
                     books: _Books, buy_allowed: bool) -> None:
        amount = min(self.balances[source], result.tax_due_fen - result.tax_paid_fen)
        if amount > 0:
            books.pay_out(source, amount)
            result.tax_paid_fen += amount
            result.lines.append(ActionLine(step, "pay_tax", "tax", amount))

    def _act_pay_residual(self, step: int, action: m.Action, source: str, period: Period, result: PeriodResult,
                          books: _Books, buy_allowed: bool) -> None:
        available = self._cap(action, self.balances[source], period, action.tranches)
        if action.limit is None and self._senior_outstanding(action.tranches[0]):
            available = 0  # the residual waits until every tranche above is repaid
        if available > 0:
            if action.mode is _SPLIT_PRO_RATA and len(action.tranches) > 1:
                parts = largest_remainder(available, [to_fen(self._tranche_by_id[i].size) for i in action.tranches])
            else:
                parts = [available] + [0] * (len(action.tranches) - 1)
            for tranche_id, part in zip(action.tranches, parts, strict=True):
                if part:
                    books.pay_out(source, part)
                    result.tranches[tranche_id].residual_paid_fen += part
                    result.lines.append(ActionLine(step, "pay_residual", tranche_id, part))

    def _act_transfer(self, step: int, action: m.Action, source: str, period: Period, result: PeriodResult,
                      books: _Books, buy_allowed: bool) -> None:
        assert action.to is not None
        amount = self._cap(action, self.balances[source], period)
        if amount > 0:
            books.move(source, action.to, amount)
            result.lines.append(ActionLine(step, "transfer", action.to, amount))

    def _act_top_up_reserve(self, step: int, action: m.Action, source: str, period: Period, result: PeriodResult,
                            books: _Books, buy_allowed: bool) -> None:
        assert action.account is not None
        target = self._reserve_target(self._account_by_id[action.account], period, result)
        have = self.balances[action.account]
        if have < target:
            amount = min(self.balances[source], target - have)
            if amount:
                books.move(source, action.account, amount)
                result.lines.append(ActionLine(step, "top_up_reserve", action.account, amount))
        elif have > target:
            books.move(action.account, source, have - target)
            result.lines.append(ActionLine(step, "release_reserve", action.account, have - target))

    def _act_draw_liquidity(self, step: int, action: m.Action, source: str, period: Period, result: PeriodResult,
                            books: _Books, buy_allowed: bool) -> None:
        assert action.facility is not None
        facility = self._liq_by_id[action.facility]
        due = sum(result.tranches[i].interest_due_fen - result.tranches[i].interest_paid_fen
                  for i in facility.tranches)
        needed = max(0, due - self.balances[source])
        link = m.Action(action.kind, support=(m.Support(_SUPPORT_LIQUIDITY, facility.id),))
        self._support(link, source, needed, result, books, step, facility.tranches, interest=True)

    def _act_repay_liquidity(self, step: int, action: m.Action, source: str, period: Period, result: PeriodResult,
                             books: _Books, buy_allowed: bool) -> None:
        assert action.facility is not None
        amount = self._cap(action, min(self.balances[source], self.liquidity_outstanding[action.facility]), period)
        if amount > 0:
            books.pay_out(source, amount)
            self.liquidity_outstanding[action.facility] -= amount
            result.liquidity_repaid_fen[action.facility] = result.liquidity_repaid_fen.get(action.facility, 0) + amount
            result.lines.append(ActionLine(step, "repay_liquidity", action.facility, amount))

    def _act_call_shortfall(self, step: int, action: m.Action, source: str, period: Period, result: PeriodResult,
                            books: _Books, buy_allowed: bool) -> None:
        assert action.facility is not None
        sp = self._sp_by_id[action.facility]
        due = 0
        for i in sp.tranches:
            flow = result.tranches[i]
            if sp.cover_interest:
                due += flow.interest_due_fen - flow.interest_paid_fen
            if sp.cover_principal:
                due += self._principal_payable(self._tranche_by_id[i], period, result.status,
                                               _SPLIT_SEQUENTIAL)[1] - flow.principal_paid_fen
        needed = max(0, due - self.balances[source])
        link = m.Action(action.kind, support=(m.Support(_SUPPORT_GUARANTOR, sp.id),))
        self._support(link, source, needed, result, books, step, sp.tranches, interest=sp.cover_interest)

    def _act_buy_assets(self, step: int, action: m.Action, source: str, period: Period, result: PeriodResult,
                        books: _Books, buy_allowed: bool) -> None:
        if not buy_allowed:
            return
        amount = self._cap(action, self.balances[source], period)
        if amount > 0:
            books.pay_out(source, amount)
            result.purchases_fen += amount
            result.lines.append(ActionLine(step, "buy_assets", "pool", amount))

    def _pay_fees(self, step: int, action: m.Action, source: str, period: Period, result: PeriodResult,
                  books: _Books, buy_allowed: bool = False) -> None:
        dues = [self.fee_unpaid[f] for f in action.fees]
        available = self._cap(action, self.balances[source], period)
        parts = _split_payment(available, dues, action.mode)
        for fee_id, part in zip(action.fees, parts, strict=True):
            if part:
                books.pay_out(source, part)
                self.fee_unpaid[fee_id] -= part
                result.fees[fee_id].paid_fen += part
                result.lines.append(ActionLine(step, "pay_fee", fee_id, part))

    def _pay_interest(self, step: int, action: m.Action, source: str, period: Period, result: PeriodResult,
                      books: _Books, buy_allowed: bool = False) -> None:
        ids = list(action.tranches)
        dues = [max(0, result.tranches[i].interest_due_fen - result.tranches[i].interest_paid_fen) for i in ids]
        total = sum(dues)
        if total == 0:
            return
        if total > self.balances[source] and action.support:
            self._support(action, source, total - self.balances[source], result, books, step, ids, interest=True)
        available = min(self._cap(action, self.balances[source], period, ids), total)
        parts = _split_payment(available, dues, action.mode)
        for tranche_id, part in zip(ids, parts, strict=True):
            if part:
                books.pay_out(source, part)
                result.tranches[tranche_id].interest_paid_fen += part
                self.interest_unpaid[tranche_id] -= part
                result.lines.append(ActionLine(step, "pay_interest", tranche_id, part))

    def _pay_principal(self, step: int, action: m.Action, source: str, period: Period, result: PeriodResult,
                       books: _Books, buy_allowed: bool = False) -> None:
        ids = list(action.tranches)
        payable, due = [], 0
        for i in ids:
            flow = result.tranches[i]
            may, is_due = self._principal_payable(self._tranche_by_id[i], period, result.status, action.mode)
            already = flow.principal_paid_fen
            payable.append(max(0, may - already))
            due += max(0, is_due - already)
        total = sum(payable)
        if total == 0:
            return
        if due > self.balances[source] and action.support:
            self._support(action, source, due - self.balances[source], result, books, step, ids, interest=False)
        available = min(self._cap(action, self.balances[source], period, ids), total)
        parts = _split_payment(available, payable, action.mode)
        for tranche_id, part in zip(ids, parts, strict=True):
            if part:
                books.pay_out(source, part)
                result.tranches[tranche_id].principal_paid_fen += part
                self.tranche_balance[tranche_id] -= part
                result.lines.append(ActionLine(step, "pay_principal", tranche_id, part))

    def _reserve_target(self, account: m.Account, period: Period, result: PeriodResult) -> int:
        target = account.target
        if target is None:
            return 0
        if target.kind is _TARGET_FIXED:
            value = to_fen(target.amount or Decimal(0))
        elif target.kind is _TARGET_PERCENT_OF_POOL:
            value = _round_fen(Decimal(result.pool.end_balance_fen + result.purchases_fen) * (target.rate or 0))
        elif target.kind is _TARGET_PERCENT_OF_TRANCHES:
            ids = target.tranches or tuple(self.tranche_balance)
            value = _round_fen(Decimal(sum(self.tranche_balance[i] for i in ids)) * (target.rate or 0))
        else:
            ids = target.tranches or tuple(self.tranche_balance)
            interest = sum(
                Decimal(self.tranche_balance[i]) * self.coupon_rate(self._tranche_by_id[i])
                * self._fraction(period, None) for i in ids
            )
            value = _round_fen(interest * (target.rate or Decimal(1)))
        if target.floor is not None:
            value = max(value, to_fen(target.floor))
        return value
