"""The permission predicate: role x grant x action, hiding plans without a grant, masking."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from absflow.access import (
    MASK,
    PLAN_ACTIONS,
    ROLE_PLAN_CAPABILITIES,
    Action,
    Principal,
    Role,
    Verdict,
    decide,
    mask_record,
    may,
    plan_actions,
)

A, B = "ABS-2026-0001", "ABS-2026-0002"


def who(role: Role, grants: dict[str, frozenset[Action]] | None = None, active: bool = True) -> Principal:
    return Principal(user_id=1, username="u", role=role, grants=grants if grants is not None else {A: PLAN_ACTIONS},
                     active=active)


# role -> (view, edit, download, approve) on a plan the user holds a full grant on
EXPECTED = {
    Role.PLAN_MANAGER: (True, True, True, True),
    Role.ORIGINATOR: (True, True, True, False),
    Role.CUSTODIAN: (True, False, True, True),
    Role.INVESTOR: (True, False, True, False),
    Role.RATING_AGENCY: (True, False, True, False),
    Role.REGULATOR: (True, False, True, False),
    Role.INTERNAL_CONTROL: (True, False, False, True),
    Role.ADMIN: (True, True, True, True),
}


@pytest.mark.parametrize("role", list(Role))
def test_role_capabilities_on_a_granted_plan(role: Role) -> None:
    got = tuple(may(who(role), a, A) for a in ("view", "edit", "download", "approve"))
    assert got == EXPECTED[role]


@pytest.mark.parametrize("role", [r for r in Role if r not in (Role.REGULATOR, Role.ADMIN)])
def test_a_plan_without_grant_is_hidden_not_forbidden(role: Role) -> None:
    for action in ("view", "edit", "download", "approve"):
        assert decide(who(role), action, B).verdict is Verdict.HIDE


def test_regulator_reads_every_plan_but_never_edits() -> None:
    regulator = who(Role.REGULATOR, grants={})
    assert may(regulator, "view", B) and may(regulator, "download", B)
    assert decide(regulator, "edit", B).verdict is Verdict.DENY
    assert decide(regulator, "approve", B).verdict is Verdict.DENY


def test_grant_narrows_the_role() -> None:
    manager = who(Role.PLAN_MANAGER, grants={A: frozenset({Action.VIEW})})
    assert may(manager, "view", A)
    assert decide(manager, "edit", A).verdict is Verdict.DENY


def test_global_actions() -> None:
    assert may(who(Role.PLAN_MANAGER), "create") and not may(who(Role.INVESTOR), "create")
    assert may(who(Role.ADMIN), "admin") and not may(who(Role.REGULATOR), "admin")
    assert all(may(who(r), "list") and may(who(r), "view") for r in Role)  # log-wide facts
    assert not may(who(Role.INVESTOR), "edit")
    assert not may(who(Role.ADMIN), "launch_missiles")


def test_disabled_user_may_do_nothing() -> None:
    admin = who(Role.ADMIN, active=False)
    assert not may(admin, "view", A) and not may(admin, "list")


@given(role=st.sampled_from(list(Role)), granted=st.sets(st.sampled_from(sorted(PLAN_ACTIONS))))
def test_never_more_than_role_and_grant_allow(role: Role, granted: set[Action]) -> None:
    principal = who(role, grants={A: frozenset(granted)})
    allowed = plan_actions(principal, A)
    assert allowed <= ROLE_PLAN_CAPABILITIES[role]
    if role not in (Role.REGULATOR, Role.ADMIN):
        assert allowed <= granted
        assert plan_actions(principal, B) == frozenset()


def test_investor_sees_borrower_identity_masked() -> None:
    loan = {"loan_id": "L1", "obligor_id": "C001", "obligor_name": "张三", "id_number": "310101199001011234",
            "balance": "1000.00"}
    masked = mask_record(loan, who(Role.INVESTOR))
    assert masked == {"loan_id": "L1", "obligor_id": MASK, "obligor_name": MASK, "id_number": MASK,
                      "balance": "1000.00"}
    assert mask_record(loan, who(Role.PLAN_MANAGER)) == loan
    assert mask_record(loan, who(Role.REGULATOR)) == loan
    assert mask_record(loan, None) == loan
