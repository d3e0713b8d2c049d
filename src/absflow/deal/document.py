"""The deal document at the edge: YAML/JSON text → pydantic models → frozen dataclasses.

``parse_deal(data)`` / ``parse_deal_text(text)`` return a :class:`absflow.deal.model.Deal`
or raise ``ValidationFailed`` listing every problem with its path in the document
(``tranches[1].size``). Pydantic checks shapes and types; :mod:`absflow.deal.validate`
checks meaning (references, order of dates, signs). ``deal_json_schema()`` is the
published JSON Schema (``absflow deal schema``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from absflow.deal import model as m
from absflow.domain.issues import Issue, Location, ValidationFailed

SCHEMA_VERSION = 1

_METRICS = [x.value for x in m.Metric]
_METRIC_ENUM: dict[str, Any] = {"enum": list(_METRICS)}


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


# ---------------------------------------------------------------- dates, pool


class DatesDoc(_Doc):
    cutoff: date = Field(description="初始起算日 / 封包日: pool cut-off date")
    establishment: date = Field(description="设立日 / 起息日: establishment (interest start) date")
    first_payment: date = Field(description="First payment date 首个兑付日 (unadjusted)")
    payment_frequency: m.Frequency = Field(description="How often payment dates fall")
    payment_day: int | None = Field(None, description="Day of month of payment dates; default: first_payment's")
    legal_maturity: date = Field(description="法定到期日")
    expected_maturity: date | None = Field(None, description="预期到期日")
    calendar: str = Field("SSE", description="Business-day calendar: SSE (trading days), SZSE, CN, weekdays")
    business_day_convention: m.BusinessDayConvention = m.BusinessDayConvention.FOLLOWING
    day_count: m.DayCount = m.DayCount.ACT_365F


class RepLineDoc(_Doc):
    id: str
    balance: Decimal = Field(description="yuan")
    rate: Decimal = Field(description="gross rate p.a., fraction")
    term_months: int
    amortization: m.Amortization = m.Amortization.LEVEL_PAYMENT
    remaining_term_months: int | None = None
    net_rate: Decimal | None = None
    payment_rate_monthly: Decimal | None = Field(None, description="revolving lines: share of balance repaid per month")
    segment: str | None = None


class PoolDoc(_Doc):
    source: m.PoolSource
    plan_code: str | None = Field(None, description="source plan: the plan whose imported tape is the pool")
    tape_file: str | None = Field(None, description="source tape_file: path of the tape (CSV, XLSX or Parquet; "
                                  "relative to the deal document)")
    tape_mapping: str | None = Field(None, description="source tape_file: the tape's column mapping (a YAML path "
                                     "relative to the deal document), or an asset type (consumer_loan, margin_loan, "
                                     "lease, receivable) when the headers are the canonical field names")
    rep_lines: list[RepLineDoc] = Field(default_factory=list)
    initial_balance: Decimal | None = Field(None, description="入池本金, yuan")


# ---------------------------------------------------------------- tranches


class CouponDoc(_Doc):
    kind: m.CouponKind
    rate: Decimal | None = Field(None, description="fixed: rate p.a., fraction")
    index: str | None = Field(None, description="floating: LPR1Y or LPR5Y")
    index_rate: Decimal | None = Field(None, description="floating: assumed index level if the scenario gives none")
    margin: Decimal | None = Field(None, description="floating: spread over the index, fraction p.a.")
    floor: Decimal | None = None
    cap: Decimal | None = None


class InterestDoc(_Doc):
    frequency: m.Frequency | None = Field(None, description="default: every payment date")
    during_revolving: bool = True
    day_count: m.DayCount | None = None
    deferrable: bool = False


class TargetStepDoc(_Doc):
    on_or_after: date
    balance: Decimal


class TrancheDoc(_Doc):
    id: str
    class_: m.TrancheClass = Field(alias="class")
    name: str | None = None
    size: Decimal = Field(description="face amount, yuan")
    coupon: CouponDoc = Field(default_factory=lambda: CouponDoc.model_validate({"kind": "none"}))
    interest: InterestDoc = Field(default_factory=lambda: InterestDoc.model_validate({}))
    principal: m.PrincipalType = m.PrincipalType.SEQUENTIAL
    target_balances: list[TargetStepDoc] = Field(default_factory=list)
    rating: str | None = None
    issue_price: Decimal = Decimal(100)
    expected_maturity: date | None = None


# ---------------------------------------------------------------- accounts, fees, tax


class ReserveTargetDoc(_Doc):
    kind: m.ReserveTargetKind
    amount: Decimal | None = None
    rate: Decimal | None = None
    tranches: list[str] = Field(default_factory=list)
    floor: Decimal | None = None


class AccountDoc(_Doc):
    id: str
    kind: m.AccountKind
    name: str | None = None
    initial_balance: Decimal = Decimal(0)
    target: ReserveTargetDoc | None = None


class FeeDoc(_Doc):
    id: str
    kind: m.FeeKind
    amount: Decimal | None = Field(None, description="fixed: yuan per year; one_off: yuan")
    rate: Decimal | None = Field(None, description="percent_of_balance: fraction p.a.")
    base: m.FeeBase = m.FeeBase.POOL
    tranches: list[str] = Field(default_factory=list)
    day_count: m.DayCount | None = None
    on: date | None = None
    payee: str | None = None


class TaxDoc(_Doc):
    rate: Decimal = Field(description="增值税及附加 as a fraction of the pool's interest collections")
    base: Literal["pool_interest"] = "pool_interest"


# ---------------------------------------------------------------- periods


class RevolvingPeriodDoc(_Doc):
    end: date = Field(description="last day of the revolving period")
    interim_amortization_working_days: int = Field(
        0, description="期间摊还期: revolving pauses this many working days before each payment date"
    )
    purchase_frequency: Literal["daily", "payment_date"] = "daily"


class FinalAmortizationDoc(_Doc):
    start: date | None = None
    length_working_days: int | None = None
    length_months: int | None = None


class PeriodsDoc(_Doc):
    initial_status: m.DealStatus = m.DealStatus.AMORTIZING
    revolving: RevolvingPeriodDoc | None = None
    final_amortization: FinalAmortizationDoc | None = None


# ---------------------------------------------------------------- waterfalls


class LimitDoc(_Doc):
    kind: m.LimitKind
    amount: Decimal | None = None
    rate: Decimal | None = None


class SupportDoc(_Doc):
    """Exactly one of ``account`` / ``liquidity`` / ``guarantor``."""

    account: str | None = None
    liquidity: str | None = None
    guarantor: str | None = None


class ActionDoc(_Doc):
    action: m.ActionKind
    source: str | None = Field(None, description="account paid from; default: the collection account")
    fees: list[str] = Field(default_factory=list)
    tranches: list[str] = Field(default_factory=list)
    mode: m.SplitMode = m.SplitMode.SEQUENTIAL
    to: str | None = None
    account: str | None = None
    facility: str | None = None
    limit: LimitDoc | None = None
    support: list[SupportDoc] = Field(default_factory=list)
    note: str | None = None


# ---------------------------------------------------------------- triggers


class ThresholdStepDoc(_Doc):
    on_or_after: date
    value: str


class ThresholdDoc(_Doc):
    value: str | None = None
    steps: list[ThresholdStepDoc] = Field(default_factory=list)


class EffectDoc(_Doc):
    kind: m.EffectKind
    status: m.DealStatus | None = None
    waterfall: str | None = None


def _threshold_shorthand(value: Any) -> Any:
    if isinstance(value, int | float | Decimal | str):
        return {"value": str(value)}
    if isinstance(value, Mapping) and "value" in value and not isinstance(value["value"], str | None):
        return {**value, "value": str(value["value"])}
    return value


class TriggerDoc(_Doc):
    id: str
    name: str | None = None
    metric: str = Field(json_schema_extra=_METRIC_ENUM)
    comparison: m.Comparison
    threshold: ThresholdDoc
    curable: bool = False
    effects: list[EffectDoc] = Field(default_factory=list)
    test_from: date | None = None
    consecutive_days: int = Field(
        default=1, ge=1, strict=True,
        description="the condition must hold on this many consecutive trading days (k ≥ 1)")

    @field_validator("threshold", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _threshold_shorthand(value)


# ---------------------------------------------------------------- credit enhancement


class LiquiditySupportDoc(_Doc):
    id: str
    provider: str
    tranches: list[str]
    cover_interest: bool = True
    cover_principal: bool = False
    cap: Decimal | None = None
    repayable: bool = True


class ShortfallPaymentDoc(_Doc):
    id: str
    provider: str
    tranches: list[str]
    cover_interest: bool = True
    cover_principal: bool = True
    cap: Decimal | None = None


class RepurchaseDoc(_Doc):
    kind: m.RepurchaseKind
    obligor: str
    price: str = "outstanding_principal_plus_accrued_interest"
    maintenance_ratio_below: Decimal | None = None


class CreditEnhancementDoc(_Doc):
    liquidity_support: list[LiquiditySupportDoc] = Field(default_factory=list)
    shortfall_payment: list[ShortfallPaymentDoc] = Field(default_factory=list)
    repurchase: list[RepurchaseDoc] = Field(default_factory=list)


# ---------------------------------------------------------------- revolving operations


def _text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    return value


class EligibilityDoc(_Doc):
    id: str
    rule: m.EligibilityRule
    value: str | None = None
    field: str | None = None
    values: list[str] = Field(default_factory=list)
    description: str | None = None

    @field_validator("value", mode="before")
    @classmethod
    def _value_text(cls, value: Any) -> Any:
        return _text(value)


class ConcentrationDoc(_Doc):
    id: str
    rule: m.ConcentrationRule
    max_share: Decimal
    top_n: int | None = None
    field: str | None = None
    description: str | None = None


class MaintenanceLinesDoc(_Doc):
    warning: Decimal | None = None
    liquidation: Decimal | None = None
    repurchase: Decimal | None = None


class RevolvingThresholdDoc(_Doc):
    id: str
    metric: str = Field(json_schema_extra=_METRIC_ENUM)
    comparison: m.Comparison
    value: str
    description: str | None = None

    @field_validator("value", mode="before")
    @classmethod
    def _value_text(cls, value: Any) -> Any:
        return _text(value)


class RevolvingDoc(_Doc):
    purchase_mode: m.PurchaseMode = m.PurchaseMode.PRINCIPAL_AND_INTEREST_BUY_PRINCIPAL
    eligibility: list[EligibilityDoc] = Field(default_factory=list)
    concentration: list[ConcentrationDoc] = Field(default_factory=list)
    maintenance_lines: MaintenanceLinesDoc = Field(default_factory=MaintenanceLinesDoc)
    pause_when: list[RevolvingThresholdDoc] = Field(default_factory=list)
    stop_when: list[RevolvingThresholdDoc] = Field(default_factory=list)
    purchase_price: Literal["par"] = "par"
    min_purchase_amount: Decimal | None = None


# ---------------------------------------------------------------- the document


class DealDoc(_Doc):
    """A deal document (schema version 1)."""

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, frozen=True, title="absflow deal document"
    )

    schema_version: Literal[1] = 1
    name: str
    plan_code: str | None = None
    asset_type: str | None = None
    currency: Literal["CNY"] = "CNY"
    parties: dict[str, str] = Field(default_factory=dict)
    dates: DatesDoc
    pool: PoolDoc
    tranches: list[TrancheDoc]
    accounts: list[AccountDoc]
    fees: list[FeeDoc] = Field(default_factory=list)
    tax: TaxDoc | None = None
    periods: PeriodsDoc = Field(default_factory=PeriodsDoc)
    waterfalls: dict[str, list[ActionDoc]] = Field(
        description="keys revolving / amortizing / accelerated / defaulted pick the waterfall by deal status; "
        "other keys name waterfalls a trigger can switch to"
    )
    triggers: list[TriggerDoc] = Field(default_factory=list)
    credit_enhancement: CreditEnhancementDoc = Field(default_factory=CreditEnhancementDoc)
    revolving: RevolvingDoc | None = None


# ---------------------------------------------------------------- conversion


def _support(doc: SupportDoc) -> m.Support:
    if doc.account is not None:
        return m.Support(m.SupportKind.ACCOUNT, doc.account)
    if doc.liquidity is not None:
        return m.Support(m.SupportKind.LIQUIDITY, doc.liquidity)
    return m.Support(m.SupportKind.GUARANTOR, doc.guarantor or "")


def _action(doc: ActionDoc) -> m.Action:
    return m.Action(
        kind=doc.action, source=doc.source, fees=tuple(doc.fees), tranches=tuple(doc.tranches), mode=doc.mode,
        to=doc.to, account=doc.account, facility=doc.facility,
        limit=m.Limit(doc.limit.kind, doc.limit.amount, doc.limit.rate) if doc.limit else None,
        support=tuple(_support(s) for s in doc.support), note=doc.note,
    )


def _metric(text: str) -> m.Metric:
    try:
        return m.Metric(text)
    except ValueError:
        # Unknown metrics are reported by validate(); keep a placeholder so conversion is total.
        return m.Metric.POOL_FACTOR


def _revolving_threshold(doc: RevolvingThresholdDoc) -> m.RevolvingThreshold:
    return m.RevolvingThreshold(doc.id, _metric(doc.metric), doc.comparison, doc.value, doc.description)


def to_deal(doc: DealDoc) -> m.Deal:
    """Convert a shape-checked document to the frozen model (total: never raises)."""
    d = doc.dates
    waterfalls: dict[m.DealStatus, m.Waterfall] = {}
    extra: dict[str, m.Waterfall] = {}
    statuses = {s.value: s for s in m.DealStatus}
    for key, actions in doc.waterfalls.items():
        wf = m.Waterfall(key, tuple(_action(a) for a in actions))
        if key in statuses:
            waterfalls[statuses[key]] = wf
        else:
            extra[key] = wf
    ce = doc.credit_enhancement
    rv = doc.revolving
    return m.Deal(
        name=doc.name,
        plan_code=doc.plan_code,
        asset_type=doc.asset_type,
        currency=doc.currency,
        parties=dict(doc.parties),
        schema_version=doc.schema_version,
        dates=m.DealDates(
            cutoff=d.cutoff, establishment=d.establishment, first_payment=d.first_payment,
            payment_frequency=d.payment_frequency, payment_day=d.payment_day, legal_maturity=d.legal_maturity,
            expected_maturity=d.expected_maturity, calendar=d.calendar,
            business_day_convention=d.business_day_convention, day_count=d.day_count,
        ),
        pool=m.PoolSpec(
            source=doc.pool.source, plan_code=doc.pool.plan_code, tape_file=doc.pool.tape_file,
            tape_mapping=doc.pool.tape_mapping,
            rep_lines=tuple(
                m.RepLine(
                    id=r.id, balance=r.balance, rate=r.rate, term_months=r.term_months, amortization=r.amortization,
                    remaining_term_months=r.remaining_term_months, net_rate=r.net_rate,
                    payment_rate_monthly=r.payment_rate_monthly, segment=r.segment,
                )
                for r in doc.pool.rep_lines
            ),
            initial_balance=doc.pool.initial_balance,
        ),
        tranches=tuple(
            m.Tranche(
                id=t.id, tranche_class=t.class_, size=t.size, name=t.name, rating=t.rating,
                coupon=m.Coupon(
                    kind=t.coupon.kind, rate=t.coupon.rate, index=t.coupon.index, index_rate=t.coupon.index_rate,
                    margin=t.coupon.margin, floor=t.coupon.floor, cap=t.coupon.cap,
                ),
                interest=m.InterestSchedule(
                    frequency=t.interest.frequency, during_revolving=t.interest.during_revolving,
                    day_count=t.interest.day_count, deferrable=t.interest.deferrable,
                ),
                principal_type=t.principal,
                issue_price=t.issue_price,
                target_balances=tuple(m.TargetStep(s.on_or_after, s.balance) for s in t.target_balances),
                expected_maturity=t.expected_maturity,
            )
            for t in doc.tranches
        ),
        accounts=tuple(
            m.Account(
                id=a.id, kind=a.kind, name=a.name, initial_balance=a.initial_balance,
                target=m.ReserveTarget(
                    kind=a.target.kind, amount=a.target.amount, rate=a.target.rate,
                    tranches=tuple(a.target.tranches), floor=a.target.floor,
                ) if a.target else None,
            )
            for a in doc.accounts
        ),
        fees=tuple(
            m.Fee(
                id=f.id, kind=f.kind, amount=f.amount, rate=f.rate, base=f.base, tranches=tuple(f.tranches),
                day_count=f.day_count, on=f.on, payee=f.payee,
            )
            for f in doc.fees
        ),
        tax=m.Tax(doc.tax.rate, doc.tax.base) if doc.tax else None,
        periods=m.Periods(
            initial_status=doc.periods.initial_status,
            revolving=m.RevolvingPeriod(
                doc.periods.revolving.end, doc.periods.revolving.interim_amortization_working_days,
                doc.periods.revolving.purchase_frequency,
            ) if doc.periods.revolving else None,
            final_amortization=m.FinalAmortization(
                doc.periods.final_amortization.start, doc.periods.final_amortization.length_working_days,
                doc.periods.final_amortization.length_months,
            ) if doc.periods.final_amortization else None,
        ),
        waterfalls=waterfalls,
        extra_waterfalls=extra,
        triggers=tuple(
            m.Trigger(
                id=t.id, name=t.name, metric=_metric(t.metric), comparison=t.comparison,
                threshold=m.Threshold(
                    constant=t.threshold.value,
                    steps=tuple(m.ThresholdStep(s.on_or_after, s.value) for s in t.threshold.steps),
                ),
                effects=tuple(m.Effect(e.kind, e.status, e.waterfall) for e in t.effects),
                curable=t.curable, test_from=t.test_from, consecutive_days=t.consecutive_days,
            )
            for t in doc.triggers
        ),
        credit_enhancement=m.CreditEnhancement(
            liquidity_support=tuple(
                m.LiquiditySupport(
                    id=x.id, provider=x.provider, tranches=tuple(x.tranches), cover_interest=x.cover_interest,
                    cover_principal=x.cover_principal, cap=x.cap, repayable=x.repayable,
                )
                for x in ce.liquidity_support
            ),
            shortfall_payment=tuple(
                m.ShortfallPayment(
                    id=x.id, provider=x.provider, tranches=tuple(x.tranches), cover_interest=x.cover_interest,
                    cover_principal=x.cover_principal, cap=x.cap,
                )
                for x in ce.shortfall_payment
            ),
            repurchase=tuple(
                m.Repurchase(x.kind, x.obligor, x.price, x.maintenance_ratio_below) for x in ce.repurchase
            ),
        ),
        revolving=m.RevolvingSpec(
            purchase_mode=rv.purchase_mode,
            eligibility=tuple(
                m.Eligibility(e.id, e.rule, e.value, e.field, tuple(e.values), e.description) for e in rv.eligibility
            ),
            concentration=tuple(
                m.Concentration(c.id, c.rule, c.max_share, c.top_n, c.field, c.description) for c in rv.concentration
            ),
            maintenance_lines=m.MaintenanceLines(
                rv.maintenance_lines.warning, rv.maintenance_lines.liquidation, rv.maintenance_lines.repurchase
            ),
            pause_when=tuple(_revolving_threshold(x) for x in rv.pause_when),
            stop_when=tuple(_revolving_threshold(x) for x in rv.stop_when),
            purchase_price=rv.purchase_price,
            min_purchase_amount=rv.min_purchase_amount,
        ) if rv else None,
    )


def field_path(loc: tuple[int | str, ...]) -> str:
    """Pydantic location ('tranches', 1, 'size') → document path ``tranches[1].size``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            name = "class" if part == "class_" else str(part)
            path += f".{name}" if path else name
    return path


