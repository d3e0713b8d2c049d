"""The projection's exit into fen: the vectorized largest-remainder split."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from absflow.cashflow.money import _largest_remainder_float
from absflow.domain.money import largest_remainder

weights_st = st.lists(st.floats(0, 1e9, allow_nan=False, allow_infinity=False), min_size=1, max_size=60).filter(
    lambda w: sum(w) > 0)


@given(weights_st, st.integers(0, 10**13))
def test_parts_add_up_and_stay_within_one_unit_of_the_exact_share(weights: list[float], total: int) -> None:
    parts = _largest_remainder_float(total, np.asarray(weights))
    assert sum(parts) == total and min(parts) >= 0
    exact_sum = sum(Fraction(w) for w in weights)
    for part, w in zip(parts, weights, strict=True):
        share = Fraction(w) * total / exact_sum
        assert share - 1 < part < share + 1
        if w == 0:
            assert part == 0


def test_same_as_the_exact_split_on_money_like_weights() -> None:
    rng = np.random.default_rng(5)
    for _ in range(300):
        weights = np.round(rng.uniform(0, 1e7, int(rng.integers(1, 800))), 2)
        total = int(rng.integers(1, 10**12))
        assert _largest_remainder_float(total, weights) == largest_remainder(total, weights.tolist())
    # ties go to the earlier position, as in the exact split
    assert _largest_remainder_float(1, np.array([2.0, 2.0])) == [1, 0] == largest_remainder(1, [2.0, 2.0])


def test_subnormal_weights_take_the_exact_split_without_a_float_overflow() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # total / sum overflowed and the cast of inf to int warned
        assert _largest_remainder_float(7, np.array([0.0, 5e-324, 1e-323])) == [0, 2, 5]
        assert _largest_remainder_float(10**13, np.array([5e-324])) == [10**13]
