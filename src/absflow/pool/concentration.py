"""Concentration: largest obligors, HHI on obligor balances, top regions and industries.

Shares are fractions of the pool's total balance. An obligor's exposure is the sum of
its assets' ``balance_fen``. HHI = Σ sᵢ² over obligors (sᵢ its share), between 1/n (n
equal obligors) and 1 (one obligor); ``effective_obligors`` = 1 / HHI.
Ties in ranking go to the smaller key, so results are deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl

from absflow.domain.money import fen_to_yuan
from absflow.pool.fields import BALANCE, OBLIGOR

#: Categorical dimensions reported when the frame has them.
DIMENSIONS = ("region", "industry")
DEFAULT_TOP_N = 10
#: JSON key of each dimension's list.
DIMENSION_KEYS = {"region": "top_regions", "industry": "top_industries"}


@dataclass(frozen=True, slots=True)
class Share:
    """One obligor (or region, industry): its assets, exposure and share of the pool balance."""

    key: str
    count: int
    balance_fen: int
    pct_balance: float

    @property
    def balance(self) -> Decimal:
        return fen_to_yuan(self.balance_fen)

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "count": self.count, "balance": str(self.balance), "pct_balance": self.pct_balance}


@dataclass(frozen=True, slots=True)
class Concentration:
    """Top-``top_n`` obligors and their combined share, largest share, HHI; top per dimension."""

    top_n: int
    obligor_count: int
    total_balance_fen: int
    top_obligors: tuple[Share, ...]
    top_obligors_share: float
    largest_obligor_share: float
    hhi: float | None
    effective_obligors: float | None
    top_by_dimension: dict[str, tuple[Share, ...]] = field(default_factory=dict)

    @property
    def total_balance(self) -> Decimal:
        return fen_to_yuan(self.total_balance_fen)

    def as_dict(self) -> dict[str, Any]:
        return {
            "top_n": self.top_n,
            "obligor_count": self.obligor_count,
            "total_balance": str(self.total_balance),
            "top_obligors": [s.as_dict() for s in self.top_obligors],
            "top_obligors_share": self.top_obligors_share,
            "largest_obligor_share": self.largest_obligor_share,
            "hhi": self.hhi,
            "effective_obligors": self.effective_obligors,
            **{DIMENSION_KEYS.get(dim, f"top_{dim}"): [s.as_dict() for s in shares]
               for dim, shares in self.top_by_dimension.items()},
        }


def _ranked(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    """Exposure per ``key`` value, largest balance first, ties by key."""
    return (
        frame.group_by(pl.col(key).cast(pl.String).fill_null("(missing)").alias("key"))
        .agg(pl.len().alias("count"), pl.col(BALANCE).sum().alias("balance_fen"))
        .sort(["balance_fen", "key"], descending=[True, False])
    )


def _shares(ranked: pl.DataFrame, n: int, total_fen: int) -> tuple[Share, ...]:
    return tuple(
        Share(str(r["key"]), int(r["count"]), int(r["balance_fen"]),
              int(r["balance_fen"]) / total_fen if total_fen else 0.0)
        for r in ranked.head(n).iter_rows(named=True)
    )


def concentration(
    frame: pl.DataFrame,
    *,
    top_n: int = DEFAULT_TOP_N,
    dimensions: Sequence[str] = DIMENSIONS,
) -> Concentration:
    """Concentration of the pool ``frame`` (needs ``obligor_id`` and ``balance_fen``).

    ``top_n`` >= 1 obligors (and values of each present dimension) are listed. HHI is None
    when the pool balance is zero.
    """
    if top_n < 1:
        raise ValueError("top_n must be at least 1")
    for needed in (OBLIGOR, BALANCE):
        if needed not in frame.columns:
            raise ValueError(f"pool frame lacks {needed!r}")
    total_fen = int(frame.get_column(BALANCE).sum() or 0)
    obligors = _ranked(frame, OBLIGOR)
    top = _shares(obligors, top_n, total_fen)
    hhi: float | None = None
    if total_fen > 0:
        shares = obligors.get_column("balance_fen").cast(pl.Float64) / float(total_fen)
        hhi = float((shares * shares).sum())
    by_dimension = {
        dim: _shares(_ranked(frame, dim), top_n, total_fen) for dim in dimensions if dim in frame.columns
    }
    return Concentration(
        top_n=top_n,
        obligor_count=obligors.height,
        total_balance_fen=total_fen,
        top_obligors=top,
        top_obligors_share=sum(s.balance_fen for s in top) / total_fen if total_fen else 0.0,
        largest_obligor_share=top[0].pct_balance if top else 0.0,
        hhi=hhi,
        effective_obligors=1 / hhi if hhi else None,
        top_by_dimension=by_dimension,
    )
