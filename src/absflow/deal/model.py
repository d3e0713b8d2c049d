"""The deal inside absflow: frozen dataclasses built from a validated deal document.

Money is ``Decimal`` yuan (exact, to the fen); rates are fractions (0.0335); dates are
``date``. Every object that other parts of the document refer to has an ``id``. The
document edge (pydantic, JSON Schema) lives in :mod:`absflow.deal.document`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from absflow.domain.daycount import DayCount as DayCount  # the one day-count vocabulary, re-exported

# ---------------------------------------------------------------- vocabulary


class BusinessDayConvention(StrEnum):
    FOLLOWING = "following"
    MODIFIED_FOLLOWING = "modified_following"
    PRECEDING = "preceding"
    UNADJUSTED = "unadjusted"


class Frequency(StrEnum):
    """How often something is paid; ``at_maturity`` means once, on the last payment date."""

    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMIANNUAL = "semiannual"
    ANNUAL = "annual"
    AT_MATURITY = "at_maturity"

    @property
    def months(self) -> int | None:
        """Months between payments, None for week-based or at-maturity frequencies."""
        return {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12}.get(self.value)

    @property
    def weeks(self) -> int | None:
        return {"weekly": 1, "biweekly": 2}.get(self.value)


class DealStatus(StrEnum):
    """What the deal is doing; each status picks its waterfall."""

    REVOLVING = "revolving"  # 循环购买期
    AMORTIZING = "amortizing"  # 摊还期
    ACCELERATED = "accelerated"  # 加速清偿
    DEFAULTED = "defaulted"  # 违约事件后


class PoolSource(StrEnum):
    PLAN = "plan"  # a tape imported into a plan
    TAPE_FILE = "tape_file"
    REP_LINES = "rep_lines"


class Amortization(StrEnum):
    LEVEL_PAYMENT = "level_payment"  # 等额本息
    EQUAL_PRINCIPAL = "equal_principal"  # 等额本金
    INTEREST_ONLY = "interest_only"  # 先息后本
    BULLET = "bullet"  # single-payment receivable
    REVOLVING = "revolving"  # revolving line repaid at a payment rate (margin loans)


class TrancheClass(StrEnum):
    SENIOR = "senior"  # 优先级
    MEZZANINE = "mezzanine"  # 中间级
    SUBORDINATE = "subordinate"  # 次级


class CouponKind(StrEnum):
    FIXED = "fixed"
    FLOATING = "floating"
    NONE = "none"  # subordinate tranche with residual only


class PrincipalType(StrEnum):
    BULLET = "bullet"
    SEQUENTIAL = "sequential"
    PRO_RATA = "pro_rata"
    PASS_THROUGH = "pass_through"
    TARGET_BALANCE = "target_balance"


class AccountKind(StrEnum):
    COLLECTION = "collection"  # 收款/托管账户
    RESERVE = "reserve"  # 储备金
    LIQUIDITY = "liquidity"  # 流动性储备


class ReserveTargetKind(StrEnum):
    FIXED = "fixed"  # a constant amount
    PERCENT_OF_POOL = "percent_of_pool"  # rate × current pool balance
    PERCENT_OF_TRANCHES = "percent_of_tranches"  # rate × balance of the named tranches
    NEXT_INTEREST = "next_interest"  # next period's interest of the named tranches × multiple


class FeeKind(StrEnum):
    FIXED = "fixed"  # amount per year, accrued by day count
    PERCENT_OF_BALANCE = "percent_of_balance"  # rate p.a. × base balance × year fraction
    ONE_OFF = "one_off"  # once, on the first payment date (or ``on``)


class FeeBase(StrEnum):
    POOL = "pool"
    TRANCHES = "tranches"  # all tranches, or those named in ``tranches``


class ActionKind(StrEnum):
    PAY_TAX = "pay_tax"
    PAY_FEE = "pay_fee"
    PAY_INTEREST = "pay_interest"
    PAY_PRINCIPAL = "pay_principal"
    TRANSFER = "transfer"
    TOP_UP_RESERVE = "top_up_reserve"
    DRAW_LIQUIDITY = "draw_liquidity"
    REPAY_LIQUIDITY = "repay_liquidity"
    CALL_SHORTFALL = "call_shortfall"
    BUY_ASSETS = "buy_assets"
    PAY_RESIDUAL = "pay_residual"


class SplitMode(StrEnum):
    SEQUENTIAL = "sequential"
    PRO_RATA = "pro_rata"
    TO_TARGET = "to_target"


class LimitKind(StrEnum):
    AMOUNT = "amount"  # at most ``amount`` yuan
    PERCENT_OF_AVAILABLE = "percent_of_available"  # at most ``rate`` × cash available
    ANNUAL_RETURN = "annual_return"  # at most ``rate`` p.a. on the tranche balance (次级期间收益上限)
    DUE_ONLY = "due_only"  # only what is due (default for interest/fees)


class Metric(StrEnum):
    """Named deal metrics a trigger can look at (all fractions except the rating)."""

    CUMULATIVE_DEFAULT_RATE = "cumulative_default_rate"  # cumulative defaults / initial pool
    DELINQUENCY_RATE = "delinquency_rate"  # delinquent balance / pool balance
    INELIGIBLE_ASSET_RATE = "ineligible_asset_rate"  # 不合格资产率
    FUND_IDLE_RATE = "fund_idle_rate"  # 资金闲置率: idle cash / (pool + idle cash)
    ORIGINATOR_RATING = "originator_rating"  # a rating string; compared on the rating scale
    POOL_FACTOR = "pool_factor"  # pool balance / initial pool
    SENIOR_INTEREST_SHORTFALL = "senior_interest_shortfall"  # unpaid senior interest, yuan


class Comparison(StrEnum):
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    EQ = "eq"
    NE = "ne"


class EffectKind(StrEnum):
    CHANGE_STATUS = "change_status"
    STOP_REVOLVING = "stop_revolving"
    SWITCH_WATERFALL = "switch_waterfall"


class SupportKind(StrEnum):
    ACCOUNT = "account"  # draw another account (reserve, liquidity)
    LIQUIDITY = "liquidity"  # originator liquidity support facility
    GUARANTOR = "guarantor"  # 差额支付 shortfall payment


class RepurchaseKind(StrEnum):
    INELIGIBLE = "ineligible"  # 不合格基础资产
    RISK = "risk"  # 风险基础资产 (maintenance ratio below a line)
    NON_PERFORMING = "non_performing"  # 不良基础资产
    END_OF_TERM_UNSETTLED = "end_of_term_unsettled"  # 期末未了结基础资产
    INTERIM = "interim"  # 期间回购 of eligible assets
    CLEAN_UP = "clean_up"  # 清仓回购


class PurchaseMode(StrEnum):
    """What revolving purchases are paid with and what they buy."""

    PRINCIPAL_AND_INTEREST_BUY_PRINCIPAL = "principal_and_interest_buy_principal"  # 本息买本
    PRINCIPAL_BUY_PRINCIPAL = "principal_buy_principal"  # 本金买本
    # 本息买本息
    PRINCIPAL_AND_INTEREST_BUY_PRINCIPAL_AND_INTEREST = "principal_and_interest_buy_principal_and_interest"


class EligibilityRule(StrEnum):
    """Per-asset eligibility criteria (合格标准). ``value`` type per rule is in docs/DEAL.md."""

    MIN_MAINTENANCE_RATIO = "min_maintenance_ratio"  # fraction, 1.5 = 150%
    MIN_FINANCING_RATE = "min_financing_rate"  # fraction p.a.
    MAX_SINGLE_LOAN_PRINCIPAL = "max_single_loan_principal"  # yuan
    MIN_SINGLE_LOAN_PRINCIPAL = "min_single_loan_principal"  # yuan
    TERM_INSIDE_PLAN = "term_inside_plan"  # maturity on or before the legal maturity (bool)
    MAX_REMAINING_TERM_DAYS = "max_remaining_term_days"  # days
    NOT_OVERDUE = "not_overdue"  # bool
    NOT_IN_LIQUIDATION = "not_in_liquidation"  # bool: not in forced liquidation 强制平仓
    NOT_EXTENDED = "not_extended"  # bool: never extended 展期
    MAX_EXTENSIONS = "max_extensions"  # count
    ALLOWED_VALUES = "allowed_values"  # field in list (allow list)
    DENIED_VALUES = "denied_values"  # field not in list (deny list)


class ConcentrationRule(StrEnum):
    """Pool concentration limits (shares of the pool principal after the purchase)."""

    SINGLE_CLIENT_MAX_SHARE = "single_client_max_share"
    TOP_N_CLIENTS_MAX_SHARE = "top_n_clients_max_share"
    SINGLE_GROUP_MAX_SHARE = "single_group_max_share"  # by any field: region, industry, security…
    SINGLE_LOAN_MAX_SHARE = "single_loan_max_share"


#: Credit rating scale, best first. Trigger comparisons on ratings use positions on this
#: scale: "lt AA" means strictly worse than AA.
RATING_SCALE: tuple[str, ...] = (
    "AAA", "AA+", "AA", "AA-", "A+", "A", "A-", "BBB+", "BBB", "BBB-", "BB+", "BB", "BB-",
    "B+", "B", "B-", "CCC", "CC", "C", "D",
)


def rating_rank(rating: str) -> int | None:
    """Position of ``rating`` on the scale (0 = AAA), ignoring an ``sf`` suffix; None if unknown."""
    text = rating.strip().removesuffix("sf").removesuffix("_sf").strip()
    try:
        return RATING_SCALE.index(text)
    except ValueError:
        return None


# ---------------------------------------------------------------- dates and schedule


@dataclass(frozen=True, slots=True)
class DealDates:
    cutoff: date  # 初始起算日
    establishment: date  # 设立日 / 起息日
    first_payment: date  # first 兑付日 (unadjusted)
    payment_frequency: Frequency
    payment_day: int | None  # day of month of payment dates; None → day of first_payment
    legal_maturity: date  # 法定到期日
    expected_maturity: date | None  # 预期到期日
    calendar: str  # "SSE" (trading days), "SZSE", "CN", "weekdays"
    business_day_convention: BusinessDayConvention
    day_count: DayCount


# ---------------------------------------------------------------- pool


@dataclass(frozen=True, slots=True)
class RepLine:
    """One representative line of the pool (balances in yuan, rates as fractions p.a.)."""

    id: str
    balance: Decimal
    rate: Decimal
    term_months: int
    amortization: Amortization
    remaining_term_months: int | None = None
    net_rate: Decimal | None = None
    payment_rate_monthly: Decimal | None = None  # revolving lines: share of balance repaid per month
    segment: str | None = None


@dataclass(frozen=True, slots=True)
class PoolSpec:
    source: PoolSource
    plan_code: str | None = None
    tape_file: str | None = None
    tape_mapping: str | None = None  # tape_file: a mapping YAML path, or an asset type for canonical headers
    rep_lines: tuple[RepLine, ...] = ()
    initial_balance: Decimal | None = None  # 入池本金; required unless rep lines give it


# ---------------------------------------------------------------- tranches


@dataclass(frozen=True, slots=True)
class Coupon:
    kind: CouponKind
    rate: Decimal | None = None  # fixed rate p.a.
    index: str | None = None  # floating: "LPR1Y" | "LPR5Y"
    index_rate: Decimal | None = None  # assumed index level when the scenario gives none
    margin: Decimal | None = None  # fraction p.a. added to the index
    floor: Decimal | None = None
    cap: Decimal | None = None


@dataclass(frozen=True, slots=True)
class InterestSchedule:
    """When interest is paid, per deal status; ``None`` frequency = every payment date."""

    frequency: Frequency | None = None
    during_revolving: bool = True  # pays interest while revolving (seed 001: some deals don't)
    day_count: DayCount | None = None  # overrides the deal's
    deferrable: bool = False  # unpaid interest carries over without being an event


@dataclass(frozen=True, slots=True)
class TargetStep:
    on_or_after: date
    balance: Decimal


@dataclass(frozen=True, slots=True)
class Tranche:
    id: str
    tranche_class: TrancheClass
    size: Decimal
    coupon: Coupon
    interest: InterestSchedule
    principal_type: PrincipalType
    rating: str | None = None
    name: str | None = None
    issue_price: Decimal = Decimal(100)  # per 100 face
    target_balances: tuple[TargetStep, ...] = ()  # for principal_type target_balance
    expected_maturity: date | None = None


# ---------------------------------------------------------------- accounts, fees, tax


@dataclass(frozen=True, slots=True)
class ReserveTarget:
    kind: ReserveTargetKind
    amount: Decimal | None = None
    rate: Decimal | None = None
    tranches: tuple[str, ...] = ()
    floor: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    kind: AccountKind
    initial_balance: Decimal = Decimal(0)
    target: ReserveTarget | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Fee:
    id: str
    kind: FeeKind
    amount: Decimal | None = None  # fixed: yuan per year; one_off: yuan
    rate: Decimal | None = None  # percent_of_balance: fraction p.a.
    base: FeeBase = FeeBase.POOL
    tranches: tuple[str, ...] = ()
    day_count: DayCount | None = None
    on: date | None = None  # one_off: payment date it is due on (default first)
    payee: str | None = None


@dataclass(frozen=True, slots=True)
class Tax:
    """增值税及附加: ``rate`` × the base (interest collected by the pool) each period."""

    rate: Decimal
    base: str = "pool_interest"


# ---------------------------------------------------------------- periods


@dataclass(frozen=True, slots=True)
class RevolvingPeriod:
    """循环购买期: from establishment to ``end``; revolving pauses ``interim_amortization_working_days``
    working days before each payment date (期间摊还期)."""

    end: date
    interim_amortization_working_days: int = 0
    purchase_frequency: str = "daily"


@dataclass(frozen=True, slots=True)
class FinalAmortization:
    """期末摊还期: from ``start`` (or revolving end) to the expected maturity."""

    start: date | None = None
    length_working_days: int | None = None
    length_months: int | None = None


@dataclass(frozen=True, slots=True)
class Periods:
    initial_status: DealStatus
    revolving: RevolvingPeriod | None = None
    final_amortization: FinalAmortization | None = None


# ---------------------------------------------------------------- waterfalls


@dataclass(frozen=True, slots=True)
class Limit:
    kind: LimitKind
    amount: Decimal | None = None
    rate: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Support:
    """One link in a support chain: an account, or a credit-enhancement facility by id."""

    kind: SupportKind
    ref: str


@dataclass(frozen=True, slots=True)
class Action:
    """One step of a waterfall. Which fields matter depends on ``kind`` (docs/DEAL.md)."""

    kind: ActionKind
    source: str | None = None  # account paid from; default: the first collection account
    fees: tuple[str, ...] = ()
    tranches: tuple[str, ...] = ()
    mode: SplitMode = SplitMode.SEQUENTIAL
    to: str | None = None  # transfer / top-up: target account
    account: str | None = None  # top_up_reserve: the reserve account
    facility: str | None = None  # draw/repay liquidity, call_shortfall: the facility id
    limit: Limit | None = None
    support: tuple[Support, ...] = ()
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Waterfall:
    id: str
    actions: tuple[Action, ...]


# ---------------------------------------------------------------- triggers


@dataclass(frozen=True, slots=True)
class ThresholdStep:
    on_or_after: date
    value: str  # Decimal text, or a rating


@dataclass(frozen=True, slots=True)
class Threshold:
    """A constant, or steps by date (the last step on or before the test date applies)."""

    constant: str | None = None
    steps: tuple[ThresholdStep, ...] = ()

    def value_on(self, on: date) -> str | None:
        if self.constant is not None:
            return self.constant
        current: str | None = None
        for step in self.steps:
            if step.on_or_after <= on:
                current = step.value
        return current


@dataclass(frozen=True, slots=True)
class Effect:
    kind: EffectKind
    status: DealStatus | None = None
    waterfall: str | None = None


@dataclass(frozen=True, slots=True)
class Trigger:
    id: str
    metric: Metric
    comparison: Comparison
    threshold: Threshold
    effects: tuple[Effect, ...]
    curable: bool = False
    name: str | None = None
    test_from: date | None = None
    #: The condition must hold on this many consecutive tests (trading days in daily operations) to hit.
    consecutive_days: int = 1


# ---------------------------------------------------------------- credit enhancement


@dataclass(frozen=True, slots=True)
class LiquiditySupport:
    """Originator liquidity support (流动性支持) of interest on ``tranches``; drawn amounts are
    repaid later by a ``repay_liquidity`` action."""

    id: str
    provider: str
    tranches: tuple[str, ...]
    cover_interest: bool = True
    cover_principal: bool = False
    cap: Decimal | None = None  # total outstanding draws, yuan
    repayable: bool = True


@dataclass(frozen=True, slots=True)
class ShortfallPayment:
    """差额支付: the guarantor pays what the plan lacks for ``tranches``' interest/principal, up to ``cap``."""

    id: str
    provider: str
    tranches: tuple[str, ...]
    cover_interest: bool = True
    cover_principal: bool = True
    cap: Decimal | None = None  # cumulative, yuan


