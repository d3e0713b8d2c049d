from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from absflow.domain.money import (
    MoneyError,
    fen_to_yuan,
    format_yuan,
    largest_remainder,
    quantize_yuan,
    to_decimal,
    yuan_to_fen,
)


def test_half_even_to_the_fen() -> None:
    assert quantize_yuan("0.125") == Decimal("0.12")
    assert quantize_yuan("0.135") == Decimal("0.14")
    assert yuan_to_fen("1,234.565") == 123456
    assert format_yuan(123450) == "1234.50"


@given(st.integers(min_value=-(10**20), max_value=10**20))
def test_format_yuan_is_the_decimal_text(fen: int) -> None:
    text = format_yuan(fen)
    assert text == str(fen_to_yuan(fen))
    assert yuan_to_fen(text) == fen


def test_format_yuan_small_and_negative() -> None:
    assert [format_yuan(x) for x in (0, 5, -5, 100, -100, -123456)] == ["0.00", "0.05", "-0.05", "1.00", "-1.00",
                                                                        "-1234.56"]


def test_float_read_by_repr_not_binary() -> None:
    assert to_decimal(0.1) == Decimal("0.1")


@pytest.mark.parametrize("bad", ["abc", "", "NaN", "inf", True, None, object()])
def test_bad_amounts_rejected(bad: object) -> None:
    with pytest.raises(MoneyError):
        to_decimal(bad)


def test_largest_remainder_worked_example() -> None:
    # Bookbuilding worked example: 500 lots pro-rata over 200/400/200 → floors 71/285/142.
    assert largest_remainder(500, [200, 400, 200]) == [125, 250, 125]
    # 50,000万 over A 10,000 / C 40,000 / D 20,000 in 100万 lots: 500 lots.
    assert largest_remainder(500, [10000, 40000, 20000]) == [71, 286, 143]


def test_ties_go_to_earlier_position() -> None:
    assert largest_remainder(1, [1, 1]) == [1, 0]
    assert largest_remainder(2, [1, 1, 1]) == [1, 1, 0]


@given(
    total=st.integers(min_value=0, max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=50).filter(lambda w: sum(w) > 0),
)
def test_parts_sum_exactly_and_stay_within_one_unit(total: int, weights: list[int]) -> None:
    parts = largest_remainder(total, weights)
    assert sum(parts) == total
    weight_sum = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        exact = Decimal(total) * weight / weight_sum
        assert exact - 1 < part <= exact + 1
        if weight == 0:
            assert part == 0
