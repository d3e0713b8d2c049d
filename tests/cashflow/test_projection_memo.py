"""KernelMemo: projections that differ only in what the kernel does not read reuse its sums, bit for bit."""

from __future__ import annotations

import pickle

import numpy as np

from absflow.cashflow.curves import Speed
from absflow.cashflow.projection import COLUMNS, Assumptions, KernelMemo, LoanArrays, project


def _loans() -> LoanArrays:
    rng = np.random.default_rng(3)
    n = 500
    return LoanArrays.from_columns(balance=np.round(rng.uniform(1e4, 5e5, n), 2), gross_rate=rng.uniform(0.03, 0.12, n),
                                   remaining_term=rng.integers(12, 361, n), age=rng.integers(0, 40, n))


def _same(a: object, b: object) -> bool:
    return all(np.array_equal(getattr(a, c), getattr(b, c)) for c in COLUMNS)


def test_a_severity_or_lag_change_reuses_the_kernel_and_gives_the_same_numbers() -> None:
    loans, memo = _loans(), KernelMemo()
    base = Assumptions(prepayment=Speed.psa(150), default=Speed.cdr(0.03), severity=0.3, recovery_lag_periods=6)
    project(loans, base, memo=memo)
    for changed in (Assumptions(prepayment=Speed.psa(150), default=Speed.cdr(0.03), severity=0.7,
                                recovery_lag_periods=12, delinquency=0.02),):
        assert _same(project(loans, changed, memo=memo).pool, project(loans, changed).pool)
    assert memo.hits == 1


def test_what_the_kernel_reads_is_never_reused() -> None:
    loans, memo = _loans(), KernelMemo()
    project(loans, Assumptions(prepayment=Speed.cpr(0.1), default=Speed.sda(100), recovery_lag_periods=6), memo=memo)
    others = [
        Assumptions(prepayment=Speed.cpr(0.2), default=Speed.sda(100), recovery_lag_periods=6),
        Assumptions(prepayment=Speed.cpr(0.1), default=Speed.sda(200), recovery_lag_periods=6),
        Assumptions(prepayment=Speed.cpr(0.1), default=Speed.sda(100), recovery_lag_periods=9),  # SDA stops by lag
    ]
    for a in others:
        assert _same(project(loans, a, memo=memo).pool, project(loans, a).pool)
    shifted = memo.with_rate_shift(loans, 0.01)
    assert memo.with_rate_shift(loans, 0.01) is shifted
    assert _same(project(shifted, others[0], memo=memo).pool, project(loans.with_rate_shift(0.01), others[0]).pool)
    assert project(_loans(), others[0], memo=memo) is not None  # equal contents, another object: computed again
    assert memo.hits == 0


def test_a_memo_pickles_empty() -> None:
    memo = KernelMemo(size=3)
    loans = _loans()
    project(loans, Assumptions(default=Speed.cdr(0.02)), memo=memo)
    copy = pickle.loads(pickle.dumps(memo))
    assert copy.size == 3 and copy.get(loans, ()) is None and copy.hits == 0
