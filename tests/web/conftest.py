"""An app on the ``ctx`` database with two plans and one user per role (grants on plan A only)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from absflow.access import Role
from absflow.api.app import create_app
from absflow.api.settings import Settings
from absflow.domain.plan import AssetType, Party, PartyRole
from absflow.services import plans as plan_service
from absflow.services import users as user_service
from absflow.services.context import Context

PASSWORD = "correct horse 1"


@dataclass
class World:
    ctx: Context
    plan_a: str
    plan_b: str
    tokens: dict[Role, str]


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with small cost parameters, so tests that add many users stay fast."""
    monkeypatch.setattr(user_service, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def world(ctx: Context) -> World:
    a = plan_service.create_plan(ctx, name="甲计划", asset_type=AssetType.MARGIN_LOAN,
                                 parties=[Party(PartyRole.ORIGINATOR, "甲证券")])
    b = plan_service.create_plan(ctx, name="乙计划 secret", asset_type=AssetType.CONSUMER_LOAN)
    tokens = {}
    for role in Role:
        name = role.value.replace("_", "-")
        user_service.create_user(ctx, username=name, password=PASSWORD, role=role)
        if role not in (Role.REGULATOR, Role.ADMIN):
            user_service.grant(ctx, name, a.code)
        tokens[role], _ = user_service.create_api_key(ctx, name, "test")
    return World(ctx=ctx, plan_a=a.code, plan_b=b.code, tokens=tokens)


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    app = create_app(world.ctx, Settings(secret_key="test-secret", run_worker=False))
    with TestClient(app) as test_client:
        yield test_client


def bearer(world: World, role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[role]}"}
