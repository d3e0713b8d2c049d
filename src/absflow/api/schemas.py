"""Pydantic schemas at the API edge: ``…Create`` / ``…Update`` in, ``…Public`` out."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from absflow.domain.plan import PartyRole, Plan
from absflow.services.users import ApiKey, User


class PartyPublic(BaseModel):
    role: PartyRole
    name: str


class PlanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="Plan name, e.g. 某某融出资金债权1号资产支持专项计划")
    asset_type: str = Field(description="consumer_loan | margin_loan | lease | receivable")
    parties: list[PartyPublic] = Field(default_factory=list)


class PlanUpdate(BaseModel):
    """Advance the lifecycle (the only change a plan takes after initiation)."""

    model_config = ConfigDict(extra="forbid")
    status: str = Field(description="initiated filed approved issuing revolving amortizing terminated")


class StatusChangePublic(BaseModel):
    from_status: str | None
    to_status: str
    at: str


class PlanPublic(BaseModel):
    code: str
    name: str
    asset_type: str
    status: str
    status_zh: str
    created_at: datetime
    parties: list[PartyPublic]
    history: list[StatusChangePublic] | None = None

    @classmethod
    def of(cls, plan: Plan, history: list[tuple[str | None, str, str]] | None = None) -> PlanPublic:
        return cls(
            code=plan.code, name=plan.name, asset_type=plan.asset_type.value, status=plan.status.value,
            status_zh=plan.status.label_zh, created_at=plan.created_at,
            parties=[PartyPublic(role=p.role, name=p.name) for p in plan.parties],
            history=None if history is None else [StatusChangePublic(from_status=f, to_status=t, at=a)
                                                  for f, t, a in history],
        )


class PlansPublic(BaseModel):
    plans: list[PlanPublic]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str
    password: str = Field(min_length=1, description="At least 8 characters")
    role: str
    display_name: str | None = None


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    active: bool


class UserPublic(BaseModel):
    username: str
    display_name: str
    role: str
    active: bool
    created_at: datetime
    grants: dict[str, list[str]]
    investor_id: int | None = None

    @classmethod
    def of(cls, user: User) -> UserPublic:
        return cls(username=user.username, display_name=user.display_name, role=user.role.value, active=user.active,
                   created_at=user.created_at, grants={c: list(a) for c, a in user.grants.items()},
                   investor_id=user.investor_id)


class UsersPublic(BaseModel):
    users: list[UserPublic]


class GrantUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actions: list[str] | None = Field(default=None, description="view edit download approve; default: all the role may")


class InvestorLink(BaseModel):
    model_config = ConfigDict(extra="forbid")
    investor: str | None = Field(description="Name of a registered bookbuilding investor; null unlinks")


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str


class ApiKeyPublic(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyPublic:
        return cls(id=key.id, name=key.name, prefix=key.prefix, created_at=key.created_at, revoked_at=key.revoked_at)


class ApiKeyCreated(ApiKeyPublic):
    token: str = Field(description="The bearer token; shown only once")


class MePublic(BaseModel):
    username: str
    role: str
    grants: dict[str, list[str]]
