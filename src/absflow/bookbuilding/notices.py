"""Payment notices (配售确认及缴款通知书) and payment status: the data, not the rendering."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

CHINA_TIME = timezone(timedelta(hours=8), "CST")
PAR = Decimal(100)
FEN = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class PaymentNotice:
    """Everything one investor's notice states. Amounts in yuan; ``coupon`` a fraction."""

    notice_no: str
    plan_code: str
    plan_name: str
    manager_name: str
    investor: str
    investor_credit_code: str
    security_name: str
    security_code: str
    tranche_id: str
    size_yuan: Decimal
    term_months: int | None
    coupon: Decimal
    allocated_face_yuan: Decimal
    issue_price: Decimal  # per 100 face
    amount_due_yuan: Decimal
    payment_deadline: datetime
    payee_name: str
    payee_bank: str
    payee_account: str
    issued_at: datetime


def amount_due(face_yuan: Decimal, issue_price: Decimal = PAR) -> Decimal:
    """What an investor pays for ``face_yuan`` of face at ``issue_price`` per 100, to the fen (half-even)."""
    return (face_yuan * issue_price / PAR).quantize(FEN, rounding=ROUND_HALF_EVEN)


def china_time_text(moment: datetime) -> str:
    """'2026年03月05日 17:00' in China Standard Time."""
    local = moment.astimezone(CHINA_TIME)
    return f"{local.year}年{local.month:02d}月{local.day:02d}日 {local.hour:02d}:{local.minute:02d}"


def china_date_text(moment: datetime) -> str:
    local = moment.astimezone(CHINA_TIME)
    return f"{local.year}年{local.month:02d}月{local.day:02d}日"


def yuan_text(amount: Decimal) -> str:
    """'1,234,567.80' — yuan with thousands separators and two decimals."""
    return f"{amount.quantize(FEN, rounding=ROUND_HALF_EVEN):,.2f}"


class PaymentState(StrEnum):
    PAID = "paid"  # 已缴款
    PARTLY_PAID = "partly_paid"  # 部分缴款
    UNPAID = "unpaid"  # 未缴款
    OVERPAID = "overpaid"  # 多缴

    @property
    def label_zh(self) -> str:
        return {"paid": "已缴款", "partly_paid": "部分缴款", "unpaid": "未缴款", "overpaid": "多缴"}[self.value]


def payment_state(due_fen: int, paid_fen: int) -> PaymentState:
    """How an investor stands against what it owes (integer fen)."""
    if paid_fen <= 0:
        return PaymentState.UNPAID if due_fen > 0 else PaymentState.PAID
    if paid_fen < due_fen:
        return PaymentState.PARTLY_PAID
    if paid_fen == due_fen:
        return PaymentState.PAID
    return PaymentState.OVERPAID
