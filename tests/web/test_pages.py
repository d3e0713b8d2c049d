"""Pages: sign-in with CSRF, throttling and recorded failures, security headers, language, plan pages."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.web.conftest import PASSWORD, World

from absflow.store.db import transaction
from absflow.store.users import SecurityEventRow


def login(client: TestClient, username: str, password: str = PASSWORD, next_path: str = "/") -> str:
    form = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert token is not None
    r = client.post("/login", data={"username": username, "password": password, "login_token": token.group(1),
                                    "next": next_path}, follow_redirects=False)
    assert r.status_code == 303
    return r.headers["location"]


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_sign_in_sets_httponly_samesite_cookie_and_shows_plans(client: TestClient, world: World) -> None:
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")
    assert login(client, "plan-manager") == "/"
    cookie = next(c for c in client.cookies.jar if c.name == "absflow_session")
    assert cookie.has_nonstandard_attr("HttpOnly")
    page = client.get("/")
    assert page.status_code == 200 and world.plan_a in page.text and world.plan_b not in page.text
    assert "专项计划" in page.text  # Chinese by default


def test_security_headers_and_no_inline_script(client: TestClient, world: World) -> None:
    login(client, "plan-manager")
    page = client.get(f"/plans/{world.plan_a}")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["x-frame-options"] == "DENY"
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text) is None  # every script is a file
    assert "http://" not in page.text and "https://" not in page.text  # nothing from a CDN
    assert client.get("/static/echarts.min.js").status_code == 200


def csrf_refusals(world: World) -> list[tuple[str | None, str]]:
    """(username, detail) of every recorded CSRF refusal, oldest first."""
    with transaction(world.ctx.engine) as session:
        rows = session.execute(select(SecurityEventRow.username, SecurityEventRow.detail)
                               .where(SecurityEventRow.kind == "csrf_failed").order_by(SecurityEventRow.id)).all()
    return [(username, detail) for username, detail in rows]


def test_login_without_form_token_is_refused(client: TestClient, world: World) -> None:
    client.get("/login")
    r = client.post("/login", data={"username": "admin", "password": PASSWORD, "login_token": "forged"},
                    follow_redirects=False)
    assert "error=csrf" in r.headers["location"]
    assert "absflow_session" not in client.cookies
    assert csrf_refusals(world) == [("admin", "sign-in form without a valid form token")]


def test_failed_logins_are_recorded_and_throttled(client: TestClient, world: World) -> None:
    for _ in range(5):
        assert "error=wrong_login" in login(client, "investor", "wrong password")
    assert "error=throttled" in login(client, "investor")  # even the right password waits
    with transaction(world.ctx.engine) as session:
        kinds = session.execute(select(SecurityEventRow.detail).where(
            SecurityEventRow.kind == "login_failed", SecurityEventRow.username == "investor")).scalars().all()
    assert kinds.count("wrong password") == 5 and any("throttled" in k for k in kinds)
    assert "error=wrong_login" in login(client, "nobody", "whatever1")


def test_post_without_csrf_token_changes_nothing(client: TestClient, world: World) -> None:
    login(client, "plan-manager")
    r = client.post(f"/plans/{world.plan_a}/advance", data={"to_status": "filed", "csrf_token": "nope"})
    assert r.status_code == 400
    assert csrf_refusals(world) == [
        ("plan-manager", f"missing or wrong form token on POST /plans/{world.plan_a}/advance")]
    page = client.get(f"/plans/{world.plan_a}")
    assert 'id="plan-status">立项' in page.text
    r = client.post(f"/plans/{world.plan_a}/advance", data={"to_status": "filed", "csrf_token": csrf_of(page.text)})
    assert r.status_code == 200 and 'id="plan-status">申报' in r.text


def test_api_with_cookie_needs_csrf_header_for_changes(client: TestClient, world: World) -> None:
    login(client, "plan-manager")
    assert client.get("/api/v1/plans").status_code == 200
    assert client.patch(f"/api/v1/plans/{world.plan_a}", json={"status": "filed"}).status_code == 403
    assert csrf_refusals(world) == [
        ("plan-manager", f"missing or wrong X-CSRF-Token header on PATCH /api/v1/plans/{world.plan_a}")]
    token = csrf_of(client.get("/").text)
    r = client.patch(f"/api/v1/plans/{world.plan_a}", json={"status": "filed"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200


def test_other_plan_page_is_404_like_a_missing_one(client: TestClient, world: World) -> None:
    login(client, "investor")
    other = client.get(f"/plans/{world.plan_b}")
    missing = client.get("/plans/ABS-2099-9999")
    assert other.status_code == missing.status_code == 404
    assert "乙计划" not in other.text
    assert other.text.replace(world.plan_b, "X") == missing.text.replace("ABS-2099-9999", "X")


def test_english_switch(client: TestClient, world: World) -> None:
    login(client, "regulator")
    r = client.get("/lang/en?next=/")
    assert r.status_code == 200 and "Plans" in r.text and "Sign out" in r.text
    assert client.get("/lang/en?next=//evil.example").url.path == "/"


def test_sign_out_ends_the_session(client: TestClient, world: World) -> None:
    login(client, "custodian")
    token = csrf_of(client.get("/").text)
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/", follow_redirects=False).status_code == 303
