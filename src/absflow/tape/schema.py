"""Canonical loan-tape schemas: one ``TapeSchema`` per tape kind, every field with its unit.

A tape kind is an asset type (``consumer_loan``, ``margin_loan``, ``lease``,
``receivable``: one row per asset) or ``loan_performance`` (one row per loan per month,
for static-pool and roll-rate analysis). Field kinds say how a source value is read:

- ``text``: trimmed string, empty → missing.
- ``money``: an amount; source unit yuan (default), wan_yuan (万元) or fen; held as Int64 fen.
- ``rate``: an annual rate; source unit fraction (default), percent or bps; held as a fraction.
- ``ratio``: a plain ratio such as the maintenance ratio; fraction (default) or percent.
- ``integer``: a whole number (months, days, counts).
- ``date``: a calendar date, read with the mapping's strftime formats (default ISO).
- ``choice``: one of a fixed set of canonical values (statuses, amortization types).

docs/TAPE.md documents every field; ``absflow.tape.docs`` keeps that page honest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class FieldKind(StrEnum):
    TEXT = "text"
    MONEY = "money"
    RATE = "rate"
    RATIO = "ratio"
    INTEGER = "integer"
    DATE = "date"
    CHOICE = "choice"


class TapeKind(StrEnum):
    """What one row of a tape is."""

    CONSUMER_LOAN = "consumer_loan"
    MARGIN_LOAN = "margin_loan"  # 融出资金债权
    LEASE = "lease"  # 融资租赁
    RECEIVABLE = "receivable"  # 应收账款 / 商业保理
    LOAN_PERFORMANCE = "loan_performance"  # monthly performance history


class AssetStatus(StrEnum):
    PERFORMING = "performing"
    DELINQUENT = "delinquent"
    DEFAULTED = "defaulted"
    PREPAID = "prepaid"
    REPAID = "repaid"
    WARNING = "warning"  # margin loans: maintenance ratio below the warning line
    LIQUIDATING = "liquidating"  # margin loans: forced liquidation under way


class Amortization(StrEnum):
    LEVEL_PAYMENT = "level_payment"  # 等额本息
    EQUAL_PRINCIPAL = "equal_principal"  # 等额本金
    INTEREST_ONLY = "interest_only"  # 先息后本
    BULLET = "bullet"  # 到期一次还本付息


LOAN_STATUSES = (
    AssetStatus.PERFORMING, AssetStatus.DELINQUENT, AssetStatus.DEFAULTED, AssetStatus.PREPAID, AssetStatus.REPAID,
)
MARGIN_STATUSES = (*LOAN_STATUSES, AssetStatus.WARNING, AssetStatus.LIQUIDATING)
AMORTIZATIONS = tuple(Amortization)

#: Units a mapping may declare, per field kind; the first is the default.
UNITS: dict[FieldKind, tuple[str, ...]] = {
    FieldKind.MONEY: ("yuan", "wan_yuan", "fen"),
    FieldKind.RATE: ("fraction", "percent", "bps"),
    FieldKind.RATIO: ("fraction", "percent"),
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One canonical field. ``minimum``/``maximum`` are in canonical units (yuan for money).

    ``default`` fills the field when the tape has no such column (or the cell is empty);
    ``derived`` fields are computed when absent (see ``absflow.tape.derive``).
    """

    name: str
    kind: FieldKind
    description: str
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple[str, ...] = ()
    default: str | int | float | None = None
    derived: bool = False
    label_zh: str = ""

    @property
    def unit(self) -> str:
        return {
            FieldKind.MONEY: "yuan in the source (or as mapped); Int64 fen in frames and the database",
            FieldKind.RATE: "annual rate as a fraction (0.0635 = 6.35%)",
            FieldKind.RATIO: "fraction (2.5 = 250%)",
            FieldKind.INTEGER: "",
            FieldKind.DATE: "date",
            FieldKind.TEXT: "",
            FieldKind.CHOICE: "",
        }[self.kind]