def _shape_issues(exc: ValidationError) -> list[Issue]:
    issues = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p in {"str", "int"})))
        value = err.get("input")
        shown = None if isinstance(value, dict | list) else (None if value is None else str(value))
        code = {"missing": "required", "extra_forbidden": "unknown_field"}.get(err["type"], err["type"])
        issues.append(Issue(code, err["msg"], Location(field_path=field_path(loc)), shown))
    return issues


def parse_document(data: Any, *, stored: bool = False) -> tuple[m.Deal, dict[str, Any]]:
    """Validate a loaded document; return the deal and its normalized JSON form.

    Raises ``ValidationFailed`` with every problem: shape and type problems first (from
    pydantic); when the shape is right, every semantic problem (references, dates, signs).
    ``stored``: a version already attached, read back — the rules added since documents could
    be stored (``validate.attach_issues``) are not applied to it.
    """
    from absflow.deal.validate import attach_issues, validate_deal

    if not isinstance(data, Mapping):
        raise ValidationFailed([Issue("not_a_mapping", "a deal document is a mapping of sections", Location())])
    try:
        doc = DealDoc.model_validate(dict(data))
    except ValidationError as exc:
        raise ValidationFailed(_shape_issues(exc)) from None
    deal = to_deal(doc)
    issues = validate_deal(deal, metric_names=_metric_names(doc))
    if not issues and not stored:
        issues = attach_issues(deal)
    if issues:
        raise ValidationFailed(issues)
    return deal, doc.model_dump(mode="json", by_alias=True, exclude_none=True)