@dataclass(frozen=True, slots=True)
class Repurchase:
    kind: RepurchaseKind
    obligor: str
    price: str = "outstanding_principal_plus_accrued_interest"
    maintenance_ratio_below: Decimal | None = None  # for kind risk


@dataclass(frozen=True, slots=True)
class CreditEnhancement:
    liquidity_support: tuple[LiquiditySupport, ...] = ()
    shortfall_payment: tuple[ShortfallPayment, ...] = ()
    repurchase: tuple[Repurchase, ...] = ()


# ---------------------------------------------------------------- revolving operations


@dataclass(frozen=True, slots=True)
class Eligibility:
    """One eligibility criterion; ``id`` is what a rejection cites."""

    id: str
    rule: EligibilityRule
    value: str | None = None  # Decimal text / int text / "true"
    field: str | None = None  # allow/deny lists: tape field
    values: tuple[str, ...] = ()
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Concentration:
    id: str
    rule: ConcentrationRule
    max_share: Decimal
    top_n: int | None = None
    field: str | None = None  # single_group_max_share: region, industry, security_code…
    description: str | None = None


@dataclass(frozen=True, slots=True)
class MaintenanceLines:
    """Maintenance collateral ratio lines (维持担保比例), fractions: 1.5 = 150%."""

    warning: Decimal | None = None
    liquidation: Decimal | None = None
    repurchase: Decimal | None = None