@dataclass(frozen=True, slots=True)
class TapeSchema:
    """The canonical schema of one tape kind and the roles its fields play."""

    kind: TapeKind
    fields: tuple[FieldSpec, ...]
    id_field: str
    obligor_field: str | None
    balance_field: str | None
    rate_field: str | None
    start_field: str | None
    end_field: str | None
    #: Fields that together identify a row (uniqueness); default ``(id_field,)``.
    key_fields: tuple[str, ...] = ()
    by_name: dict[str, FieldSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})

    @property
    def keys(self) -> tuple[str, ...]:
        return self.key_fields or (self.id_field,)

    def field(self, name: str) -> FieldSpec:
        return self.by_name[name]

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)


def _text(name: str, description: str, *, required: bool = False, label_zh: str = "") -> FieldSpec:
    return FieldSpec(name, FieldKind.TEXT, description, required=required, label_zh=label_zh)


def _money(name: str, description: str, *, required: bool = False, positive: bool = False,
           default: float | None = None, label_zh: str = "") -> FieldSpec:
    return FieldSpec(name, FieldKind.MONEY, description, required=required, minimum=0.0,
                     exclusive_minimum=positive, default=default, label_zh=label_zh)


def _rate(name: str, description: str, *, required: bool = False, label_zh: str = "") -> FieldSpec:
    return FieldSpec(name, FieldKind.RATE, description, required=required, minimum=0.0, maximum=1.0,
                     label_zh=label_zh)


def _int(name: str, description: str, *, required: bool = False, minimum: float = 0, maximum: float | None = None,
         default: int | None = None, derived: bool = False, label_zh: str = "") -> FieldSpec:
    return FieldSpec(name, FieldKind.INTEGER, description, required=required, minimum=minimum, maximum=maximum,
                     default=default, derived=derived, label_zh=label_zh)


def _date(name: str, description: str, *, required: bool = False, derived: bool = False,
          label_zh: str = "") -> FieldSpec:
    return FieldSpec(name, FieldKind.DATE, description, required=required, derived=derived, label_zh=label_zh)


def _status(choices: tuple[str, ...]) -> FieldSpec:
    return FieldSpec("status", FieldKind.CHOICE, "asset status: " + " | ".join(choices), required=True,
                     choices=tuple(choices), label_zh="资产状态")


_DPD = _int("days_past_due", "days the oldest unpaid instalment is overdue at the cut-off", maximum=36500,
            default=0, label_zh="逾期天数")
_REGION = _text("region", "province or region of the obligor (e.g. 广东); used for concentration",
                label_zh="地区")
_INDUSTRY = _text("industry", "obligor's industry; used for concentration", label_zh="行业")
_REMAINING = _int("remaining_term_months", "whole scheduled months from the cut-off to maturity; derived "
                  "from maturity and cut-off when absent", maximum=600, derived=True, label_zh="剩余期限(月)")

CONSUMER_LOAN = TapeSchema(
    kind=TapeKind.CONSUMER_LOAN,
    fields=(
        _text("loan_id", "loan (借据) identifier, unique in the tape", required=True, label_zh="借据编号"),
        _text("obligor_id", "borrower identifier (masked ID allowed)", required=True, label_zh="借款人编号"),
        _money("original_principal", "principal lent at origination", required=True, positive=True,
               label_zh="合同金额"),
        _money("current_balance", "principal outstanding at the cut-off", required=True, label_zh="剩余本金"),
        _rate("interest_rate", "contract annual interest rate", required=True, label_zh="年利率"),
        _date("origination_date", "date the loan was made (放款日)", required=True, label_zh="放款日"),
        _int("original_term_months", "contract term in months", required=True, minimum=1, maximum=600,
             label_zh="合同期限(月)"),
        _status(LOAN_STATUSES),
        _date("maturity_date", "final scheduled payment date; derived as origination date + term when absent",
              derived=True, label_zh="到期日"),
        _REMAINING,
        FieldSpec("amortization", FieldKind.CHOICE, "repayment type: " + " | ".join(AMORTIZATIONS),
                  choices=AMORTIZATIONS, default=Amortization.LEVEL_PAYMENT.value, label_zh="还款方式"),
        _DPD,
        _REGION,
        _INDUSTRY,
        _text("grade", "originator's internal risk grade", label_zh="风险等级"),
        _text("purpose", "loan purpose", label_zh="贷款用途"),
    ),
    id_field="loan_id", obligor_field="obligor_id", balance_field="current_balance", rate_field="interest_rate",
    start_field="origination_date", end_field="maturity_date",
)

