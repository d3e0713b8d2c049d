"""API authorization matrix: role x resource x action, 404 for plans without a grant, auth, problem+json."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.web.conftest import World, bearer

from absflow.access import Role
from absflow.store.db import transaction
from absflow.store.users import SecurityEventRow

PLAN_ROLES = [r for r in Role if r not in (Role.REGULATOR, Role.ADMIN)]

# role -> expected status for (view own plan, advance own plan, create a plan, list users)
MATRIX = {
    Role.PLAN_MANAGER: (200, 200, 201, 403),
    Role.ORIGINATOR: (200, 200, 403, 403),
    Role.CUSTODIAN: (200, 403, 403, 403),
    Role.INVESTOR: (200, 403, 403, 403),
    Role.RATING_AGENCY: (200, 403, 403, 403),
    Role.REGULATOR: (200, 403, 403, 403),
    Role.INTERNAL_CONTROL: (200, 403, 403, 403),
    Role.ADMIN: (200, 200, 201, 200),
}


def denials(world: World) -> int:
    with transaction(world.ctx.engine) as session:
        return int(session.execute(select(func.count()).select_from(SecurityEventRow)
                                   .where(SecurityEventRow.kind == "permission_denied")).scalar_one())


@pytest.mark.parametrize("role", list(Role))
def test_role_resource_action_matrix(client: TestClient, world: World, role: Role) -> None:
    view, advance, create, users = MATRIX[role]
    h = bearer(world, role)
    assert client.get(f"/api/v1/plans/{world.plan_a}", headers=h).status_code == view
    r = client.patch(f"/api/v1/plans/{world.plan_a}", json={"status": "filed"}, headers=h)
    assert r.status_code == advance, r.text
    if advance == 403:
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "permission_denied"
    r = client.post("/api/v1/plans", json={"name": "新计划", "asset_type": "lease"}, headers=h)
    assert r.status_code == create, r.text
    assert client.get("/api/v1/users", headers=h).status_code == users


@pytest.mark.parametrize("role", PLAN_ROLES)
def test_another_plans_code_answers_404_and_leaks_nothing(client: TestClient, world: World, role: Role) -> None:
    h = bearer(world, role)
    before = denials(world)
    other = client.get(f"/api/v1/plans/{world.plan_b}", headers=h)
    missing = client.get("/api/v1/plans/ABS-2099-9999", headers=h)
    assert other.status_code == missing.status_code == 404
    assert other.headers["content-type"] == missing.headers["content-type"] == "application/problem+json"
    body, ghost = other.json(), missing.json()
    assert set(body) == set(ghost)
    assert body["detail"].replace(world.plan_b, "X") == ghost["detail"].replace("ABS-2099-9999", "X")
    assert "乙计划" not in other.text and "consumer_loan" not in other.text
    for method, url, payload in [("PATCH", f"/api/v1/plans/{world.plan_b}", {"status": "filed"})]:
        r = client.request(method, url, json=payload, headers=h)
        assert r.status_code == 404 and "乙计划" not in r.text
    listed = client.get("/api/v1/plans", headers=h).json()["plans"]
    assert [p["code"] for p in listed] == [world.plan_a]
    assert denials(world) >= before + 2  # every denial is recorded


def test_regulator_and_admin_see_every_plan(client: TestClient, world: World) -> None:
    for role in (Role.REGULATOR, Role.ADMIN):
        codes = [p["code"] for p in client.get("/api/v1/plans", headers=bearer(world, role)).json()["plans"]]
        assert codes == [world.plan_a, world.plan_b]


def test_no_credentials_is_401_problem(client: TestClient, world: World) -> None:
    r = client.get("/api/v1/plans")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/v1/plans", headers={"Authorization": "Bearer abf_nope"}).status_code == 401
    with transaction(world.ctx.engine) as session:  # a wrong API key is a failed sign-in, recorded (not the token)
        rows = session.execute(select(SecurityEventRow).where(SecurityEventRow.kind == "login_failed")).scalars()
        assert [(e.detail, "abf_nope" in (e.detail + str(e.username))) for e in rows] == [
            ("unknown or revoked API key", False)]


def test_revoked_key_and_disabled_user_lose_access(client: TestClient, world: World) -> None:
    admin = bearer(world, Role.ADMIN)
    created = client.post("/api/v1/users/investor/api-keys", json={"name": "second"}, headers=admin)
    assert created.status_code == 201
    token = created.json()["token"]
    h = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=h).json()["username"] == "investor"
    key_id = created.json()["id"]
    assert client.delete(f"/api/v1/users/investor/api-keys/{key_id}", headers=admin).status_code == 200
    assert client.get("/api/v1/me", headers=h).status_code == 401
    assert client.patch("/api/v1/users/originator", json={"active": False}, headers=admin).status_code == 200
    assert client.get("/api/v1/plans", headers=bearer(world, Role.ORIGINATOR)).status_code == 401


def test_validation_problem_lists_every_issue_with_location(client: TestClient, world: World) -> None:
    h = bearer(world, Role.PLAN_MANAGER)
    r = client.post("/api/v1/plans", json={"name": " ", "asset_type": "bonds",
                                            "parties": [{"role": "astrologer", "name": "x"}]}, headers=h)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == "urn:absflow:problem:validation_failed" and body["status"] == 422
    assert [e["field"] for e in body["errors"]] == ["parties.0.role"]
    r = client.post("/api/v1/plans", json={"name": " ", "asset_type": "bonds"}, headers=h)
    assert r.status_code == 422
    assert sorted(e["field"] for e in r.json()["errors"]) == ["asset_type", "name"]
    assert all(e["message"] for e in r.json()["errors"])
    r = client.post("/api/v1/plans", json={"asset_type": "lease", "extra": 1}, headers=h)
    assert r.status_code == 422
    assert sorted(e["field"] for e in r.json()["errors"]) == ["extra", "name"]


def test_invalid_transition_is_409_problem(client: TestClient, world: World) -> None:
    r = client.patch(f"/api/v1/plans/{world.plan_a}", json={"status": "terminated"}, headers=bearer(world, Role.ADMIN))
    assert r.status_code == 200
    r = client.patch(f"/api/v1/plans/{world.plan_a}", json={"status": "filed"}, headers=bearer(world, Role.ADMIN))
    assert r.status_code == 409 and r.json()["code"] == "invalid_transition"


def test_openapi_published(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/plans" in spec["paths"] and "/api/v1/plans/{code}" in spec["paths"]
    assert client.get("/docs").status_code == 404  # no CDN-backed docs page


def test_admin_manages_users_and_grants(client: TestClient, world: World) -> None:
    admin = bearer(world, Role.ADMIN)
    r = client.post("/api/v1/users", json={"username": "li.si", "password": "longenough1", "role": "investor"},
                    headers=admin)
    assert r.status_code == 201 and r.json()["grants"] == {}
    r = client.put(f"/api/v1/users/li.si/grants/{world.plan_b}", json={"actions": ["view", "edit"]}, headers=admin)
    assert r.status_code == 200
    assert r.json()["grants"] == {world.plan_b: ["view"]}  # an investor never gets edit
    r = client.post("/api/v1/users", json={"username": "li.si", "password": "short", "role": "pilot"}, headers=admin)
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"password", "role"}
    r = client.delete(f"/api/v1/users/li.si/grants/{world.plan_b}", headers=admin)
    assert r.json()["grants"] == {}