@dataclass(frozen=True, slots=True)
class RevolvingThreshold:
    """Pause (暂停) or stop (停止) revolving while ``metric`` compares true to ``value``."""

    id: str
    metric: Metric
    comparison: Comparison
    value: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class RevolvingSpec:
    purchase_mode: PurchaseMode
    eligibility: tuple[Eligibility, ...] = ()
    concentration: tuple[Concentration, ...] = ()
    maintenance_lines: MaintenanceLines = field(default_factory=MaintenanceLines)
    pause_when: tuple[RevolvingThreshold, ...] = ()
    stop_when: tuple[RevolvingThreshold, ...] = ()
    purchase_price: str = "par"  # price paid per yuan of principal bought
    min_purchase_amount: Decimal | None = None


# ---------------------------------------------------------------- the deal


@dataclass(frozen=True, slots=True)
class Deal:
    name: str
    dates: DealDates
    pool: PoolSpec
    tranches: tuple[Tranche, ...]
    accounts: tuple[Account, ...]
    fees: tuple[Fee, ...]
    periods: Periods
    waterfalls: dict[DealStatus, Waterfall]
    triggers: tuple[Trigger, ...] = ()
    credit_enhancement: CreditEnhancement = field(default_factory=CreditEnhancement)
    tax: Tax | None = None
    revolving: RevolvingSpec | None = None
    extra_waterfalls: dict[str, Waterfall] = field(default_factory=dict)
    plan_code: str | None = None
    asset_type: str | None = None
    currency: str = "CNY"
    parties: dict[str, str] = field(default_factory=dict)
    schema_version: int = 1

    def tranche(self, tranche_id: str) -> Tranche:
        for t in self.tranches:
            if t.id == tranche_id:
                return t
        raise KeyError(tranche_id)

    def account(self, account_id: str) -> Account:
        for a in self.accounts:
            if a.id == account_id:
                return a
        raise KeyError(account_id)

    @property
    def collection_account(self) -> str:
        """Id of the first collection account (where pool cash lands)."""
        for a in self.accounts:
            if a.kind is AccountKind.COLLECTION:
                return a.id
        raise KeyError("collection")

    def waterfall_by_id(self, waterfall_id: str) -> Waterfall:
        for w in (*self.waterfalls.values(), *self.extra_waterfalls.values()):
            if w.id == waterfall_id:
                return w
        raise KeyError(waterfall_id)
