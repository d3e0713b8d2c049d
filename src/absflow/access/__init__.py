"""Who may do what on which plan: roles, per-plan grants, actions, field masking. Pure.

A user has one role and a set of per-plan grants. What the user may do on a plan is the
role's capabilities intersected with the actions granted on that plan; a regulator reads
every plan without grants and an admin may do everything. A plan the user may not even
view must look as if it did not exist (the caller answers "not found", never "forbidden").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    """Roles of seed 000 / DOMAIN.md "Parties and roles"."""

    PLAN_MANAGER = "plan_manager"  # 计划管理人
    ORIGINATOR = "originator"  # 原始权益人 / 资产服务机构 (originator and servicer)
    CUSTODIAN = "custodian"  # 托管银行 / 监管银行
    INVESTOR = "investor"  # 投资者
    RATING_AGENCY = "rating_agency"  # 评级机构
    REGULATOR = "regulator"  # 监管机构 / 交易所: reads everything ("super permission")
    INTERNAL_CONTROL = "internal_control"  # 内核 / 质控
    ADMIN = "admin"  # system administrator

    @property
    def label_zh(self) -> str:
        return ROLE_LABELS_ZH[self]


ROLE_LABELS_ZH: dict[Role, str] = {
    Role.PLAN_MANAGER: "计划管理人",
    Role.ORIGINATOR: "原始权益人/资产服务机构",
    Role.CUSTODIAN: "托管银行",
    Role.INVESTOR: "投资者",
    Role.RATING_AGENCY: "评级机构",
    Role.REGULATOR: "监管机构",
    Role.INTERNAL_CONTROL: "内核/质控",
    Role.ADMIN: "系统管理员",
}


class Action(StrEnum):
    """What a service call does. Plan-scoped: view, edit, download, approve. Global: create, admin, list."""

    VIEW = "view"
    EDIT = "edit"
    DOWNLOAD = "download"
    APPROVE = "approve"
    CREATE = "create"  # initiate a new plan
    ADMIN = "admin"  # manage users, grants, API keys of others
    LIST = "list"  # ask for the list of plans (filtered to what may be viewed)


PLAN_ACTIONS: frozenset[Action] = frozenset({Action.VIEW, Action.EDIT, Action.DOWNLOAD, Action.APPROVE})

#: What each role may do on a plan it holds a grant on (the grant may narrow it further).
ROLE_PLAN_CAPABILITIES: dict[Role, frozenset[Action]] = {
    Role.PLAN_MANAGER: PLAN_ACTIONS,
    Role.ORIGINATOR: frozenset({Action.VIEW, Action.EDIT, Action.DOWNLOAD}),
    Role.CUSTODIAN: frozenset({Action.VIEW, Action.DOWNLOAD, Action.APPROVE}),
    Role.INVESTOR: frozenset({Action.VIEW, Action.DOWNLOAD}),
    Role.RATING_AGENCY: frozenset({Action.VIEW, Action.DOWNLOAD}),
    Role.REGULATOR: frozenset({Action.VIEW, Action.DOWNLOAD}),
    Role.INTERNAL_CONTROL: frozenset({Action.VIEW, Action.APPROVE}),
    Role.ADMIN: PLAN_ACTIONS,
}

#: Global (not plan-scoped) actions per role. Everyone signed in may ask for the plan list.
#: Global "edit" covers log-wide operations such as signing a checkpoint.
ROLE_GLOBAL_CAPABILITIES: dict[Role, frozenset[Action]] = {
    Role.PLAN_MANAGER: frozenset({Action.LIST, Action.CREATE, Action.EDIT}),
    Role.ADMIN: frozenset(Action),
}

#: Global actions every signed-in user may take: list plans (filtered) and view log-wide facts
#: (log size, signed checkpoints) that exist to be checked by outsiders.
EVERYONE_GLOBAL: frozenset[Action] = frozenset({Action.LIST, Action.VIEW})

#: Roles that act on every plan without a per-plan grant.
ALL_PLANS_ROLES: frozenset[Role] = frozenset({Role.REGULATOR, Role.ADMIN})

#: Roles that never see who the borrowers are (DOMAIN.md: investors and agencies verify
#: without seeing confidential borrower data).
MASKED_ROLES: frozenset[Role] = frozenset({Role.INVESTOR, Role.RATING_AGENCY})

#: Borrower identity fields, as canonical tape fields and common variants.
BORROWER_IDENTITY_FIELDS: frozenset[str] = frozenset({
    "obligor_id", "obligor_name", "obligor_id_number",
    "client_id", "client_name", "client_id_number",
    "borrower_id", "borrower_name", "borrower_id_number",
    "customer_id", "customer_name", "name", "id_number", "id_no", "id_card", "id_card_number",
    "phone", "mobile", "address",
})

MASK = "***"


def parse_actions(text: Iterable[str]) -> frozenset[Action]:
    """Actions from their names; raises ValueError naming the unknown one."""
    return frozenset(Action(a) for a in text)


@dataclass(frozen=True)
class Principal:
    """A signed-in user as the authorizer sees it. ``grants`` maps plan code to granted actions."""

    user_id: int
    username: str
    role: Role
    grants: Mapping[str, frozenset[Action]] = field(default_factory=dict)
    active: bool = True
    #: For an investor: the id of the bookbuilding investor it acts for (None: not linked, sees no bids).
    investor_id: int | None = None


class Verdict(StrEnum):
    ALLOW = "allow"
    DENY = "deny"  # answer 403: the user knows the plan but may not do this
    HIDE = "hide"  # answer 404: the plan must look as if it did not exist


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOW


def plan_actions(principal: Principal, plan_code: str) -> frozenset[Action]:
    """Actions ``principal`` may take on ``plan_code`` (empty when none)."""
    if not principal.active:
        return frozenset()
    capabilities = ROLE_PLAN_CAPABILITIES[principal.role]
    if principal.role in ALL_PLANS_ROLES:
        return capabilities
    granted = principal.grants.get(plan_code)
    if granted is None:
        return frozenset()
    return capabilities & granted


def decide(principal: Principal, action: str, plan_code: str | None) -> Decision:
    """May ``principal`` do ``action`` on ``plan_code`` (None: a global action)?"""
    if not principal.active:
        return Decision(Verdict.DENY, "user is disabled")
    try:
        wanted = Action(action)
    except ValueError:
        return Decision(Verdict.DENY, f"unknown action {action!r}")
    if plan_code is None:
        if wanted in ROLE_GLOBAL_CAPABILITIES.get(principal.role, frozenset()) or wanted in EVERYONE_GLOBAL:
            return Decision(Verdict.ALLOW, "role")
        return Decision(Verdict.DENY, f"role {principal.role.value} may not {wanted.value}")
    allowed = plan_actions(principal, plan_code)
    if Action.VIEW not in allowed:
        return Decision(Verdict.HIDE, f"no grant on plan {plan_code}")
    if wanted in allowed:
        return Decision(Verdict.ALLOW, "grant")
    return Decision(Verdict.DENY, f"role {principal.role.value} may not {wanted.value} on plan {plan_code}")


def may(principal: Principal, action: str, plan_code: str | None = None) -> bool:
    """The permission predicate."""
    return decide(principal, action, plan_code).allowed


def sees_borrower_identity(principal: Principal | None) -> bool:
    """False for roles that must see borrower identity fields masked. None (local operator) sees all."""
    return principal is None or principal.role not in MASKED_ROLES


def mask_record(record: Mapping[str, Any], principal: Principal | None) -> dict[str, Any]:
    """A copy of ``record`` with borrower identity fields replaced by ``MASK`` for masked roles."""
    if sees_borrower_identity(principal):
        return dict(record)
    return {k: (MASK if k in BORROWER_IDENTITY_FIELDS and v is not None else v) for k, v in record.items()}
