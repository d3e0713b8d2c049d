"""One business day of a revolving margin-financing plan, as a pure function.

``run_day(...)`` takes the pool at the start of the day (a polars frame of active
``pool_assets`` rows), the day's validated servicer inputs, the carried plan state and the
deal, and returns everything that changes: pool updates, removals, purchases (delivery
list), asset events, balanced ledger entries, repurchase instructions and receipts,
distributions on a payment date, metrics and the new plan state. The service persists it
in one transaction (absflow.services.daily). docs/DAILY.md describes every step.
"""

from __future__ import annotations

import json
from calendar import monthrange
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import repeat
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import polars as pl

from absflow.calendar import Calendar, DayKind
from absflow.cashflow.periods import Period, build_periods
from absflow.deal.model import (
    Comparison,
    Deal,
    DealStatus,
    EffectKind,
    FeeBase,
    FeeKind,
    Metric,
    PurchaseMode,
    RevolvingThreshold,
    TrancheClass,
    Trigger,
    rating_rank,
)
from absflow.domain.daycount import accrual_fraction
from absflow.revolving.daypool import GROUP_FIELDS, POOL_COLUMNS, DayPool, Vocabulary
from absflow.revolving.delivery import DeliveryList, delivery_list
from absflow.revolving.eligibility import EligibilityResult, check_eligibility
from absflow.revolving.ledger import Entry, Ledger
from absflow.revolving.mtm import AssetClass, Positions, classify, client_ratios
from absflow.revolving.payment import (
    Distribution,
    Payment,
    WaterfallBooks,
    account_name,
    coming_interest_fen,
    coupon_rates,
)
from absflow.revolving.payment import pay as pay_waterfall
from absflow.revolving.selection import Selection, select_purchases
from absflow.revolving.table import AssetTable, BoolArray, FloatArray, Int64Array, group_totals

#: Days a repurchase instruction gives the originator to pay, in trading days (docs/DAILY.md).
REPURCHASE_DUE_TRADING_DAYS = 3
#: End-of-term unsettled assets are sent back this many trading days before the final payment date.
END_OF_TERM_TRADING_DAYS = 5
#: Margin interest accrues daily at rate / 360 (券商融资利息按日计提, ACT/360).
MARGIN_DAY_BASIS = 360



# ---------------------------------------------------------------------------------- state


@dataclass(frozen=True)
class PlanState:
    """What carries from one day to the next (stored as JSON beside the status row)."""

    status: str  # revolving | amortizing | accelerated | defaulted | ended
    last_run_date: date | None
    initial_pool_fen: int
    cumulative_default_fen: int
    balances: dict[str, int]
    tranche_balance_fen: dict[str, int]
    accrual_start: date
    stopped_on: date | None = None
    stop_reason: str | None = None
    idle_rate: str = "0"
    ineligible_rate: str = "0"
    #: Pool assets already counted in the cumulative default (only those still in the pool).
    defaulted_assets: tuple[str, ...] = ()
    #: Per trigger id, how many consecutive tested days its condition has held (``consecutive_days``).
    trigger_streaks: dict[str, int] = field(default_factory=dict)
    #: Non-curable triggers that have hit: their effects hold for good (e.g. ``switch_waterfall``).
    triggers_hit: tuple[str, ...] = ()
    #: Was ``idle_rate`` measured (a day on which the plan could buy)? Windows, pauses and stops are not.
    idle_measured: bool = True
    #: The waterfall's carried amounts: unpaid interest per tranche, unpaid fees, one-off fees paid.
    interest_unpaid_fen: dict[str, int] = field(default_factory=dict)
    fee_unpaid_fen: dict[str, int] = field(default_factory=dict)
    one_off_fees_paid: tuple[str, ...] = ()
    #: Pool interest collected up to the last payment date (the tax base is the period's part).
    interest_income_at_payment_fen: int = 0

    def waterfall_books(self) -> WaterfallBooks:
        return WaterfallBooks(dict(self.tranche_balance_fen), dict(self.interest_unpaid_fen),
                              dict(self.fee_unpaid_fen), self.one_off_fees_paid)

    def to_json(self) -> str:
        # A shallow field copy, not ``asdict``: its deep copy of the growing ``defaulted_assets``
        # tuple cost more than the rest of the state; the values here are plain JSON types.
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in ("last_run_date", "accrual_start", "stopped_on"):
            data[key] = data[key].isoformat() if data[key] else None
        data["defaulted_assets"] = list(self.defaulted_assets)
        data["one_off_fees_paid"] = list(self.one_off_fees_paid)
        data["triggers_hit"] = list(self.triggers_hit)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PlanState:
        data = json.loads(text)
        for key in ("last_run_date", "accrual_start", "stopped_on"):
            data[key] = date.fromisoformat(data[key]) if data[key] else None
        data["defaulted_assets"] = tuple(data.get("defaulted_assets", ()))
        data["one_off_fees_paid"] = tuple(data.get("one_off_fees_paid", ()))
        data["triggers_hit"] = tuple(data.get("triggers_hit", ()))
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})  # keys of older versions are dropped


@dataclass(frozen=True)
class OpenRepurchase:
    """A repurchase instruction: the originator owes principal + interest by ``due_on``."""

    asset_id: str
    reason: str
    instructed_on: date
    due_on: date
    principal_fen: int
    interest_fen: int
    received_fen: int = 0
    settled_on: date | None = None

    @property
    def amount_fen(self) -> int:
        return self.principal_fen + self.interest_fen


class AssetEvent(NamedTuple):
    """One event of an asset on the day (a named tuple: a day makes ~15,000 of them at 200,000 loans)."""

    asset_id: str
    kind: str  # collection | purchase | extension | liquidation | repurchase_instructed | repurchased | repaid
    principal_fen: int = 0
    interest_fen: int = 0
    fee_fen: int = 0
    detail: str | None = None


@dataclass
class DayResult:
    business_date: date
    status: str
    purchase_state: str  # purchased | window | final_amortization | paused | stopped | no_cash | no_candidates
    reasons: list[str]
    pool_updates: pl.DataFrame
    removals: list[tuple[str, str]]
    purchases: pl.DataFrame
    delivery: DeliveryList
    events: list[AssetEvent]
    entries: list[Entry]
    new_repurchases: list[OpenRepurchase]
    repurchase_updates: list[OpenRepurchase]
    distributions: list[Distribution]
    state: PlanState
    metrics: dict[str, str]
    available_fen: int
    rejections: dict[str, int] = field(default_factory=dict)
    class_balances_fen: dict[str, int] = field(default_factory=dict)
    delinquency_fen: dict[str, int] = field(default_factory=dict)
    selection: Selection | None = None
    payment: Payment | None = None  # the waterfall run on a payment date
    #: Per deal trigger: consecutive days its condition has held, the days it needs, and whether it is hit.
    triggers: dict[str, dict[str, str]] = field(default_factory=dict)
    #: The pool at the end of the day (the next day's start): the rows written read back, encoded.
    pool_after: DayPool | None = None

    @property
    def pool_balance_fen(self) -> int:
        return int(self.metrics_int("pool_balance_fen"))

    def metrics_int(self, name: str) -> int:
        return int(self.metrics[name])


# ---------------------------------------------------------------------------------- helpers


def empty_pool() -> pl.DataFrame:
    return pl.DataFrame(schema=POOL_COLUMNS)


def payment_dates(deal: Deal, calendar: Calendar) -> list[date]:
    """Adjusted payment dates of the deal from ``first_payment`` to the expected (or legal) maturity
    (the ends of the cash-flow engine's periods: dates that roll onto one day are one payment)."""
    return [p.end for p in build_periods(deal, calendar, extend=False)]


