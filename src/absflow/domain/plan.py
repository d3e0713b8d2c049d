"""Plans (专项计划): asset types, parties, lifecycle statuses and allowed transitions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class AssetType(StrEnum):
    """Kinds of underlying asset a plan can hold (DOMAIN.md, "The pool")."""

    CONSUMER_LOAN = "consumer_loan"
    MARGIN_LOAN = "margin_loan"  # 融出资金债权
    LEASE = "lease"  # 融资租赁
    RECEIVABLE = "receivable"  # 应收账款 / 商业保理


class PlanStatus(StrEnum):
    """Lifecycle of a plan, in order."""

    INITIATED = "initiated"  # 立项
    FILED = "filed"  # 申报
    APPROVED = "approved"  # 已获无异议函
    ISSUING = "issuing"  # 簿记发行
    REVOLVING = "revolving"  # 存续 (循环购买期)
    AMORTIZING = "amortizing"  # 摊还
    TERMINATED = "terminated"  # 终止

    @property
    def label_zh(self) -> str:
        return STATUS_LABELS_ZH[self]


STATUS_LABELS_ZH: dict[PlanStatus, str] = {
    PlanStatus.INITIATED: "立项",
    PlanStatus.FILED: "申报",
    PlanStatus.APPROVED: "已获无异议函",
    PlanStatus.ISSUING: "簿记发行",
    PlanStatus.REVOLVING: "存续",
    PlanStatus.AMORTIZING: "摊还",
    PlanStatus.TERMINATED: "终止",
}

#: Which status may follow which. A plan can be abandoned (terminated) before issuance,
#: a static pool goes from issuance straight to amortization, and a revolving plan may
#: end early (clean-up call, early termination event).
ALLOWED_TRANSITIONS: dict[PlanStatus, frozenset[PlanStatus]] = {
    PlanStatus.INITIATED: frozenset({PlanStatus.FILED, PlanStatus.TERMINATED}),
    PlanStatus.FILED: frozenset({PlanStatus.APPROVED, PlanStatus.TERMINATED}),
    PlanStatus.APPROVED: frozenset({PlanStatus.ISSUING, PlanStatus.TERMINATED}),
    PlanStatus.ISSUING: frozenset({PlanStatus.REVOLVING, PlanStatus.AMORTIZING, PlanStatus.TERMINATED}),
    PlanStatus.REVOLVING: frozenset({PlanStatus.AMORTIZING, PlanStatus.TERMINATED}),
    PlanStatus.AMORTIZING: frozenset({PlanStatus.TERMINATED}),
    PlanStatus.TERMINATED: frozenset(),
}


def can_transition(current: PlanStatus, target: PlanStatus) -> bool:
    return target in ALLOWED_TRANSITIONS[current]


class PartyRole(StrEnum):
    """Parties named on a plan."""

    PLAN_MANAGER = "plan_manager"  # 计划管理人
    ORIGINATOR = "originator"  # 原始权益人
    SERVICER = "servicer"  # 资产服务机构
    CUSTODIAN = "custodian"  # 托管银行
    SUPERVISORY_BANK = "supervisory_bank"  # 监管银行
    RATING_AGENCY = "rating_agency"  # 评级机构
    LAW_FIRM = "law_firm"  # 律师事务所
    ACCOUNTANT = "accountant"  # 会计师事务所
    GUARANTOR = "guarantor"  # 差额支付承诺人 / 担保人


PLAN_CODE_PATTERN = re.compile(r"^ABS-(\d{4})-(\d{4,})$")


def format_plan_code(year: int, number: int) -> str:
    """The internal plan code, unique for life: ``ABS-2026-0001``."""
    return f"ABS-{year:04d}-{number:04d}"


@dataclass(frozen=True, slots=True)
class Party:
    role: PartyRole
    name: str


@dataclass(frozen=True, slots=True)
class Plan:
    """A plan as the rest of the system sees it."""

    code: str
    name: str
    asset_type: AssetType
    status: PlanStatus
    created_at: datetime
    parties: tuple[Party, ...] = ()
