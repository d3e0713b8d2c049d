"""Columnar asset tables (numpy) that the revolving core computes on.

One row per margin-financing contract (融出资金债权). Text fields that matter for
concentration or allow/deny lists (client, region, industry, branch, …) are integer codes
into a shared vocabulary, so the pool and the candidates compare by integer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
DateArray = npt.NDArray[np.datetime64]


@dataclass(frozen=True)
class AssetTable:
    """Assets as parallel arrays (all of length ``len(self)``).

    ``client``: code into ``vocab["client"]``. ``groups[name]``: codes into ``vocab[name]``
    (e.g. region, industry, branch). Money in integer fen; rates and ratios as fractions
    (``maintenance_ratio`` 1.5 = 150%, NaN when unknown); ``due_date`` numpy ``datetime64[D]``.
    ``code_rank``: rank of the asset code (ascending), the last tie-break of the selection.
    ``code``: a list, or an object array of str (a carried pool's ids: ``take`` then copies no text).
    """

    code: Sequence[str] | npt.NDArray[np.object_]
    client: Int64Array
    principal_fen: Int64Array
    accrued_interest_fen: Int64Array
    rate: FloatArray
    due_date: DateArray
    maintenance_ratio: FloatArray
    overdue_days: Int64Array
    in_liquidation: BoolArray
    extension_count: Int64Array
    code_rank: Int64Array
    groups: Mapping[str, Int64Array] = field(default_factory=dict)
    vocab: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.principal_fen.shape[0])

    def take(self, index: npt.NDArray[np.intp] | BoolArray) -> AssetTable:
        """The rows at ``index`` (integer positions or a boolean mask), same vocabulary."""
        positions = np.flatnonzero(index) if index.dtype == np.bool_ else index
        return AssetTable(
            code=(self.code[positions] if isinstance(self.code, np.ndarray)
                  else np.asarray(self.code, dtype=object)[positions].tolist()),
            client=self.client[positions],
            principal_fen=self.principal_fen[positions],
            accrued_interest_fen=self.accrued_interest_fen[positions],
            rate=self.rate[positions],
            due_date=self.due_date[positions],
            maintenance_ratio=self.maintenance_ratio[positions],
            overdue_days=self.overdue_days[positions],
            in_liquidation=self.in_liquidation[positions],
            extension_count=self.extension_count[positions],
            code_rank=self.code_rank[positions],
            groups={name: codes[positions] for name, codes in self.groups.items()},
            vocab=self.vocab,
        )


def empty_table(group_names: Sequence[str] = (), vocab: Mapping[str, Sequence[str]] | None = None) -> AssetTable:
    """A table with no rows."""
    return AssetTable(
        code=[],
        client=np.zeros(0, np.int64),
        principal_fen=np.zeros(0, np.int64),
        accrued_interest_fen=np.zeros(0, np.int64),
        rate=np.zeros(0, np.float64),
        due_date=np.zeros(0, "datetime64[D]"),
        maintenance_ratio=np.zeros(0, np.float64),
        overdue_days=np.zeros(0, np.int64),
        in_liquidation=np.zeros(0, np.bool_),
        extension_count=np.zeros(0, np.int64),
        code_rank=np.zeros(0, np.int64),
        groups={name: np.zeros(0, np.int64) for name in group_names},
        vocab=vocab or {},
    )


#: Below this every partial sum of integers is exact in float64 (2**53).
EXACT_IN_FLOAT64 = 2**53


def group_totals(codes: Int64Array, amounts_fen: Int64Array, size: int) -> Int64Array:
    """Sum of ``amounts_fen`` per code ``0..size-1`` (every code below ``size``), exact in int64.

    ``np.bincount`` with weights sums in float64: exact, and several times faster than
    ``np.add.at``, while the largest amount times the count stays below 2**53 (every partial
    sum is then an integer float64 holds exactly); beyond that ``np.add.at`` in int64.
    """
    totals = np.zeros(size, np.int64)
    if not codes.size:
        return totals
    if int(np.abs(amounts_fen).max()) * codes.size < EXACT_IN_FLOAT64:
        summed = np.bincount(codes, weights=amounts_fen, minlength=size)
        if summed.size != size:
            raise IndexError(f"a code is {summed.size - 1}, beyond the {size} groups")
        return summed.astype(np.int64)
    np.add.at(totals, codes, amounts_fen)
    return totals