def _months_before(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


def _fen(value: Fraction | Decimal | float) -> int:
    """Round to the fen, half-even (Fractions and Decimals exactly)."""
    if isinstance(value, float):
        return int(round(value))
    fraction = Fraction(value)
    return round(fraction)


def _yuan_fen(amount: Decimal | None) -> int:
    return 0 if amount is None else int((amount * 100).to_integral_value())


def accrued_interest(pool: pl.DataFrame, day: date) -> pl.Series:
    """Accrued unpaid interest at ``day`` per asset, fen: stored accrual + balance × rate × days / 360."""
    if pool.height == 0:
        return pl.Series("accrued", [], dtype=pl.Int64)
    days = (pl.lit(day) - pl.col("cutoff_date")).dt.total_days().clip(lower_bound=0)
    expr = pl.col("accrued_interest_fen").fill_null(0) + (
        pl.col("balance_fen") * pl.col("rate").fill_null(0.0) * days / MARGIN_DAY_BASIS
    ).round(0).cast(pl.Int64)
    return pool.select(expr.alias("accrued")).to_series()


def _compare(value: Decimal, comparison: Comparison, threshold: Decimal) -> bool:
    return {
        Comparison.LT: value < threshold,
        Comparison.LE: value <= threshold,
        Comparison.GT: value > threshold,
        Comparison.GE: value >= threshold,
        Comparison.EQ: value == threshold,
        Comparison.NE: value != threshold,
    }[comparison]


def _metric_hit(
    metric: str,
    comparison: Comparison,
    threshold: str | None,
    metrics: Mapping[str, str],
    indicators: Mapping[str, str],
) -> bool:
    if threshold is None:
        return False
    if metric == Metric.ORIGINATOR_RATING:
        rating = indicators.get("originator_rating")
        if rating is None:
            return False
        have, limit = rating_rank(rating), rating_rank(threshold)
        if have is None or limit is None:
            return False
        # Worse rating = larger rank: "lt AA" means strictly worse than AA.
        return _compare(Decimal(limit), comparison, Decimal(have))
    raw = metrics.get(metric, indicators.get(metric))
    if raw is None:
        return False
    try:
        return _compare(Decimal(raw), comparison, Decimal(threshold))
    except ArithmeticError:
        return False


# ---------------------------------------------------------------------------------- tables


def asset_tables(pool: pl.DataFrame, candidates: pl.DataFrame, day: date) -> tuple[AssetTable, AssetTable]:
    """Pool and candidates as :class:`AssetTable` with shared client/group vocabularies (sorted),
    built from scratch (``run_day`` carries the pool's codes instead: :class:`DayPool`).

    Only the candidates are ranked by code (the selection's last tie-break); a pool row's
    ``code_rank`` is its position, as pool assets are never ranked against each other."""
    day_pool = DayPool.of(pool)
    vocab, remaps = day_pool.vocab.extended(_candidate_texts(candidates))
    day_pool = day_pool.recoded(vocab, remaps)
    frame = day_pool.frame
    accrued = pool.get_column("accrued_today") if "accrued_today" in pool.columns else accrued_interest(frame, day)
    status = frame.get_column("status").fill_null("")
    pool_table = _pool_table(
        day_pool, day, balance_fen=frame.get_column("balance_fen").fill_null(0).to_numpy(),
        accrued_today_fen=accrued.cast(pl.Int64).to_numpy(),
        maturity=frame.get_column("maturity_date").to_numpy().astype("datetime64[D]"),
        extension_count=frame.get_column("extension_count").fill_null(0).to_numpy(),
        in_liquidation=(status == "liquidating").to_numpy())
    return pool_table, _candidate_table(candidates, day, vocab)


def _candidate_texts(candidates: pl.DataFrame) -> dict[str, list[str]]:
    """The candidates' distinct texts per vocabulary field (null as "")."""
    columns = {"client": "client_id", **{g: g for g in GROUP_FIELDS}}
    return {name: candidates.get_column(column).fill_null("").unique().to_list() for name, column in columns.items()}


def _overdue_days(day: date, due: np.ndarray[Any, np.dtype[np.datetime64]]) -> Int64Array:
    """Days past ``due`` at ``day`` (0 when not due or unknown)."""
    days = (np.datetime64(day, "D") - due).astype(np.int64)
    return np.where(np.isnat(due), 0, np.maximum(days, 0)).astype(np.int64)


def _pool_table(pool: DayPool, day: date, *, balance_fen: Int64Array, accrued_today_fen: Int64Array,
                maturity: np.ndarray[Any, np.dtype[np.datetime64]], extension_count: Int64Array,
                in_liquidation: np.ndarray[Any, np.dtype[np.bool_]]) -> AssetTable:
    """The pool's table from its carried codes and today's values of the changing columns."""
    frame = pool.frame
    return AssetTable(
        code=pool.ids,
        client=pool.codes["client"],
        principal_fen=balance_fen,
        accrued_interest_fen=accrued_today_fen,
        rate=frame.get_column("rate").fill_null(0.0).to_numpy(),
        due_date=maturity,
        maintenance_ratio=frame.get_column("maintenance_ratio").fill_null(np.nan).to_numpy(),
        overdue_days=_overdue_days(day, maturity),
        in_liquidation=in_liquidation,
        extension_count=extension_count,
        code_rank=np.arange(frame.height, dtype=np.int64),
        groups={g: pool.codes[g] for g in GROUP_FIELDS},
        vocab=pool.vocab.texts,
    )


def _candidate_table(frame: pl.DataFrame, day: date, vocab: Vocabulary) -> AssetTable:
    """The candidates' table; client and group codes from ``vocab`` (which holds their texts)."""
    n = frame.height
    due = frame.get_column("due_date").cast(pl.Date).to_numpy().astype("datetime64[D]") if n else np.zeros(
        0, "datetime64[D]")
    codes = frame.get_column("contract_id")
    status = frame.get_column("status").fill_null("") if "status" in frame.columns else pl.Series([""] * n)
    return AssetTable(
        code=codes.to_list(),
        client=vocab.codes("client", frame.get_column("client_id").fill_null("").to_list()),
        principal_fen=frame.get_column("principal_outstanding_fen").fill_null(0).cast(pl.Int64).to_numpy(),
        accrued_interest_fen=frame.get_column("accrued_interest_fen").fill_null(0).cast(pl.Int64).to_numpy(),
        rate=frame.get_column("financing_rate").fill_null(0.0).cast(pl.Float64).to_numpy(),
        due_date=due,
        maintenance_ratio=frame.get_column("maintenance_ratio").cast(pl.Float64).fill_null(np.nan).to_numpy(),
        overdue_days=_overdue_days(day, due),
        in_liquidation=(status == "liquidating").to_numpy(),
        extension_count=frame.get_column("extension_count").fill_null(0).cast(pl.Int64).to_numpy(),
        code_rank=codes.rank("ordinal").cast(pl.Int64).to_numpy() if n else np.zeros(0, np.int64),
        groups={g: vocab.codes(g, frame.get_column(g).fill_null("").to_list()) for g in GROUP_FIELDS},
        vocab=vocab.texts,
    )


def _recoded(table: AssetTable, vocab: Vocabulary, remaps: Mapping[str, Int64Array]) -> AssetTable:
    """``table`` with its client and group codes into ``vocab``, an extension of its own
    (``remaps``: old code → new code per field that grew, as ``Vocabulary.extended`` gives)."""
    return replace(table, client=remaps["client"][table.client] if "client" in remaps else table.client,
                   groups={name: remaps[name][codes] if name in remaps else codes
                           for name, codes in table.groups.items()}, vocab=vocab.texts)


# ---------------------------------------------------------------------------------- the day


@dataclass(frozen=True)
class DayContext:
    """Fixed facts for running days: the deal, the calendar, its payment dates, the plan code."""

    plan_code: str
    deal: Deal
    calendar: Calendar
    payment_dates: tuple[date, ...]
    periods: tuple[Period, ...] = ()
    coupon_rates: dict[str, Decimal] = field(default_factory=dict)

    @classmethod
    def build(cls, plan_code: str, deal: Deal, calendar: Calendar) -> DayContext:
        periods = tuple(build_periods(deal, calendar, extend=False))
        return cls(plan_code, deal, calendar, tuple(p.end for p in periods), periods, coupon_rates(deal))

    def period_ending(self, payment_date: date) -> Period:
        """The waterfall period whose payment date is ``payment_date``."""
        return next(p for p in self.periods if p.end == payment_date)

    @property
    def revolving_end(self) -> date | None:
        """Last day purchases may happen: the revolving period's end, or the day before the final
        amortization period (期末摊还期) starts when the deal has it start earlier (its ``start``,
        or ``length_working_days`` / ``length_months`` before the final payment date; the
        earliest of those given)."""
        revolving = self.deal.periods.revolving
        if revolving is None:
            return None
        final = self.deal.periods.final_amortization
        starts = [] if final is None else [d for d in (
            final.start,
            self.calendar.working_days_before(self.final_date, final.length_working_days)
            if final.length_working_days else None,
            _months_before(self.final_date, final.length_months) if final.length_months else None,
        ) if d is not None]
        return min([revolving.end, *(d - timedelta(days=1) for d in starts)])

    def next_payment_date(self, day: date) -> date | None:
        for payment in self.payment_dates:
            if payment >= day:
                return payment
        return None

    def previous_payment_date(self, day: date) -> date | None:
        earlier = [p for p in self.payment_dates if p < day]
        return earlier[-1] if earlier else None

    @property
    def final_date(self) -> date:
        return self.payment_dates[-1]

    @property
    def end_of_term_from(self) -> date | None:
        """First day of end-of-term repurchases (期末未了结): ``END_OF_TERM_TRADING_DAYS`` before the final date."""
        return self.calendar.trading_days_before(self.final_date, END_OF_TERM_TRADING_DAYS)

    @property
    def last_due_date(self) -> date:
        """Repurchase prices are due at the latest the trading day before the final payment date."""
        return self.calendar.previous_trading_day(self.final_date)


def opening_state(ctx: DayContext, pool: pl.DataFrame, first_day: date) -> PlanState:
    """State before the first run: the initial pool and the deal's funded accounts (``initial_balance``,
    e.g. a reserve) against the tranches' capital; the rest of the capital is custody cash."""
    pool_fen = int(pool.get_column("balance_fen").sum() or 0)
    sizes = {t.id: _yuan_fen(t.size) for t in ctx.deal.tranches}
    ledger = Ledger()
    funded = [(account_name(ctx.deal, a.id), _yuan_fen(a.initial_balance)) for a in ctx.deal.accounts
              if a.id != ctx.deal.collection_account and a.initial_balance]
    lines: list[tuple[str, int]] = [("asset:pool", pool_fen), *funded]
    left = sum(sizes.values()) - pool_fen - sum(fen for _, fen in funded)
    if left > 0:
        lines.append(("cash:custody_principal", left))
    elif left < 0:
        lines.append(("equity:overcollateral", left))
    lines.extend((f"equity:tranche:{tid}", -size) for tid, size in sizes.items())
    ledger.post(Entry("opening: initial pool and investors' capital", tuple(lines)))
    status = "revolving" if ctx.deal.periods.initial_status is DealStatus.REVOLVING else "amortizing"
    return PlanState(
        status=status,
        last_run_date=None,
        initial_pool_fen=pool_fen,
        cumulative_default_fen=0,
        balances=ledger.snapshot(),
        tranche_balance_fen=sizes,
        accrual_start=ctx.deal.dates.establishment,
    )


def _indicators(inputs: Mapping[str, pl.DataFrame]) -> dict[str, str]:
    frame = inputs.get("indicators")
    if frame is None or frame.height == 0:
        return {}
    return {str(n): str(v) for n, v in zip(frame.get_column("name"), frame.get_column("value"), strict=True)}


def _fees_due(ctx: DayContext, period: Period, state: PlanState, pool_fen: int) -> int:
    """Fees the waterfall will find due on ``period``'s payment date: unpaid fees carried, this
    period's accrual by the fee's day count, and one-off fees falling due (for the reserve)."""
    total = Decimal(sum(state.fee_unpaid_fen.values()))
    for fee in ctx.deal.fees:
        years = accrual_fraction(period.start, period.end, fee.day_count or ctx.deal.dates.day_count)
        if fee.kind is FeeKind.FIXED and fee.amount is not None:
            total += fee.amount * 100 * years
        elif fee.kind is FeeKind.PERCENT_OF_BALANCE and fee.rate is not None:
            if fee.base is FeeBase.POOL:
                base = pool_fen
            else:
                names = fee.tranches or tuple(state.tranche_balance_fen)
                base = sum(state.tranche_balance_fen.get(n, 0) for n in names)
            total += fee.rate * base * years
        elif fee.kind is FeeKind.ONE_OFF and fee.id not in state.one_off_fees_paid and fee.amount is not None \
                and (fee.on is None or period.end >= fee.on):
            total += fee.amount * 100
    return _fen(total)


def run_day(
    ctx: DayContext,
    day: date,
    pool: pl.DataFrame | DayPool,
    inputs: Mapping[str, pl.DataFrame],
    state: PlanState,
    open_repurchases: Sequence[OpenRepurchase],
    *,
    owned_elsewhere: set[str] | None = None,
) -> DayResult:
    """Run business day ``day``. ``pool``: active pool assets at the start of the day
    (POOL_COLUMNS), or the :class:`DayPool` a previous day returned as ``pool_after`` (same
    result; the carried codes save re-encoding the whole pool). ``inputs``: validated frames
    by kind (docs/DAILY.md). ``owned_elsewhere``: candidate codes already held (now or ever) by
    any plan — never bought again. The same as :func:`finish_day` of :func:`settle_day`."""
    return finish_day(settle_day(ctx, day, pool, inputs, state, open_repurchases), owned_elsewhere=owned_elsewhere)


@dataclass
class Settlement:
    """The first part of a day (:func:`settle_day`): what the servicer's cash and asset files do
    to the pool's existing rows — collections, extensions, liquidations, repurchase receipts,
    assets repaid in full. Every change of the day to an existing row is known here
    (``pool_updates``, ``removals``): the rest of the day (mark-to-market, classification,
    repurchase instructions, status, purchase, payment date) changes no existing row, so a caller
    may write these while :func:`finish_day` computes the rest."""

    ctx: DayContext
    day: date
    inputs: Mapping[str, pl.DataFrame]
    state: PlanState
    day_pool: DayPool
    rows: _DayRows
    ledger: Ledger
    #: The settlement's events, in order (``finish_day``'s events begin with them).
    events: list[AssetEvent]
    reasons: list[str]
    indicators: dict[str, str]
    repurchases: dict[str, OpenRepurchase]
    updated_repurchases: dict[str, OpenRepurchase]
    defaulted_now: BoolArray
    liquidating_now: BoolArray
    #: The changed rows' update columns (asset_id + the service's UPDATED_COLUMNS), in pool order.
    pool_updates: pl.DataFrame
    #: (asset id, reason) of the assets that leave the pool today, by asset id.
    removals: list[tuple[str, str]]


def settle_day(
    ctx: DayContext,
    day: date,
    pool: pl.DataFrame | DayPool,
    inputs: Mapping[str, pl.DataFrame],
    state: PlanState,
    open_repurchases: Sequence[OpenRepurchase],
) -> Settlement:
    """The first part of business day ``day`` (arguments as :func:`run_day`): see :class:`Settlement`."""
    ledger = Ledger(state.balances)
    events: list[AssetEvent] = []
    reasons: list[str] = []
    indicators = _indicators(inputs)
    day_pool = pool if isinstance(pool, DayPool) else DayPool.of(pool)
    rows = _DayRows(day_pool, day)
    removals: dict[str, str] = {}
    repurchases = {r.asset_id: r for r in open_repurchases}
    updated_repurchases: dict[str, OpenRepurchase] = {}

    # 1. collections: principal reduces balance, interest reduces the accrual (as of today).
    #    Every step below changes only the rows it touches, found by id (DayPool.row_of).
    collections = inputs.get("collections")
    changed: set[str] = set()
    if collections is not None and collections.height:
        agg = collections.group_by("contract_id").agg(
            pl.col("principal_fen").sum(), pl.col("interest_fen").sum(), pl.col("fees_fen").sum()
        )
        at = day_pool.rows_of_all(agg.get_column("contract_id").to_list())
        found = at >= 0
        order = np.argsort(at[found], kind="stable")  # pool order, as the events have always been
        paid_rows = at[found][order]
        p_fen, i_fen, f_fen = (agg.get_column(c).cast(pl.Int64).to_numpy()[found][order]
                               for c in ("principal_fen", "interest_fen", "fees_fen"))
        rows.balance[paid_rows] -= p_fen
        left = np.maximum(rows.accrued_today[paid_rows] - i_fen, 0)
        rows.set_accrued(paid_rows, left)
        rows.touch("balance_fen", paid_rows)
        principal, interest, fees = int(p_fen.sum()), int(i_fen.sum()), int(f_fen.sum())
        paid_ids = day_pool.ids[paid_rows].tolist()
        events.extend(map(AssetEvent._make, zip(paid_ids, repeat("collection"), p_fen.tolist(), i_fen.tolist(),
                                                f_fen.tolist(), repeat(None))))
        changed.update(paid_ids)
        ledger.post(
            _entry(
                "collections received",
                [
                    ("cash:collection", principal + interest + fees),
                    ("asset:pool", -principal),
                    ("income:interest", -interest),
                    ("income:fees", -fees),
                ],
            )
        )
    # Sweep the collection account into custody (principal and interest ledgers).
    sweep_principal = max(0, ledger.balance("cash:collection") - _income_today(ledger))
    sweep_interest = ledger.balance("cash:collection") - sweep_principal
    ledger.post(
        _entry(
            "sweep collections to custody",
            [
                ("cash:custody_principal", sweep_principal),
                ("cash:custody_interest", sweep_interest),
                ("cash:collection", -(sweep_principal + sweep_interest)),
            ],
        )
    )

    # 2. extensions (展期): new due date, one more extension.
    extensions = inputs.get("extensions")
    if extensions is not None and extensions.height:
        rows.extensions_filled = True  # as the join always did: a missing count reads 0 from today on
        ext = extensions.group_by("contract_id").agg(pl.col("new_due_date").max()).filter(
            pl.col("new_due_date").is_not_null())
        at = day_pool.rows_of_all(ext.get_column("contract_id").to_list())
        found = at >= 0
        order = np.argsort(at[found], kind="stable")
        ext_rows = at[found][order]
        new_due = ext.get_column("new_due_date").to_numpy().astype("datetime64[D]")[found][order]
        rows.maturity[ext_rows] = new_due
        rows.extensions[ext_rows] += 1
        rows.touch("maturity_date", ext_rows)
        rows.touch("extension_count", ext_rows)
        for asset_id, due in zip(day_pool.ids[ext_rows].tolist(), new_due.tolist(), strict=True):
            events.append(AssetEvent(asset_id, "extension", detail=f"due {due}"))
            changed.add(asset_id)

    # 3. forced liquidations (强制平仓) and recoveries.
    liquidations = inputs.get("liquidations")
    if liquidations is not None and liquidations.height:
        recovered_principal = recovered_interest = 0
        ids = liquidations.get_column("contract_id").unique().to_list()
        row_of = day_pool.row_of
        liquidated = [a for a in ids if a in row_of]
        balance_of = {a: int(rows.balance[row_of[a]]) for a in liquidated}
        accrued_of = {a: int(rows.accrued_today[row_of[a]]) for a in liquidated}
        status_updates: dict[str, str] = {}
        for liquidation in liquidations.iter_rows(named=True):
            asset_id = liquidation["contract_id"]
            if liquidation["status"] == "started":
                status_updates[asset_id] = "liquidating"
                events.append(AssetEvent(asset_id, "liquidation", detail="started"))
            else:
                p = min(int(liquidation["recovered_principal_fen"] or 0), int(balance_of.get(asset_id, 0)))
                i = int(liquidation["recovered_interest_fen"] or 0)
                balance_of[asset_id] = int(balance_of.get(asset_id, 0)) - p
                accrued_of[asset_id] = max(0, int(accrued_of.get(asset_id, 0)) - i)
                recovered_principal += p
                recovered_interest += i
                shortfall = int(liquidation["shortfall_fen"] or 0)
                status_updates[asset_id] = "defaulted" if shortfall > 0 or balance_of[asset_id] > 0 else "repaid"
                events.append(AssetEvent(asset_id, "liquidation", p, i, 0, detail=f"completed, shortfall {shortfall}"))
            changed.add(asset_id)
        for asset_id, status_now in status_updates.items():
            if asset_id in row_of:
                at = np.array([row_of[asset_id]], np.intp)
                rows.balance[at] = balance_of[asset_id]
                rows.set_accrued(at, np.array([accrued_of[asset_id]], np.int64))
                rows.touch("balance_fen", at)
                rows.status[row_of[asset_id]] = status_now
        ledger.post(
            _entry(
                "liquidation recoveries",
                [
                    ("cash:custody_principal", recovered_principal),
                    ("cash:custody_interest", recovered_interest),
                    ("asset:pool", -recovered_principal),
                    ("income:interest", -recovered_interest),
                ],
            )
        )

    # 4. repurchase receipts: cash from the originator against open instructions.
    receipts = inputs.get("repurchase_receipts")
    if receipts is not None and receipts.height:
        paid_in = receipts.group_by("contract_id").agg(pl.col("amount_fen").sum()).sort("contract_id")
        # Column by column, not a receipt at a time: at the end of term the whole pool is paid for.
        # Receipts against no open instruction (validated at load) change nothing but are still
        # read back as the balance they had; each asset appears once (grouped).
        paid_ids = paid_in.get_column("contract_id").to_list()
        amount = paid_in.get_column("amount_fen").cast(pl.Int64).to_numpy()
        at = day_pool.rows_of_all(paid_ids)
        held = at >= 0
        balance_now = np.where(held, rows.balance[np.maximum(at, 0)], 0)
        instructions = [repurchases.get(a) for a in paid_ids]
        live = np.fromiter((i is not None and i.settled_on is None for i in instructions), np.bool_, len(instructions))
        open_items: list[OpenRepurchase] = [i for i in instructions if i is not None and i.settled_on is None]
        live_ids = [a for a, open_now in zip(paid_ids, live.tolist(), strict=True) if open_now]
        paid = amount[live]
        received = np.fromiter((i.received_fen for i in open_items), np.int64, len(open_items)) + paid
        settled = received >= np.fromiter((i.amount_fen for i in open_items), np.int64, len(open_items))
        principal = np.minimum(paid, balance_now[live])
        balance_live = balance_now[live] - principal
        written_off = int(balance_live[settled].sum())  # zero unless collections ran ahead of the price
        balance_live[settled] = 0
        balance_now[live] = balance_live
        received_principal, received_interest = int(principal.sum()), int((paid - principal).sum())
        for paid_for, received_fen, settled_now in zip(open_items, received.tolist(), settled.tolist(), strict=True):
            updated_repurchases[paid_for.asset_id] = OpenRepurchase(  # not dataclasses.replace: ≈ 170,000 at the end
                paid_for.asset_id, paid_for.reason, paid_for.instructed_on, paid_for.due_on, paid_for.principal_fen,
                paid_for.interest_fen, received_fen, day if settled_now else None)
            if settled_now:
                removals[paid_for.asset_id] = f"repurchased:{paid_for.reason}"
        events.extend(map(AssetEvent._make, zip(live_ids, repeat("repurchase_received"), principal.tolist(),
                                                (paid - principal).tolist(), repeat(0), repeat(None))))
        changed.update(live_ids)
        ledger.post(_entry("repurchase prices received", [
            ("cash:custody_principal", received_principal), ("cash:custody_interest", received_interest),
            ("asset:pool", -received_principal), ("income:interest", -received_interest),
        ]))
        ledger.move("repurchase settled below balance", "expense:repurchase_discount", "asset:pool", written_off)
        if held.any():  # one array assignment, not one per asset (the whole pool at the end of term)
            rows.balance[at[held]] = balance_now[held]
            rows.touch("balance_fen", at[held])

    # Repaid in full → leaves the pool.
    defaulted_now, liquidating_now = rows.status_masks()
    for row in np.flatnonzero((rows.balance <= 0) & ~defaulted_now).tolist():
        asset_id = str(day_pool.ids[row])
        if asset_id not in removals:
            removals[asset_id] = "repaid"
            events.append(AssetEvent(asset_id, "repaid"))

    # An open repurchase whose asset left the pool another way (repaid by the client) is closed.
    for asset_id in removals:
        item = updated_repurchases.get(asset_id, repurchases.get(asset_id))
        if item is not None and item.settled_on is None:
            updated_repurchases[asset_id] = replace(item, settled_on=day)
            events.append(AssetEvent(asset_id, "repurchase_closed", detail="asset left the pool before payment"))

    changed_rows = np.sort(day_pool.rows(changed))
    return Settlement(ctx, day, inputs, state, day_pool, rows, ledger, events, reasons, indicators, repurchases,
                      updated_repurchases, defaulted_now, liquidating_now, rows.updates(changed_rows),
                      sorted(removals.items()))


def finish_day(settled: Settlement, *, owned_elsewhere: set[str] | None = None) -> DayResult:
    """The rest of the day after :func:`settle_day`: mark-to-market, classification, repurchase
    instructions, status (windows, triggers), reserve, purchase, payment date, metrics and the
    new state. ``owned_elsewhere`` as for :func:`run_day`. Changes no existing pool row."""
    ctx, day, inputs, state = settled.ctx, settled.day, settled.inputs, settled.state
    deal = ctx.deal
    spec = deal.revolving
    calendar = ctx.calendar
    # Copies of what this part appends to, so a settlement can be finished again with the same result.
    day_pool, rows, ledger, reasons = settled.day_pool, settled.rows, settled.ledger.copy(), list(settled.reasons)
    events = list(settled.events)
    indicators, removals = settled.indicators, dict(settled.removals)
    repurchases, updated_repurchases = settled.repurchases, dict(settled.updated_repurchases)
    defaulted_now, liquidating_now = settled.defaulted_now, settled.liquidating_now

    # 5. the pool's table: its arrays as changed above, and mark to market (positions × close
    #    prices, cash and debts per client). The candidates' table is made only on a day that buys.
    candidates = _candidate_frame(inputs.get("candidates"))
    all_table = _pool_table(day_pool, day, balance_fen=rows.balance, accrued_today_fen=rows.accrued_today,
                            maturity=rows.maturity, extension_count=rows.extensions, in_liquidation=liquidating_now)
    all_table = replace(all_table, maintenance_ratio=_marked_ratio(rows.balance + rows.accrued, all_table,
                                                                    day_pool.vocab, inputs))

    # 6. classification, eligibility re-check and repurchase instructions.
    kept = ~day_pool.mask(removals) if removals else np.ones(len(day_pool), np.bool_)
    pool_table = all_table.take(kept) if removals else all_table
    lines = spec.maintenance_lines if spec else None
    static = check_eligibility(
        pool_table, spec.eligibility if spec else (), as_of=day, plan_end=deal.dates.legal_maturity
    ).failed_static()
    overdue = pool_table.overdue_days > 0
    defaulted = defaulted_now[kept]
    classes = classify(
        maintenance_ratio=pool_table.maintenance_ratio,
        warning_line=float(lines.warning) if lines and lines.warning is not None else None,
        repurchase_line=float(lines.repurchase) if lines and lines.repurchase is not None else None,
        failed_static=static,
        non_performing=overdue | defaulted,
    )
    balances_np = pool_table.principal_fen
    class_balances = {AssetClass(k).name.lower(): int(balances_np[classes == k].sum()) for k in AssetClass}
    delinquency = _buckets(pool_table.overdue_days, balances_np)
    new_repurchases: list[OpenRepurchase] = []
    end_of_term = ctx.end_of_term_from is not None and day >= ctx.end_of_term_from
    due_on = _due_date(calendar, day, ctx.last_due_date)
    accrued_now = pool_table.accrued_interest_fen
    npl = classes == AssetClass.NON_PERFORMING
    known_default = day_pool.mask(state.defaulted_assets)[kept]
    fresh_default = npl & ~known_default
    new_defaults = int(balances_np[fresh_default].sum())
    # Carried to tomorrow: the defaulted assets still in the pool. One that left never returns
    # (no asset is bought twice), so keeping it only made the state and this mask grow all life.
    pool_ids = np.asarray(pool_table.code, dtype=object)
    defaulted_in_pool = pool_ids[known_default | fresh_default].tolist()
    bad = classes >= AssetClass.INELIGIBLE
    wanted = (bad | end_of_term) & (balances_np > 0)
    instructed = set(repurchases) | set(updated_repurchases)
    if instructed:
        wanted &= ~day_pool.mask(instructed)[kept]
    # Column by column, not a row at a time: on the first end-of-term day the whole pool is instructed.
    positions = np.flatnonzero(wanted)
    reasons_by_class = [k.name.lower() if k >= AssetClass.INELIGIBLE else "end_of_term_unsettled" for k in AssetClass]
    for asset_id, reason, principal_fen, interest_fen in zip(
        pool_ids[positions].tolist(),
        [reasons_by_class[k] for k in classes[positions].tolist()],
        balances_np[positions].tolist(), accrued_now[positions].tolist(), strict=True,
    ):
        new_repurchases.append(OpenRepurchase(str(asset_id), reason, day, due_on, principal_fen, interest_fen))
        events.append(AssetEvent(str(asset_id), "repurchase_instructed", principal_fen, interest_fen, detail=reason))
    late = [
        r
        for r in [*repurchases.values(), *updated_repurchases.values()]
        if r.settled_on is None and r.due_on < day and updated_repurchases.get(r.asset_id, r).settled_on is None
    ]

    # 7. status: final amortization, credit events (stop for good), pauses, interim windows.
    pool_fen = int(balances_np.sum())
    ineligible_rate = Fraction(class_balances["ineligible"], pool_fen) if pool_fen else Fraction(0)
    cumulative_default = state.cumulative_default_fen + new_defaults
    metrics_for_triggers = {
        Metric.INELIGIBLE_ASSET_RATE.value: _dec(ineligible_rate),
        Metric.CUMULATIVE_DEFAULT_RATE.value: _dec(Fraction(cumulative_default, state.initial_pool_fen or 1)),
        Metric.DELINQUENCY_RATE.value: _dec(Fraction(sum(delinquency.values()), pool_fen or 1)),
        Metric.POOL_FACTOR.value: _dec(Fraction(pool_fen, state.initial_pool_fen or 1)),
    }
    if state.idle_measured:
        metrics_for_triggers[Metric.FUND_IDLE_RATE.value] = state.idle_rate
    status = state.status
    stopped_on, stop_reason = state.stopped_on, state.stop_reason
    paused_by: list[str] = []
    streaks = dict(state.trigger_streaks)
    if status in ("revolving", "amortizing"):
        streaks = _trigger_streaks(deal.triggers, day, metrics_for_triggers, indicators, streaks)
    triggers_hit = tuple(t.id for t in deal.triggers if t.id in state.triggers_hit
                         or (not t.curable and _trigger_hit(t, streaks)))
    if status == "amortizing" and (raised := _raised_status(deal, streaks)) != status:
        status = raised
        reasons.append(f"status {raised}: {', '.join(_status_triggers(deal, streaks, raised))}")
    if status == "revolving":
        stop = _stops(deal.triggers, spec.stop_when if spec else (), day, metrics_for_triggers, indicators, streaks)
        if late:
            stop.append(f"late repurchase payment by the originator ({', '.join(sorted(r.asset_id for r in late))})")
        if indicators.get("late_payment", "").lower() in ("1", "true", "yes"):
            stop.append("late payment reported (indicator late_payment)")
        if stop:
            status, stopped_on, stop_reason = _raised_status(deal, streaks), day, "; ".join(stop)
            reasons.append(f"revolving stopped for good ({status}): {stop_reason}")
        elif ctx.revolving_end is not None and day > ctx.revolving_end:
            status, stopped_on, stop_reason = "amortizing", day, "revolving period ended"
            reasons.append("revolving period ended: final amortization")
        else:
            paused_by = _pauses(deal.triggers, spec.pause_when if spec else (), day, metrics_for_triggers, indicators,
                                streaks)
    next_payment = ctx.next_payment_date(day)
    window_days = deal.periods.revolving.interim_amortization_working_days if deal.periods.revolving else 0
    in_window = False
    if next_payment is not None and window_days > 0:
        window_start = calendar.working_days_before(next_payment, window_days)
        in_window = window_start <= day <= next_payment
    if status != "revolving":
        purchase_state = "stopped" if stop_reason and stop_reason != "revolving period ended" else "final_amortization"
    elif paused_by:
        purchase_state = "paused"
        reasons.append("paused: " + ", ".join(paused_by))
    elif in_window:
        purchase_state = "window"
        reasons.append(f"interim amortization window before the payment date {next_payment}")
    elif end_of_term:
        purchase_state = "final_amortization"
    else:
        purchase_state = "purchase"

    # 8. reserve for the coming coupon and fees, then cash available by mode.
    reserve_target = 0
    if next_payment is not None:
        period = ctx.period_ending(next_payment)
        seniors = tuple(t.id for t in deal.tranches if t.tranche_class is TrancheClass.SENIOR)
        coupon_due = coming_interest_fen(deal, period, state.waterfall_books(), ctx.coupon_rates, seniors)
        reserve_target = sum(coupon_due.values()) + _fees_due(ctx, period, state, pool_fen)
    top_up = max(0, reserve_target - ledger.balance("cash:reserve"))
    from_interest = min(top_up, max(0, ledger.balance("cash:custody_interest")))
    from_principal = min(top_up - from_interest, max(0, ledger.balance("cash:custody_principal")))
    ledger.post(
        _entry(
            "reserve for the coming coupon and fees",
            [
                ("cash:reserve", from_interest + from_principal),
                ("cash:custody_interest", -from_interest),
                ("cash:custody_principal", -from_principal),
            ],
        )
    )
    mode = spec.purchase_mode if spec else PurchaseMode.PRINCIPAL_AND_INTEREST_BUY_PRINCIPAL
    principal_cash = max(0, ledger.balance("cash:custody_principal"))
    interest_cash = max(0, ledger.balance("cash:custody_interest"))
    available = principal_cash if mode is PurchaseMode.PRINCIPAL_BUY_PRINCIPAL else principal_cash + interest_cash

    # 9. revolving purchase.
    purchases = _empty_purchases()
    cand_table: AssetTable | None = None
    selection: Selection | None = None
    rejections: dict[str, int] = {}
    chosen_codes: list[str] = []
    if purchase_state == "purchase":
        if candidates.height == 0:
            purchase_state = "no_candidates"
        elif available <= 0:
            purchase_state = "no_cash"
        else:
            staying = ~wanted  # the pool after today's repurchase instructions
            held = np.zeros(len(day_pool), np.bool_)
            held[np.flatnonzero(kept)[staying]] = True
            # The candidates' texts join the carried vocabulary (the pool's codes remapped when it grows).
            vocab, remaps = day_pool.vocab.extended(_candidate_texts(candidates))
            day_pool = day_pool.recoded(vocab, remaps)
            cand_table = _candidate_table(candidates, day, vocab)
            selection, chosen_codes, purchases, rejections = _purchase(
                ctx, day, _recoded(pool_table.take(staying), vocab, remaps), day_pool, held,
                candidates, cand_table, available, mode, owned_elsewhere or set()
            )
            spent = selection.price_fen
            bought_principal = selection.principal_fen
            bought_interest = spent - bought_principal
            from_p = min(spent, principal_cash)
            from_i = spent - from_p
            ledger.post(
                _entry(
                    "revolving purchase",
                    [
                        ("asset:pool", bought_principal),
                        ("asset:purchased_interest", bought_interest),
                        ("cash:custody_principal", -from_p),
                        ("cash:custody_interest", -from_i),
                    ],
                )
            )
            events.extend(map(AssetEvent._make, zip(
                purchases.get_column("asset_id").to_list(), repeat("purchase"),
                purchases.get_column("balance_fen").to_list(), purchases.get_column("accrued_interest_fen").to_list(),
                repeat(0), repeat(None))))
            purchase_state = "purchased" if chosen_codes else "nothing_eligible"
    delivery = delivery_list(
        ctx.plan_code,
        day,
        chosen_codes,
        purchases.get_column("obligor_id").to_list(),
        purchases.get_column("balance_fen").to_list(),
        purchases.get_column("accrued_interest_fen").to_list(),
        (
            purchases.get_column("balance_fen")
            + (
                purchases.get_column("accrued_interest_fen")
                if mode is PurchaseMode.PRINCIPAL_AND_INTEREST_BUY_PRINCIPAL_AND_INTEREST
                else 0
            )
        ).to_list(),
    )
    idle = max(
        0,
        (
            max(0, ledger.balance("cash:custody_principal"))
            + (0 if mode is PurchaseMode.PRINCIPAL_BUY_PRINCIPAL else max(0, ledger.balance("cash:custody_interest")))
        ),
    )
    pool_after = pool_fen + int(purchases.get_column("balance_fen").sum() or 0)
    idle_rate = Fraction(idle, pool_after + idle) if (pool_after + idle) else Fraction(0)

    # 10. payment date: fees, senior interest (liquidity support, shortfall payment), principal when amortizing.
    distributions: list[Distribution] = []
    books = state.waterfall_books()
    accrual_start = state.accrual_start
    interest_mark = state.interest_income_at_payment_fen
    payment: Payment | None = None
    if day in ctx.payment_dates:
        income = -ledger.balance("income:interest")
        payment = pay_waterfall(deal, ctx.period_ending(day), ledger, books, DealStatus(status), pool_fen=pool_after,
                                period_interest_fen=income - interest_mark,
                                waterfall_id=_switched_waterfall(deal, streaks, triggers_hit))
        distributions, books, interest_mark, accrual_start = payment.distributions, payment.books, income, day
        reasons.append(f"payment date: waterfall {payment.waterfall}")
        if day == ctx.final_date:
            status = "ended"

    # 11. metrics and the new state.
    cash_total = ledger.cash_fen()
    metrics = {
        "pool_balance_fen": str(pool_after),
        "cash_fen": str(cash_total),
        "scale_fen": str(pool_after + cash_total),
        "available_fen": str(available),
        "idle_fen": str(idle),
        "fund_idle_rate": _dec(idle_rate),
        "fund_utilization": _dec(Fraction(1) - idle_rate) if available else "1",
        "ineligible_asset_rate": metrics_for_triggers[Metric.INELIGIBLE_ASSET_RATE.value],
        "cumulative_default_rate": metrics_for_triggers[Metric.CUMULATIVE_DEFAULT_RATE.value],
        "delinquency_rate": metrics_for_triggers[Metric.DELINQUENCY_RATE.value],
        "reserve_target_fen": str(reserve_target),
        "assets": str(len(pool_table) + purchases.height),
    }
    new_state = PlanState(
        status=status,
        last_run_date=day,
        initial_pool_fen=state.initial_pool_fen,
        cumulative_default_fen=cumulative_default,
        balances=ledger.snapshot(),
        tranche_balance_fen=books.tranche_balance_fen,
        accrual_start=accrual_start,
        stopped_on=stopped_on,
        stop_reason=stop_reason,
        idle_rate=_dec(idle_rate),
        ineligible_rate=metrics_for_triggers[Metric.INELIGIBLE_ASSET_RATE.value],
        defaulted_assets=tuple(sorted(defaulted_in_pool)),
        trigger_streaks=streaks,
        triggers_hit=triggers_hit,
        idle_measured=purchase_state not in ("window", "paused", "stopped", "final_amortization"),
        interest_unpaid_fen=books.interest_unpaid_fen,
        fee_unpaid_fen=books.fee_unpaid_fen,
        one_off_fees_paid=books.one_off_fees_paid,
        interest_income_at_payment_fen=interest_mark,
    )
    end_pool = rows.end_pool(day_pool, kept, purchases, selection.chosen if selection else None, cand_table)
    return DayResult(
        business_date=day,
        status=status,
        purchase_state=purchase_state,
        reasons=reasons,
        pool_updates=settled.pool_updates,
        removals=settled.removals,
        purchases=purchases,
        delivery=delivery,
        events=events,
        entries=ledger.entries,
        new_repurchases=new_repurchases,
        repurchase_updates=list(updated_repurchases.values()),
        distributions=distributions,
        state=new_state,
        metrics=metrics,
        available_fen=available,
        rejections=rejections,
        class_balances_fen=class_balances,
        delinquency_fen=delinquency,
        selection=selection,
        payment=payment,
        pool_after=end_pool,
        triggers={t.id: {"days": str(streaks.get(t.id, 0)), "needed": str(t.consecutive_days),
                         "hit": str(t.id in triggers_hit or _trigger_hit(t, streaks)).lower()}
                  for t in deal.triggers},
    )


class _DayRows:
    """The day's changing pool columns as numpy arrays (row = the start pool's row), changed in
    place by the steps, with which rows each column changed on; ``end_of_day`` turns them into
    the day's pool updates and the end-of-day pool, touching no other row's values."""

    UPDATE_COLUMNS = ("asset_id", "balance_fen", "accrued_interest_fen", "cutoff_date", "maturity_date",
                      "extension_count", "status")

    def __init__(self, pool: DayPool, day: date) -> None:
        frame = pool.frame
        self.day = np.datetime64(day, "D")
        self.balance = frame.get_column("balance_fen").to_numpy().astype(np.int64, copy=True)
        self.accrued = frame.get_column("accrued_interest_fen").fill_null(0).to_numpy().astype(np.int64, copy=True)
        self.cutoff = frame.get_column("cutoff_date").to_numpy().astype("datetime64[D]", copy=True)
        self.maturity = frame.get_column("maturity_date").to_numpy().astype("datetime64[D]", copy=True)
        self.extensions = frame.get_column("extension_count").fill_null(0).to_numpy().astype(np.int64, copy=True)
        self.extensions_filled = False
        self.status: dict[int, str] = {}
        self._touched: dict[str, list[npt.NDArray[np.intp]]] = {}
        self._changed_rows: npt.NDArray[np.intp] = np.zeros(0, np.intp)
        self._final_columns: list[pl.Series] = []
        # Accrued unpaid interest as of today (``accrued_interest``, same float steps and rounding).
        rate = frame.get_column("rate").fill_null(0.0).to_numpy()
        days = np.maximum((self.day - self.cutoff).astype(np.int64), 0)
        self.accrued_today = self.accrued + np.round(self.balance * rate * days / MARGIN_DAY_BASIS).astype(np.int64)
        self._frame = frame

    def touch(self, column: str, at: npt.NDArray[np.intp]) -> None:
        self._touched.setdefault(column, []).append(np.asarray(at, np.intp))

    def set_accrued(self, at: npt.NDArray[np.intp], left_fen: Int64Array) -> None:
        """Interest paid on ``at``: the accrual left is stored as of today (cut-off today)."""
        self.accrued[at] = left_fen
        self.accrued_today[at] = left_fen
        self.cutoff[at] = self.day
        self.touch("accrued_interest_fen", at)
        self.touch("cutoff_date", at)

    def status_masks(self) -> tuple[BoolArray, BoolArray]:
        """Rows defaulted and rows in liquidation, today's status changes included."""
        status = self._frame.get_column("status")
        defaulted = (status == "defaulted").fill_null(False).to_numpy().copy()
        liquidating = (status == "liquidating").fill_null(False).to_numpy().copy()
        for row, value in self.status.items():
            defaulted[row], liquidating[row] = value == "defaulted", value == "liquidating"
        return defaulted, liquidating

    def _columns(self) -> list[pl.Series]:
        """The update columns over every row: the start values, the day's values where changed."""
        frame = self._frame
        work: dict[str, Any] = {"balance_fen": self.balance, "accrued_interest_fen": self.accrued,
                                "cutoff_date": self.cutoff, "maturity_date": self.maturity,
                                "extension_count": self.extensions}
        out = [frame.get_column("asset_id")]
        for name in self.UPDATE_COLUMNS[1:-1]:
            start = frame.get_column(name)
            if name == "extension_count" and self.extensions_filled:
                start = start.fill_null(0)
            touched = self._touched.get(name)
            if touched:
                mask = np.zeros(frame.height, np.bool_)
                for at in touched:
                    mask[at] = True
                start = pl.select(pl.when(pl.Series(mask)).then(pl.Series(work[name]).cast(start.dtype))
                                  .otherwise(start)).to_series()
            out.append(start.alias(name))
        status = frame.get_column("status")
        if self.status:
            status = status.clone().scatter(list(self.status), list(self.status.values()))
        out.append(status)
        return out

    def updates(self, changed_rows: npt.NDArray[np.intp]) -> pl.DataFrame:
        """The pool updates: ``UPDATE_COLUMNS`` of ``changed_rows`` (in pool order), the rows
        :meth:`end_pool` then takes the day's values of. Called once, after the last change."""
        self._changed_rows = changed_rows
        self._final_columns = self._columns()
        return pl.DataFrame(self._final_columns).select(pl.all().gather(changed_rows))

    def end_pool(self, pool: DayPool, kept: BoolArray, purchases: pl.DataFrame, chosen: npt.NDArray[np.intp] | None,
                 candidates: AssetTable | None) -> DayPool:
        """The end-of-day pool (after :meth:`updates`): start rows with the changed rows' non-null
        update values (as the written rows read back), removed rows dropped, purchases appended;
        codes carried, not rebuilt. ``pool``: the start pool, its codes possibly into a grown
        vocabulary (``DayPool.recoded``)."""
        frame, columns = self._frame, self._final_columns
        changed = np.zeros(frame.height, np.bool_)
        changed[self._changed_rows] = True
        after = frame.with_columns(
            pl.when(pl.lit(pl.Series(changed) & column.is_not_null())).then(pl.lit(column))
            .otherwise(pl.col(column.name)).alias(column.name) for column in columns[1:]
        ).filter(pl.Series(kept))
        after = pl.concat([after, purchases.select(after.columns)])
        if chosen is None or candidates is None or not purchases.height:
            codes = {name: values[kept] for name, values in pool.codes.items()}
        else:
            codes = {name: np.concatenate([values[kept], (candidates.client if name == "client"
                                                          else candidates.groups[name])[chosen]])
                     for name, values in pool.codes.items()}
        bought_ids = purchases.get_column("asset_id").to_list()
        ids = np.concatenate([pool.ids[kept], np.asarray(bought_ids, dtype=object)])
        index = pool.row_of.after(kept, pool.ids[~kept].tolist(), bought_ids, ids)
        return DayPool(after, ids, codes, pool.vocab, index)


def _dec(value: Fraction) -> str:
    """A fraction as a decimal string with 6 places (metrics; never floats in payloads)."""
    return str((Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.000001")))


def _entry(memo: str, lines: Sequence[tuple[str, int]]) -> Entry | None:
    kept = tuple((a, int(x)) for a, x in lines if x != 0)
    return Entry(memo, kept) if kept else None


def _income_today(ledger: Ledger) -> int:
    """Interest and fees inside the collection account's balance today (from today's entries)."""
    income = 0
    for entry in ledger.entries:
        for account, amount in entry.lines:
            if account in ("income:interest", "income:fees"):
                income -= amount
    return income


def _due_date(calendar: Calendar, day: date, last_due: date | None) -> date:
    """Repurchase due date: ``REPURCHASE_DUE_TRADING_DAYS`` trading days on, never after ``last_due``."""
    due = calendar.add_business_days(day, REPURCHASE_DUE_TRADING_DAYS, DayKind.TRADING)
    return max(day, min(due, last_due)) if last_due is not None else due


def _buckets(
    overdue_days: np.ndarray[Any, np.dtype[np.int64]], balance_fen: np.ndarray[Any, np.dtype[np.int64]]
) -> dict[str, int]:
    edges = (("1-30", 1, 30), ("31-60", 31, 60), ("61-90", 61, 90), ("90+", 91, 10**9))
    return {name: int(balance_fen[(overdue_days >= low) & (overdue_days <= high)].sum()) for name, low, high in edges}


def _trigger_streaks(
    triggers: Sequence[Trigger],
    day: date,
    metrics: Mapping[str, str],
    indicators: Mapping[str, str],
    streaks: Mapping[str, int],
) -> dict[str, int]:
    """Consecutive days each trigger's condition has held, today included. A day on which the
    trigger's metric is not known (e.g. the fund idle rate after a day without purchases by
    rule) neither counts nor breaks the run; before ``test_from`` the count stays 0."""
    out = dict(streaks)
    for trigger in triggers:
        if trigger.test_from and day < trigger.test_from:
            out[trigger.id] = 0
            continue
        if not _metric_known(trigger.metric.value, metrics, indicators):
            continue
        hit = _metric_hit(trigger.metric.value, trigger.comparison, trigger.threshold.value_on(day), metrics,
                          indicators)
        out[trigger.id] = out.get(trigger.id, 0) + 1 if hit else 0
    return out


def _metric_known(metric: str, metrics: Mapping[str, str], indicators: Mapping[str, str]) -> bool:
    if metric == Metric.ORIGINATOR_RATING:
        return "originator_rating" in indicators
    return metric in metrics or metric in indicators


def _trigger_hit(trigger: Trigger, streaks: Mapping[str, int]) -> bool:
    """Has the trigger's condition held on its ``consecutive_days`` (k) consecutive days?"""
    return streaks.get(trigger.id, 0) >= trigger.consecutive_days


_SEVERITY = (DealStatus.AMORTIZING, DealStatus.ACCELERATED, DealStatus.DEFAULTED)


def _status_triggers(deal: Deal, streaks: Mapping[str, int], status: str) -> list[str]:
    """Non-curable triggers hit (k days included) that change the status to ``status``."""
    return [t.id for t in deal.triggers if not t.curable and _trigger_hit(t, streaks)
            and any(e.kind is EffectKind.CHANGE_STATUS and e.status is not None and e.status.value == status
                    for e in t.effects)]


def _switched_waterfall(deal: Deal, streaks: Mapping[str, int], triggers_hit: Sequence[str]) -> str | None:
    """The waterfall a ``switch_waterfall`` effect names (the last active trigger in the deal's order
    wins, as in the cash-flow engine): non-curable triggers once hit, curable ones while hit."""
    switched = None
    for trigger in deal.triggers:
        if trigger.id in triggers_hit or (trigger.curable and _trigger_hit(trigger, streaks)):
            for effect in trigger.effects:
                if effect.kind is EffectKind.SWITCH_WATERFALL:
                    switched = effect.waterfall
    return switched


def _raised_status(deal: Deal, streaks: Mapping[str, int]) -> str:
    """Status once revolving stops: amortizing, or the most severe ``change_status`` of a non-curable
    trigger that has hit (accelerated, defaulted) when the deal has a waterfall for it."""
    raised = DealStatus.AMORTIZING
    for status in _SEVERITY:
        if status in deal.waterfalls and _status_triggers(deal, streaks, status.value):
            raised = status
    return raised.value


def _stops(
    triggers: Sequence[Trigger],
    stop_when: Sequence[RevolvingThreshold],
    day: date,
    metrics: Mapping[str, str],
    indicators: Mapping[str, str],
    streaks: Mapping[str, int],
) -> list[str]:
    hits = []
    for trigger in triggers:
        if trigger.curable:
            continue
        effects = {e.kind for e in trigger.effects}
        if EffectKind.STOP_REVOLVING not in effects and not any(
            e.kind is EffectKind.CHANGE_STATUS and e.status is not DealStatus.REVOLVING for e in trigger.effects
        ):
            continue
        if _trigger_hit(trigger, streaks):
            days = f", {streaks[trigger.id]} days" if trigger.consecutive_days > 1 else ""
            hits.append(f"trigger {trigger.id} ({trigger.name or trigger.metric.value}{days})")
    for threshold in stop_when:
        if _metric_hit(threshold.metric.value, threshold.comparison, threshold.value, metrics, indicators):
            hits.append(
                f"stop rule {threshold.id} ({threshold.metric.value} {threshold.comparison.value} {threshold.value})"
            )
    return hits


def _pauses(
    triggers: Sequence[Trigger],
    pause_when: Sequence[RevolvingThreshold],
    day: date,
    metrics: Mapping[str, str],
    indicators: Mapping[str, str],
    streaks: Mapping[str, int],
) -> list[str]:
    hits = []
    for trigger in triggers:
        if not trigger.curable or not any(e.kind is EffectKind.STOP_REVOLVING for e in trigger.effects):
            continue
        if _trigger_hit(trigger, streaks):
            hits.append(f"trigger {trigger.id}")
    for threshold in pause_when:
        if _metric_hit(threshold.metric.value, threshold.comparison, threshold.value, metrics, indicators):
            hits.append(f"pause rule {threshold.id}")
    return hits


def _marked_ratio(debt_fen: Int64Array, table: AssetTable, vocab: Vocabulary,
                  inputs: Mapping[str, pl.DataFrame]) -> FloatArray:
    """Maintenance ratio per row of ``table``: the client's ratio from the day's positions ×
    close prices, cash and debts (``debt_fen`` per row: balance + stored accrual, unless the
    accounts file reports the client's debt), one numpy pass keyed by the table's client codes
    into ``vocab``; the stored ratio where the client's is unknown (no positions file, no debt)."""
    positions, prices = inputs.get("positions"), inputs.get("prices")
    if positions is None or prices is None or len(table) == 0:
        return table.maintenance_ratio
    client_code = vocab.series("client").alias("client_id").to_frame().with_row_index("c")
    clients = client_code.height
    securities = prices.get_column("security_code").unique().sort()
    security_code = pl.DataFrame({"security_code": securities}).with_row_index("s")
    price = prices.group_by("security_code").agg(pl.col("close_price").last()).join(security_code, on="security_code")
    close = np.zeros(len(securities), np.float64)
    close[price.get_column("s").to_numpy()] = price.get_column("close_price").to_numpy()
    held = positions.join(client_code, on="client_id", how="inner", maintain_order="left").join(
        security_code, on="security_code", how="inner", maintain_order="left"
    )
    debt = group_totals(table.client, debt_fen, clients)
    cash = np.zeros(clients, np.int64)
    accounts = inputs.get("accounts")
    if accounts is not None and accounts.height:
        owed = accounts.join(client_code, on="client_id", how="inner")
        at = owed.get_column("c").cast(pl.Int64).to_numpy()
        cash[at] = owed.get_column("cash_balance_fen").fill_null(0).cast(pl.Int64).to_numpy()
        reported = owed.get_column("debt_fen").cast(pl.Int64)
        known = reported.is_not_null().to_numpy()
        debt[at[known]] = reported.to_numpy()[known]
    ratio = client_ratios(
        clients=clients,
        positions=Positions(
            held.get_column("c").cast(pl.Int64).to_numpy(),
            held.get_column("s").cast(pl.Int64).to_numpy(),
            held.get_column("quantity").cast(pl.Float64).to_numpy(),
        ),
        close_price=close,
        cash_fen=cash,
        debt_fen=debt,
    )
    marked = np.round(ratio, 6)[table.client]
    return np.where(np.isnan(marked), table.maintenance_ratio, marked)


def _empty_candidates() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "contract_id": pl.String,
            "client_id": pl.String,
            "principal_outstanding_fen": pl.Int64,
            "financing_rate": pl.Float64,
            "start_date": pl.Date,
            "due_date": pl.Date,
            "extension_count": pl.Int64,
            "accrued_interest_fen": pl.Int64,
            "maintenance_ratio": pl.Float64,
            "status": pl.String,
            "region": pl.String,
            "industry": pl.String,
            "branch": pl.String,
        }
    )


def _empty_purchases() -> pl.DataFrame:
    return pl.DataFrame(schema=POOL_COLUMNS)


def _candidate_frame(candidates: pl.DataFrame | None) -> pl.DataFrame:
    """The day's candidates with every column the tables read (absent optional ones null)."""
    if candidates is None:
        return _empty_candidates()
    for column, dtype in _empty_candidates().schema.items():
        if column not in candidates.columns:
            candidates = candidates.with_columns(pl.lit(None, dtype=dtype).alias(column))
    return candidates


def _purchase(
    ctx: DayContext,
    day: date,
    pool_table: AssetTable,
    pool: DayPool,
    held: BoolArray,
    candidates: pl.DataFrame,
    cand_table: AssetTable,
    available_fen: int,
    mode: PurchaseMode,
    owned_elsewhere: set[str],
) -> tuple[Selection, list[str], pl.DataFrame, dict[str, int]]:
    spec = ctx.deal.revolving
    assert spec is not None
    result: EligibilityResult = check_eligibility(
        cand_table, spec.eligibility, as_of=day, plan_end=ctx.deal.dates.legal_maturity
    )
    codes = candidates.get_column("contract_id").to_list()
    rows = pool.rows_of_all(codes)  # a candidate held by this pool (``held`` rows) is owned
    owned_np = (rows >= 0) & held[np.maximum(rows, 0)] if len(held) else np.zeros(len(rows), np.bool_)
    owned_np |= np.fromiter(map(owned_elsewhere.__contains__, codes), np.bool_, count=len(codes))
    eligible = result.eligible & ~owned_np
    price = cand_table.principal_fen.copy()
    if mode is PurchaseMode.PRINCIPAL_AND_INTEREST_BUY_PRINCIPAL_AND_INTEREST:
        price = price + cand_table.accrued_interest_fen
    selection = select_purchases(
        cand_table,
        pool_table,
        eligible=eligible,
        price_fen=price,
        cash_fen=available_fen,
        limits=spec.concentration,
        min_purchase_fen=_yuan_fen(spec.min_purchase_amount),
    )
    rejections = result.failure_counts()
    rejections["R00_already_owned"] = int(owned_np.sum())
    chosen = candidates[selection.chosen.tolist()] if selection.chosen.size else candidates.head(0)
    purchases = chosen.select(
        pl.col("contract_id").alias("asset_id"),
        pl.col("client_id").alias("obligor_id"),
        pl.col("principal_outstanding_fen").alias("balance_fen"),
        pl.col("accrued_interest_fen").fill_null(0).alias("accrued_interest_fen"),
        pl.col("financing_rate").alias("rate"),
        pl.col("start_date"),
        pl.col("due_date").alias("maturity_date"),
        pl.col("extension_count").fill_null(0),
        pl.col("maintenance_ratio"),
        pl.lit("performing").alias("status"),
        pl.col("region"),
        pl.col("industry"),
        pl.col("branch"),
        pl.lit(day).alias("cutoff_date"),
        pl.lit(day).alias("acquired_on"),
    ).select([pl.col(c).cast(t) for c, t in POOL_COLUMNS.items()])
    if mode is not PurchaseMode.PRINCIPAL_AND_INTEREST_BUY_PRINCIPAL_AND_INTEREST:
        # Bought at par for principal: the seller keeps the accrued interest; the plan accrues from today.
        purchases = purchases.with_columns(pl.lit(0, dtype=pl.Int64).alias("accrued_interest_fen"))
    return selection, purchases.get_column("asset_id").to_list(), purchases, rejections
