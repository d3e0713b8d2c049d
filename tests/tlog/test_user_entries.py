"""Sign-ins in the log, and user identity in log entries: pseudonymous ids, names for administrators only."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from absflow.access import Role
from absflow.services import logview, plans, users
from absflow.services.access import as_principal
from absflow.services.context import Context

PASSWORD = "correct horse battery"


def _entries(ctx: Context) -> list[tuple[str, str | None, dict[str, object]]]:
    with ctx.engine.connect() as conn:
        rows = conn.execute(text("SELECT entry_type, plan_code, body FROM log_entries ORDER BY idx")).all()
    return [(t, p, json.loads(bytes(b))["payload"]) for t, p, b in rows]


def test_sign_ins_are_logged_by_pseudonymous_id_and_names_stay_private(ctx: Context) -> None:
    code = plans.create_plan(ctx, name="隐私计划", asset_type="margin_loan").code
    admin = users.create_user(ctx, username="root.admin", password=PASSWORD, role=Role.ADMIN,
                              display_name="管理员 王")
    alice = users.create_user(ctx, username="alice.fund", password=PASSWORD, role=Role.INVESTOR,
                              display_name="Alice Zhang")
    bob = users.create_user(ctx, username="bob.fund", password=PASSWORD, role=Role.INVESTOR, display_name="Bob Li")
    users.grant(ctx, "alice.fund", code)
    users.grant(ctx, "bob.fund", code)

    alice_principal = users.authenticate(ctx, "alice.fund", PASSWORD, remote_addr="127.0.0.9")
    with pytest.raises(users.AuthenticationFailed):
        users.authenticate(ctx, "bob.fund", "wrong password!", remote_addr="127.0.0.9")
    with pytest.raises(users.AuthenticationFailed):
        users.authenticate(ctx, "my-secret-pass", "oops", remote_addr="127.0.0.9")  # a password typed as a name
    users.set_password(ctx, "bob.fund", PASSWORD + "!")

    entries = _entries(ctx)
    logins = [(t, p) for t, _, p in entries if t.startswith("user.login")]
    assert logins == [
        ("user.login", {"user": users.subject_ref(alice.id), "method": "password"}),
        ("user.login_failed", {"user": users.subject_ref(bob.id), "reason": "wrong_password"}),
        ("user.login_failed", {"user": None, "reason": "unknown_user"}),
    ]
    everything = json.dumps(entries, ensure_ascii=False)
    for secret in ("alice.fund", "bob.fund", "root.admin", "Alice Zhang", "Bob Li", "管理员", "my-secret-pass",
                   "127.0.0.9"):
        assert secret not in everything
    granted = [p for t, c, p in entries if t == "access.granted"]
    assert granted[0]["user"] == users.subject_ref(alice.id) and granted[0]["role"] == "investor"

    # an investor reads the plan's entries: pseudonyms, no names, not even of itself
    investor_view, _ = logview.plan_entries(as_principal(ctx, alice_principal), code)
    assert investor_view and all(e.names == {} for e in investor_view)
    assert "bob.fund" not in json.dumps([e.body for e in investor_view])
    # an administrator sees who is behind them
    admin_principal = users.authenticate(ctx, "root.admin", PASSWORD)
    admin_view, _ = logview.plan_entries(as_principal(ctx, admin_principal), code)
    named = {k: v for e in admin_view for k, v in e.names.items()}
    assert named == {users.subject_ref(alice.id): "alice.fund", users.subject_ref(bob.id): "bob.fund"}
    assert users.subject_names(as_principal(ctx, alice_principal), [users.subject_ref(admin.id)]) == {}


def test_throttled_sign_ins_are_logged_too(ctx: Context) -> None:
    users.create_user(ctx, username="carol", password=PASSWORD, role=Role.INVESTOR)
    for _ in range(users.LOGIN_FAILURE_LIMIT):
        with pytest.raises(users.AuthenticationFailed):
            users.authenticate(ctx, "carol", "nope nope nope")
    with pytest.raises(users.TooManyAttempts):
        users.authenticate(ctx, "carol", PASSWORD)
    reasons = [p["reason"] for t, _, p in _entries(ctx) if t == "user.login_failed"]
    assert reasons == ["wrong_password"] * users.LOGIN_FAILURE_LIMIT + ["throttled"]
