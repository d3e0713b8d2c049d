"""Exact money: Decimal yuan at the edges, integer fen inside storage and allocations.

Rules: amounts are ``Decimal`` quantized to the fen (0.01 yuan) with ROUND_HALF_EVEN;
storage and arithmetic on distributions use integer fen; splits hand out leftover fen by
largest remainder so the parts always add up exactly to the whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

FEN_PER_YUAN = 100
FEN = Decimal("0.01")
WAN_YUAN = Decimal("10000")


class MoneyError(ValueError):
    """An amount that cannot be read as exact money."""


def to_decimal(value: object) -> Decimal:
    """Read ``value`` (str, int, Decimal; float only if finite) as an exact Decimal.

    Floats are converted through ``repr`` so 0.1 stays 0.1, never 0.1000000000000000055.
    """
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise MoneyError(f"not an amount: {value!r}")
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip().replace(",", "")
        try:
            result = Decimal(text)
        except InvalidOperation as exc:
            raise MoneyError(f"not a number: {value!r}") from exc
    else:
        raise MoneyError(f"not an amount: {value!r}")
    if not result.is_finite():
        raise MoneyError(f"not a finite amount: {value!r}")
    return result


def quantize_yuan(amount: object) -> Decimal:
    """Round an amount in yuan to the fen, half-even."""
    return to_decimal(amount).quantize(FEN, rounding=ROUND_HALF_EVEN)


def yuan_to_fen(amount: object) -> int:
    """Amount in yuan → integer fen, rounding half-even to the fen."""
    return int(quantize_yuan(amount) * FEN_PER_YUAN)


def fen_to_yuan(fen: int) -> Decimal:
    """Integer fen → Decimal yuan with exactly two decimals."""
    return (Decimal(fen) / FEN_PER_YUAN).quantize(FEN)


def format_yuan(fen: int) -> str:
    """Integer fen → the decimal string used in JSON and reports ("1234.50"); the same text as
    ``str(fen_to_yuan(fen))``, by integer arithmetic (delivery lists format every line)."""
    whole, cents = divmod(abs(int(fen)), FEN_PER_YUAN)
    return f"{'-' if fen < 0 else ''}{whole}.{cents:02d}"


def largest_remainder(total: int, weights: Sequence[int | float | Decimal]) -> list[int]:
    """Split the integer ``total`` (e.g. fen or lots) in proportion to ``weights``.

    Each part gets the floor of its exact share; the units left over go one each to the
    largest remainders, ties to the earlier position. The parts sum exactly to ``total``.
    Preconditions: ``total >= 0``; weights non-negative with a positive sum, unless
    ``total`` is 0.
    """
    if total < 0:
        raise ValueError("total must be non-negative")
    if not weights:
        if total:
            raise ValueError("cannot split a non-zero total over no weights")
        return []
    exact = [to_decimal(w) for w in weights]
    if any(w < 0 for w in exact):
        raise ValueError("weights must be non-negative")
    weight_sum = sum(exact, Decimal(0))
    if weight_sum == 0:
        if total:
            raise ValueError("cannot split a non-zero total over zero weights")
        return [0] * len(exact)
    floors: list[int] = []
    remainders: list[Decimal] = []
    for w in exact:
        numerator = w * total
        floor = int(numerator // weight_sum)
        floors.append(floor)
        remainders.append(numerator - floor * weight_sum)
    left = total - sum(floors)
    order = sorted(range(len(exact)), key=lambda i: (-remainders[i], i))
    for i in order[:left]:
        floors[i] += 1
    return floors