MARGIN_LOAN = TapeSchema(
    kind=TapeKind.MARGIN_LOAN,
    fields=(
        _text("contract_id", "financing contract (融资合约) identifier, unique in the tape", required=True,
              label_zh="合约编号"),
        _text("client_id", "client (融资客户) identifier; one credit account per client", required=True,
              label_zh="客户编号"),
        _money("principal_outstanding", "financed amount outstanding (融出资金余额) at the cut-off", required=True,
               label_zh="融资余额"),
        _rate("financing_rate", "annual financing rate charged to the client", required=True, label_zh="融资利率"),
        _date("start_date", "date the financing was drawn (融资日)", required=True, label_zh="融资日"),
        _date("due_date", "contract due date (到期日), after any extension", required=True, label_zh="到期日"),
        _status(MARGIN_STATUSES),
        _int("extension_count", "times the contract was extended (展期次数)", maximum=1000, default=0,
             label_zh="展期次数"),
        _money("accrued_interest", "interest accrued and unpaid at the cut-off", default=0.0, label_zh="应计利息"),
        _money("fees", "fees owed at the cut-off", default=0.0, label_zh="费用"),
        _money("cash_balance", "cash in the client's credit account", default=0.0, label_zh="现金余额"),
        _money("securities_market_value", "market value at close of all securities in the credit account",
               required=True, label_zh="证券市值"),
        _money("short_market_value", "shorted quantity × current price (融券卖出市值)", default=0.0,
               label_zh="融券市值"),
        FieldSpec("maintenance_ratio", FieldKind.RATIO,
                  "maintenance collateral ratio (维持担保比例) = (cash + securities) / (financed amount + short "
                  "market value + interest and fees); derived when absent, checked against the components when "
                  "given", minimum=0.0, derived=True, label_zh="维持担保比例"),
        _REMAINING,
        _REGION,
        _INDUSTRY,
        _text("branch", "broker branch (营业部) that serves the client", label_zh="营业部"),
    ),
    id_field="contract_id", obligor_field="client_id", balance_field="principal_outstanding",
    rate_field="financing_rate", start_field="start_date", end_field="due_date",
)

LEASE = TapeSchema(
    kind=TapeKind.LEASE,
    fields=(
        _text("lease_id", "lease contract identifier, unique in the tape", required=True, label_zh="租赁合同编号"),
        _text("lessee_id", "lessee (承租人) identifier", required=True, label_zh="承租人编号"),
        _money("original_principal", "financed amount at inception (融资本金)", required=True, positive=True,
               label_zh="融资本金"),
        _money("current_balance", "principal outstanding at the cut-off (未偿租金本金)", required=True,
               label_zh="剩余本金"),
        _rate("interest_rate", "lease annual interest rate", required=True, label_zh="租赁利率"),
        _date("start_date", "lease start date (起租日)", required=True, label_zh="起租日"),
        _int("original_term_months", "lease term in months", required=True, minimum=1, maximum=600,
             label_zh="租赁期限(月)"),
        _status(LOAN_STATUSES),
        _date("maturity_date", "last rent date; derived as start date + term when absent", derived=True,
              label_zh="到期日"),
        _REMAINING,
        _int("payment_frequency_months", "months between rent payments (1, 3, 6 or 12)", minimum=1, maximum=12,
             default=1, label_zh="租金支付间隔(月)"),
        FieldSpec("amortization", FieldKind.CHOICE, "rent schedule type: " + " | ".join(AMORTIZATIONS),
                  choices=AMORTIZATIONS, default=Amortization.LEVEL_PAYMENT.value, label_zh="还款方式"),
        _money("residual_value", "residual value (留购价款) due at the end", default=0.0, label_zh="留购价款"),
        _text("leased_asset", "category of the leased equipment", label_zh="租赁物类别"),
        _DPD,
        _REGION,
        _INDUSTRY,
    ),
    id_field="lease_id", obligor_field="lessee_id", balance_field="current_balance", rate_field="interest_rate",
    start_field="start_date", end_field="maturity_date",
)

