"""Mark-to-market of margin collateral and the daily classification of pool assets.

Maintenance collateral ratio (维持担保比例), per client (one credit account per client):

    (cash + Σ quantity × close price) / (financed principal + short market value + interest and fees)

The ratio applies to every contract of the client. Classification, in precedence order:
non-performing > risk > ineligible > warning > normal (see :class:`AssetClass`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from absflow.revolving.table import BoolArray, FloatArray, Int64Array


class AssetClass(IntEnum):
    """Daily class of a pool asset (the integer is stored; higher = worse)."""

    NORMAL = 0  # 正常
    WARNING = 1  # 关注: ratio below the warning line, at or above the repurchase line
    INELIGIBLE = 2  # 不合格: fails a static eligibility criterion
    RISK = 3  # 风险: ratio below the repurchase line (风险基础资产)
    NON_PERFORMING = 4  # 不良: overdue, or liquidated with a shortfall

    @property
    def label_zh(self) -> str:
        return ("正常", "关注", "不合格", "风险", "不良")[int(self)]


@dataclass(frozen=True)
class Positions:
    """Securities held in credit accounts: one row per (client, security). ``quantity`` in shares."""

    client: Int64Array
    security: Int64Array
    quantity: FloatArray


def client_ratios(
    *,
    clients: int,
    positions: Positions,
    close_price: FloatArray,
    cash_fen: Int64Array,
    debt_fen: Int64Array,
) -> FloatArray:
    """Maintenance ratio per client code ``0..clients-1`` (NaN when the client owes nothing).

    ``close_price[s]``: yuan per share of security code ``s``; ``cash_fen``/``debt_fen``
    per client; debt = financed principal + short market value + interest and fees.
    """
    market_value_yuan = np.zeros(clients, np.float64)
    if positions.client.size:
        np.add.at(market_value_yuan, positions.client, positions.quantity * close_price[positions.security])
    collateral_yuan = market_value_yuan + cash_fen.astype(np.float64) / 100.0
    debt_yuan = debt_fen.astype(np.float64) / 100.0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(debt_yuan > 0, collateral_yuan / debt_yuan, np.nan)
    return np.asarray(ratio, np.float64)


def classify(
    *,
    maintenance_ratio: FloatArray,
    warning_line: float | None,
    repurchase_line: float | None,
    failed_static: BoolArray,
    non_performing: BoolArray,
) -> Int64Array:
    """:class:`AssetClass` code per asset. An unknown ratio (NaN) is not below any line."""
    classes = np.zeros(maintenance_ratio.shape[0], np.int64)
    if warning_line is not None:
        classes[maintenance_ratio < warning_line] = AssetClass.WARNING
    classes[failed_static] = AssetClass.INELIGIBLE
    if repurchase_line is not None:
        classes[maintenance_ratio < repurchase_line] = AssetClass.RISK
    classes[non_performing] = AssetClass.NON_PERFORMING
    return classes