def _metric_names(doc: DealDoc) -> dict[str, str]:
    """Document paths of metric names that are not known metrics, for validate_deal."""
    bad: dict[str, str] = {}
    for i, t in enumerate(doc.triggers):
        if t.metric not in _METRICS:
            bad[f"triggers[{i}].metric"] = t.metric
    if doc.revolving:
        for key in ("pause_when", "stop_when"):
            for i, r in enumerate(getattr(doc.revolving, key)):
                if r.metric not in _METRICS:
                    bad[f"revolving.{key}[{i}].metric"] = r.metric
    return bad


def parse_deal(data: Any) -> m.Deal:
    """A validated :class:`Deal` from a loaded YAML/JSON mapping (see ``parse_document``)."""
    return parse_document(data)[0]


def load_text(text: str) -> Any:
    """YAML (or JSON, a subset) text → Python data; a syntax error is a ValidationFailed."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        row = mark.line + 1 if mark is not None else None
        raise ValidationFailed(
            [Issue("syntax", f"not valid YAML/JSON: {getattr(exc, 'problem', exc)}", Location(row=row))]
        ) from None


def parse_deal_text(text: str) -> m.Deal:
    """A validated deal from YAML/JSON text."""
    return parse_deal(load_text(text))


def deal_json_schema() -> dict[str, Any]:
    """The published JSON Schema of the deal document."""
    schema = DealDoc.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "urn:absflow:deal-document:v1"
    return schema
