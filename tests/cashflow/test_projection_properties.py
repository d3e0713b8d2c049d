"""Invariants of the projection (Hypothesis) and its exact-fen exit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from absflow.cashflow.curves import Speed
from absflow.cashflow.money import pool_to_fen
from absflow.cashflow.projection import (
    COLUMNS,
    AmortizationKind,
    Assumptions,
    LoanArrays,
    SegmentedAssumptions,
    level_payment,
    project,
)
from absflow.domain.issues import ValidationFailed
from absflow.domain.money import yuan_to_fen

speeds_prepay = st.one_of(
    st.floats(0, 0.6).map(Speed.cpr), st.floats(0, 800).map(Speed.psa), st.floats(0, 0.05).map(Speed.abs_speed)
)
speeds_default = st.one_of(st.floats(0, 0.5).map(Speed.cdr), st.floats(0, 2000).map(Speed.sda))


@st.composite
def pools(draw: st.DrawFn, max_loans: int = 12, max_term: int = 120) -> LoanArrays:
    n = draw(st.integers(1, max_loans))
    return LoanArrays.from_columns(
        balance=draw(st.lists(st.floats(0, 1e7), min_size=n, max_size=n)),
        gross_rate=draw(st.lists(st.floats(0, 0.3), min_size=n, max_size=n)),
        remaining_term=draw(st.lists(st.integers(1, max_term), min_size=n, max_size=n)),
        kind=draw(st.lists(st.integers(0, 5), min_size=n, max_size=n)),
        age=draw(st.lists(st.integers(0, 100), min_size=n, max_size=n)),
        segment=draw(st.lists(st.sampled_from(["A", "B"]), min_size=n, max_size=n)),
        payment_rate=draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)),
    )


assumptions_st = st.builds(
    Assumptions,
    prepayment=speeds_prepay,
    default=speeds_default,
    severity=st.floats(0, 1),
    recovery_lag_periods=st.integers(0, 13),
    delinquency=st.floats(0, 0.2),
)


@settings(max_examples=60, deadline=None)
@given(pools(), assumptions_st, assumptions_st)
def test_balances_never_negative_and_principal_adds_up(
    loans: LoanArrays, a: Assumptions, b: Assumptions
) -> None:
    result = project(loans, SegmentedAssumptions(a, {"B": b}) if "B" in loans.segment_labels else a, loan_level=True)
    pool, per_loan = result.pool, result.loans
    assert per_loan is not None
    for name in COLUMNS:
        assert np.all(pool.column(name) >= 0), name
        assert np.all(getattr(per_loan, name) >= 0), name
        # the pool is the sum of its loans and of its segments
        assert np.allclose(getattr(per_loan, name).sum(axis=0), pool.column(name), rtol=1e-9, atol=1e-6)
        assert np.allclose(sum(s.column(name) for s in result.segments.values()), pool.column(name), atol=1e-6)
    # run to term, every loan's principal leaves as scheduled principal, prepayment or default
    principal = per_loan.scheduled_principal + per_loan.prepayment + per_loan.default
    assert np.allclose(principal.sum(axis=1), loans.balance, rtol=1e-9, atol=1e-6)
    assert np.allclose(pool.end_balance[-1], 0.0, atol=1e-6)
    # every default is liquidated: loss + recovery = default
    assert np.allclose(pool.loss.sum() + pool.recovery.sum(), pool.default.sum(), rtol=1e-9, atol=1e-6)
    # balance roll-forward per period
    assert np.allclose(
        pool.begin_balance - pool.scheduled_principal - pool.prepayment - pool.default,
        pool.end_balance,
        atol=1e-6 * max(1.0, float(loans.balance.sum())) * 1e-6,
    )


@settings(max_examples=12, deadline=None)
@given(pools(max_loans=4, max_term=40), assumptions_st)
def test_compiled_kernel_equals_plain_python(loans: LoanArrays, a: Assumptions) -> None:
    compiled = project(loans, a, compiled=True, seed=11).pool
    plain = project(loans, a, compiled=False, seed=11).pool
    for name in COLUMNS:
        assert np.array_equal(compiled.column(name), plain.column(name)), name


@settings(max_examples=40, deadline=None)
@given(
    st.floats(1, 1e7),
    st.one_of(st.just(0.0), st.floats(1e-6, 0.3)),
    st.integers(1, 360),
)
def test_zero_speeds_reproduce_the_schedule(balance: float, rate: float, term: int) -> None:
    kinds = [AmortizationKind.LEVEL_PAYMENT, AmortizationKind.EQUAL_PRINCIPAL, AmortizationKind.INTEREST_ONLY]
    loans = LoanArrays.from_columns(
        balance=[balance] * 3, gross_rate=[rate] * 3, remaining_term=[term] * 3, kind=[int(k) for k in kinds]
    )
    per_loan = project(loans, Assumptions(), loan_level=True).loans
    assert per_loan is not None
    payment = level_payment(balance, rate, term)
    level = per_loan.scheduled_principal[0] + per_loan.interest[0]
    assert np.allclose(level[:term], payment, rtol=1e-9)
    assert np.allclose(per_loan.scheduled_principal[1][:term], balance / term, rtol=1e-9)
    io = per_loan.scheduled_principal[2]
    assert np.all(io[: term - 1] == 0) and io[term - 1] == pytest.approx(balance)
    assert np.allclose(per_loan.interest[2][:term], balance * rate / 12, rtol=1e-12)
    assert np.all(per_loan.prepayment == 0) and np.all(per_loan.default == 0)


def test_single_payment_receivable_pays_principal_and_accrued_interest_at_maturity() -> None:
    loans = LoanArrays.from_columns(
        balance=[1000.0], gross_rate=[0.12], remaining_term=[6], kind=[AmortizationKind.SINGLE_PAYMENT]
    )
    pool = project(loans, Assumptions()).pool
    assert np.all(pool.interest[:5] == 0)
    assert pool.interest[5] == pytest.approx(1000.0 * 0.01 * 6)
    assert pool.scheduled_principal[5] == pytest.approx(1000.0)


def test_revolving_line_payment_rate_and_extension() -> None:
    loans = LoanArrays.from_columns(
        balance=[1000.0], gross_rate=[0.06], remaining_term=[3], kind=[AmortizationKind.REVOLVING],
        payment_rate=[0.1],
    )
    a = Assumptions(extension_probability=0.5, extension_periods=2)
    pool = project(loans, a).pool
    # 10% a month for two months, then half the rest is due and half extends two periods, again and again
    assert pool.scheduled_principal[:5].tolist() == pytest.approx([100.0, 90.0, 405.0, 40.5, 182.25])
    assert pool.scheduled_principal.sum() == pytest.approx(1000.0, rel=1e-5)
    random = [project(loans, a, seed=s).pool for s in range(40)]
    # in the random mode each line repays in full at once: one period carries all principal
    assert all(np.count_nonzero(p.scheduled_principal) == 1 for p in random)
    assert project(loans, a, seed=3).pool.scheduled_principal.tolist() == random[3].scheduled_principal.tolist()


def test_lease_rent_is_level() -> None:
    loans = LoanArrays.from_columns(balance=[120000.0], gross_rate=[0.08], remaining_term=[36], kind=[5])
    pool = project(loans, Assumptions()).pool
    rent = pool.scheduled_principal + pool.interest
    assert np.allclose(rent, level_payment(120000.0, 0.08, 36))


def test_results_do_not_depend_on_thread_count() -> None:
    numba = pytest.importorskip("numba")
    rng = np.random.default_rng(5)
    n = 9000
    loans = LoanArrays.from_columns(
        balance=rng.uniform(1e3, 1e5, n), gross_rate=rng.uniform(0.02, 0.2, n), remaining_term=rng.integers(1, 60, n)
    )
    a = Assumptions(prepayment=Speed.cpr(0.1), default=Speed.cdr(0.05), severity=0.5, recovery_lag_periods=3)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = project(loans, a).pool
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = project(loans, a).pool
    finally:
        numba.set_num_threads(before)
    for name in COLUMNS:
        assert np.array_equal(one.column(name), many.column(name))


def test_segment_assumptions_apply_by_label() -> None:
    loans = LoanArrays.from_columns(
        balance=[100.0, 100.0], gross_rate=[0.1, 0.1], remaining_term=[12, 12], segment=["上海", "北京"]
    )
    a = SegmentedAssumptions(Assumptions(), {"北京": Assumptions(default=Speed.mdr(0.1), severity=1.0)})
    result = project(loans, a)
    assert result.segments["上海"].default.sum() == 0
    assert result.segments["北京"].default[0] == pytest.approx(10.0)
    assert result.pool.loss[0] == pytest.approx(10.0)


def test_bad_inputs_are_all_reported() -> None:
    loans = LoanArrays.from_columns(balance=[-1.0, 5.0], gross_rate=[0.1, float("nan")], remaining_term=[3, 0])
    with pytest.raises(ValidationFailed) as err:
        project(loans, SegmentedAssumptions(Assumptions(severity=2.0), {"nope": Assumptions()}))
    codes = sorted(i.code for i in err.value.issues)
    assert codes == ["negative", "not_finite", "range", "segment", "term"]


@settings(max_examples=40, deadline=None)
@given(pools(), assumptions_st)
def test_fen_conversion_is_exact(loans: LoanArrays, a: Assumptions) -> None:
    pool = project(loans, a).pool
    fen = pool_to_fen(pool)
    assert fen.begin_balance[0] == yuan_to_fen(float(loans.balance.sum()))
    for t in range(fen.periods):
        assert fen.end_balance[t] == (
            fen.begin_balance[t] - fen.scheduled_principal[t] - fen.prepayment[t] - fen.default[t]
        )
        if t:
            assert fen.begin_balance[t] == fen.end_balance[t - 1]
    assert fen.end_balance[-1] == 0
    assert sum(fen.loss) + sum(fen.recovery) == sum(fen.default)
    for name in ("interest", "net_interest"):
        assert sum(fen.column(name)) == yuan_to_fen(float(pool.column(name).sum()))
        cells = zip(fen.column(name), pool.column(name), strict=True)
        assert all(abs(f - v * 100) < 1 + 1e-6 * v * 100 for f, v in cells)