RECEIVABLE = TapeSchema(
    kind=TapeKind.RECEIVABLE,
    fields=(
        _text("receivable_id", "receivable (invoice/contract) identifier, unique in the tape", required=True,
              label_zh="应收账款编号"),
        _text("debtor_id", "debtor (付款方) identifier", required=True, label_zh="债务人编号"),
        _money("face_amount", "face amount of the receivable", required=True, positive=True, label_zh="应收账款金额"),
        _money("current_balance", "amount still unpaid at the cut-off", required=True, label_zh="未偿金额"),
        _date("invoice_date", "date the receivable arose (invoice or acceptance date)", required=True,
              label_zh="发票日"),
        _date("due_date", "date the debtor must pay", required=True, label_zh="到期日"),
        _status(LOAN_STATUSES),
        _text("creditor_id", "original creditor (supplier / seller) identifier", label_zh="债权人编号"),
        _rate("discount_rate", "annual discount or factoring rate", label_zh="折现率"),
        _REMAINING,
        _DPD,
        _REGION,
        _INDUSTRY,
    ),
    id_field="receivable_id", obligor_field="debtor_id", balance_field="current_balance", rate_field="discount_rate",
    start_field="invoice_date", end_field="due_date",
)

LOAN_PERFORMANCE = TapeSchema(
    kind=TapeKind.LOAN_PERFORMANCE,
    fields=(
        _text("loan_id", "loan identifier (as in the asset tape)", required=True, label_zh="借据编号"),
        _date("period", "reporting month; any day in the month, held as the 1st", required=True, label_zh="报告月份"),
        _money("begin_balance", "principal outstanding at the start of the month", required=True,
               label_zh="期初本金余额"),
        _money("scheduled_principal", "scheduled principal repaid in the month", default=0.0, label_zh="正常还本"),
        _money("prepaid_principal", "principal prepaid in the month", default=0.0, label_zh="提前还本"),
        _money("defaulted_amount", "principal that defaulted in the month", default=0.0, label_zh="违约金额"),
        _money("recovery", "amount recovered in the month on defaulted principal", default=0.0, label_zh="回收金额"),
        _int("days_past_due", "days past due at month end", maximum=36500, default=0, label_zh="逾期天数"),
        _status(LOAN_STATUSES),
        _date("origination_date", "loan origination date (vintage); taken from the pool when absent",
              label_zh="放款日"),
        _money("original_principal", "principal at origination (denominator of vintage curves)",
               label_zh="合同金额"),
    ),
    id_field="loan_id", obligor_field=None, balance_field="begin_balance", rate_field=None,
    start_field="origination_date", end_field=None, key_fields=("loan_id", "period"),
)

SCHEMAS: dict[TapeKind, TapeSchema] = {
    s.kind: s for s in (CONSUMER_LOAN, MARGIN_LOAN, LEASE, RECEIVABLE, LOAN_PERFORMANCE)
}

ASSET_KINDS = (TapeKind.CONSUMER_LOAN, TapeKind.MARGIN_LOAN, TapeKind.LEASE, TapeKind.RECEIVABLE)


def schema_for(kind: TapeKind | str) -> TapeSchema:
    """The schema of ``kind``; KeyError if unknown (mapping parsing reports it nicely first)."""
    return SCHEMAS[TapeKind(kind)]
