"""Building small asset tables for revolving tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np

from absflow.revolving import AssetTable


def table(
    codes: Sequence[str],
    clients: Sequence[int],
    principal_fen: Sequence[int],
    *,
    vocab_clients: int,
    regions: Sequence[int] | None = None,
    region_names: Sequence[str] = ("R0", "R1", "R2", "R3"),
    rate: float | Sequence[float] = 0.08,
    ratio: float | Sequence[float] = 2.0,
    due: date = date(2025, 12, 31),
    overdue: Sequence[int] | None = None,
    liquidation: Sequence[bool] | None = None,
    extensions: Sequence[int] | None = None,
) -> AssetTable:
    n = len(codes)
    ranks = np.argsort(np.argsort(np.array(codes, dtype=object))).astype(np.int64) if n else np.zeros(0, np.int64)
    return AssetTable(
        code=list(codes),
        client=np.array(clients, np.int64),
        principal_fen=np.array(principal_fen, np.int64),
        accrued_interest_fen=np.zeros(n, np.int64),
        rate=np.broadcast_to(np.asarray(rate, np.float64), (n,)).copy(),
        due_date=np.full(n, np.datetime64(due, "D")),
        maintenance_ratio=np.broadcast_to(np.asarray(ratio, np.float64), (n,)).copy(),
        overdue_days=np.array(overdue if overdue is not None else [0] * n, np.int64),
        in_liquidation=np.array(liquidation if liquidation is not None else [False] * n, np.bool_),
        extension_count=np.array(extensions if extensions is not None else [0] * n, np.int64),
        code_rank=ranks,
        groups={"region": np.array(regions if regions is not None else [0] * n, np.int64)},
        vocab={"client": [f"C{i}" for i in range(vocab_clients)], "region": list(region_names)},
    )
