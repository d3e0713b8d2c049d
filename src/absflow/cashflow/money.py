"""The one way projected money leaves the engine: float yuan → exact integer fen.

Flows are split by largest remainder (``absflow.domain.money.largest_remainder``) so that
every column adds up exactly to its rounded total, and the balance roll-forward holds to
the fen in every period: ``end = begin − scheduled_principal − prepayment − default`` and
``begin(t + 1) = end(t)``. Losses plus recoveries add up exactly to the defaults
liquidated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from absflow.cashflow.projection import COLUMNS, FloatArray, PoolCashflow
from absflow.domain.money import fen_to_yuan, largest_remainder, yuan_to_fen


@dataclass(frozen=True)
class PoolCashflowFen:
    """``PoolCashflow`` in integer fen, one tuple per column (index 0 is period 1)."""

    begin_balance: tuple[int, ...]
    scheduled_principal: tuple[int, ...]
    prepayment: tuple[int, ...]
    default: tuple[int, ...]
    loss: tuple[int, ...]
    recovery: tuple[int, ...]
    interest: tuple[int, ...]
    net_interest: tuple[int, ...]
    end_balance: tuple[int, ...]
    delinquent_balance: tuple[int, ...]

    @property
    def periods(self) -> int:
        return len(self.begin_balance)

    def column(self, name: str) -> tuple[int, ...]:
        value: tuple[int, ...] = getattr(self, name)
        return value

    def rows_yuan(self) -> list[dict[str, int | Decimal]]:
        """One dict per period: ``period`` and every column as Decimal yuan (two decimals)."""
        return [
            {"period": i + 1, **{name: fen_to_yuan(self.column(name)[i]) for name in COLUMNS}}
            for i in range(self.periods)
        ]


def _fen_total(values: FloatArray) -> int:
    return yuan_to_fen(float(np.sum(values)))


def _split(total_fen: int, *columns: FloatArray) -> list[list[int]]:
    """Split ``total_fen`` over the cells of ``columns`` (weights = the float amounts)."""
    periods = len(columns[0]) if columns else 0
    weights = np.clip(np.concatenate(columns), 0.0, None) if columns else np.zeros(0)
    if total_fen <= 0 or not weights.sum() > 0:
        return [[0] * periods for _ in columns]
    parts = _largest_remainder_float(total_fen, weights)
    return [parts[c * periods : (c + 1) * periods] for c in range(len(columns))]


def _largest_remainder_float(total: int, weights: FloatArray) -> list[int]:
    """Largest-remainder split of the integer ``total`` by float ``weights``, vectorized.

    The shares are computed in float64 with a correctly rounded sum (``math.fsum``), so
    each is within about 1e-15 × ``total`` of the exact share: the parts are the exact
    largest-remainder parts except where two remainders (or a remainder and 0 or 1) lie
    closer than that, where the float order decides (deterministically). The parts add
    up to ``total`` exactly and are never negative. Totals of 2^52 fen or more, weights so
    small that ``total / sum`` overflows, or a degenerate float result take the exact Decimal split.
    """
    if total >= 2**52:
        return largest_remainder(total, weights.tolist())
    scale = total / math.fsum(weights.tolist())
    if not math.isfinite(scale):  # weights summing to a subnormal: total / sum overflows float64
        return largest_remainder(total, weights.tolist())
    share = weights * scale
    floors = np.floor(share)
    parts = floors.astype(np.int64)
    left = total - int(parts.sum())
    if not 0 <= left <= len(parts):
        return largest_remainder(total, weights.tolist())
    if left:
        order = np.lexsort((np.arange(len(parts)), -(share - floors)))  # largest remainder first, ties to the earlier
        parts[order[:left]] += 1
    return [int(x) for x in parts]


def pool_to_fen(pool: PoolCashflow) -> PoolCashflowFen:
    """Exact fen for every column of ``pool`` (see module docstring for what is kept exact)."""
    periods = pool.periods
    if periods == 0:
        return PoolCashflowFen(*(() for _ in COLUMNS))
    begin0 = yuan_to_fen(float(pool.begin_balance[0]))
    last_live = int(np.max(np.nonzero(pool.begin_balance > 0)[0], initial=0))
    end_final = yuan_to_fen(float(pool.end_balance[last_live]))
    sched, prepay, default = _split(
        max(begin0 - end_final, 0), pool.scheduled_principal, pool.prepayment, pool.default
    )
    begin: list[int] = []
    end: list[int] = []
    balance = begin0
    for t in range(periods):
        begin.append(balance)
        balance = balance - sched[t] - prepay[t] - default[t]
        end.append(balance)
    liquidated_float = float(np.sum(pool.loss) + np.sum(pool.recovery))
    default_fen = sum(default)
    default_float = float(np.sum(pool.default))
    if default_float > 0 and abs(liquidated_float - default_float) <= 1e-9 * max(default_float, 1.0):
        liquidated_fen = default_fen
    else:
        liquidated_fen = yuan_to_fen(liquidated_float)
    loss, recovery = _split(liquidated_fen, pool.loss, pool.recovery)
    (interest,) = _split(_fen_total(pool.interest), pool.interest)
    (net_interest,) = _split(_fen_total(pool.net_interest), pool.net_interest)
    delinquent = [yuan_to_fen(float(v)) for v in pool.delinquent_balance]
    return PoolCashflowFen(
        begin_balance=tuple(begin),
        scheduled_principal=tuple(sched),
        prepayment=tuple(prepay),
        default=tuple(default),
        loss=tuple(loss),
        recovery=tuple(recovery),
        interest=tuple(interest),
        net_interest=tuple(net_interest),
        end_balance=tuple(end),
        delinquent_balance=tuple(delinquent),
    )
