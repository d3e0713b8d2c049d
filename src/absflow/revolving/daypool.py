"""The pool at the start of a business day, encoded once and carried from day to day.

A :class:`DayPool` is the active pool (a polars frame of ``POOL_COLUMNS`` in store order)
with what the day step would otherwise rebuild from the whole pool every day: the asset
ids as an array, the row of each id, and the client and group fields (region, industry,
branch) as integer codes into a sorted :class:`Vocabulary`. ``run_day`` returns the pool
at the end of the day as the next day's ``DayPool``: it changes only the rows the day
touched, drops the removed rows, appends the purchases and adds the candidates' new texts
to the vocabulary (old codes are remapped by one array lookup, so codes keep the texts'
order). ``DayPool.of(frame)`` builds the same from a frame (the first day, or whenever the
caller has no carried pool); both give the same day results (tests/daily).

The vocabulary may hold texts of assets that left the pool on earlier days. That changes
no result: codes compare as the texts do, and every use of a code (limit totals, top-N
sums, allow/deny lists, mark-to-market per client) ignores codes no row holds
(docs/revolving.md, "The day's tables").
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from absflow.revolving.table import Int64Array

POOL_COLUMNS: dict[str, Any] = {
    "asset_id": pl.String,
    "obligor_id": pl.String,
    "balance_fen": pl.Int64,
    "accrued_interest_fen": pl.Int64,
    "rate": pl.Float64,
    "start_date": pl.Date,
    "maturity_date": pl.Date,
    "extension_count": pl.Int64,
    "maintenance_ratio": pl.Float64,
    "status": pl.String,
    "region": pl.String,
    "industry": pl.String,
    "branch": pl.String,
    "cutoff_date": pl.Date,
    "acquired_on": pl.Date,
}
GROUP_FIELDS = ("region", "industry", "branch")
#: Fields coded into a vocabulary, and the pool frame's column of each (null is the text "").
VOCAB_FIELDS = ("client", *GROUP_FIELDS)
POOL_FIELD_COLUMN = {"client": "obligor_id", **{g: g for g in GROUP_FIELDS}}

ObjectArray = npt.NDArray[np.object_]


def vocab_codes(values: pl.Series, vocab: pl.Series) -> Int64Array:
    """Code of each of ``values`` in ``vocab`` (its position; one join, for whole columns)."""
    frame = pl.DataFrame({"v": values}).with_row_index("i")
    codes = pl.DataFrame({"v": vocab}).with_row_index("code")
    joined = frame.join(codes, on="v", how="left").sort("i")
    return joined.get_column("code").fill_null(0).cast(pl.Int64).to_numpy()


@dataclass(frozen=True)
class Vocabulary:
    """Sorted texts per field; the code of a text is its position. A text keeps a stable id
    from when it was added (``ids``), and ``code_of_id`` maps ids to codes, so adding texts
    copies the id dict and remaps one array instead of rebuilding a dict of every text."""

    texts: Mapping[str, list[str]]
    ids: Mapping[str, dict[str, int]]
    code_of_id: Mapping[str, Int64Array]
    _series: dict[str, pl.Series] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of_sorted(cls, texts: Mapping[str, list[str]]) -> Vocabulary:
        return cls(dict(texts), {name: {t: i for i, t in enumerate(v)} for name, v in texts.items()},
                   {name: np.arange(len(v), dtype=np.int64) for name, v in texts.items()})

    def extended(self, values: Mapping[str, Iterable[str]]) -> tuple[Vocabulary, dict[str, Int64Array]]:
        """This vocabulary with the new ``values`` added in order, and per field that grew the
        map old code → new code (texts sort by code point, as polars sorts UTF-8 bytes)."""
        texts, ids, code_of_id = dict(self.texts), dict(self.ids), dict(self.code_of_id)
        series = dict(self._series)
        remaps: dict[str, Int64Array] = {}
        for name, candidates in values.items():
            known = ids.get(name, {})
            new = sorted(set(candidates).difference(known))
            if not new:
                continue
            old = texts.get(name, [])
            at = np.array([bisect.bisect_left(old, text) for text in new], np.int64)
            remap = np.arange(len(old), dtype=np.int64) + np.searchsorted(
                at, np.arange(len(old), dtype=np.int64), side="right")
            grown = dict(known)
            grown.update(zip(new, range(len(known), len(known) + len(new)), strict=True))
            code_of_id[name] = np.concatenate([remap[code_of_id.get(name, np.zeros(0, np.int64))],
                                               at + np.arange(len(new), dtype=np.int64)])
            texts[name], ids[name], remaps[name] = sorted([*old, *new]), grown, remap
            if name in series:  # the polars texts carried: old and new texts gathered into code order
                order = np.empty(len(old) + len(new), np.int64)
                order[remap] = np.arange(len(old), dtype=np.int64)
                order[at + np.arange(len(new), dtype=np.int64)] = np.arange(len(old), len(old) + len(new))
                series[name] = pl.concat([series[name], pl.Series(name, new, dtype=pl.String)]).gather(order)
        return (Vocabulary(texts, ids, code_of_id, series) if remaps else self), remaps

    def codes(self, name: str, values: Sequence[str]) -> Int64Array:
        """Codes of texts known to the vocabulary."""
        ids = self.ids[name]
        return self.code_of_id[name][np.fromiter(map(ids.__getitem__, values), np.int64, count=len(values))]

    def series(self, name: str) -> pl.Series:
        """The field's texts as a polars Series (kept: the vocabulary is immutable)."""
        if name not in self._series:
            self._series[name] = pl.Series(name, self.texts[name], dtype=pl.String)
        return self._series[name]


class _Slots:
    """The slot of each id, shared by the indexes of successive days; only the newest owns it."""

    def __init__(self, slot_of: dict[str, int]) -> None:
        self.slot_of = slot_of
        self.generation = 0


class RowIndex(Mapping[str, int]):
    """Row of each asset id, carried across days without rebuilding a 200,000-entry dict: each
    id keeps a slot while it is in the pool, and one array maps slots to today's rows. The next
    day's index takes the slot dict over (removed ids deleted, bought ids added: no copy); an
    older index that is used again (a day that did not commit is run again) finds its
    generation gone and builds its own dict from its ids, so it is never stale. Not for two threads
    at once: ``after`` moves the shared dict while a lookup on another thread could be reading it."""

    #: Slots of gone assets tolerated beyond the live ones before the index is built afresh.
    SLACK = 1024

    def __init__(self, slots: _Slots, row_of_slot: npt.NDArray[np.intp], ids: Sequence[str] | ObjectArray) -> None:
        self._slots, self._generation, self._row_of_slot, self._ids = slots, slots.generation, row_of_slot, ids

    @classmethod
    def of(cls, ids: Sequence[str] | ObjectArray) -> RowIndex:
        return cls(_Slots(dict(zip(ids, range(len(ids)), strict=True))), np.arange(len(ids), dtype=np.intp), ids)

    def _slot_of(self) -> dict[str, int]:
        if self._slots.generation != self._generation:  # a later day took the dict over: own one again
            fresh = RowIndex.of(self._ids)
            self._slots, self._generation, self._row_of_slot = fresh._slots, fresh._generation, fresh._row_of_slot
        return self._slots.slot_of

    def __getitem__(self, asset_id: str) -> int:
        return int(self._row_of_slot[self._slot_of()[asset_id]])

    def __contains__(self, asset_id: object) -> bool:
        return asset_id in self._slot_of()

    def __iter__(self) -> Iterator[str]:
        return iter(self._slot_of())

    def __len__(self) -> int:
        return len(self._slot_of())

    def rows(self, asset_ids: Sequence[str]) -> npt.NDArray[np.intp]:
        """Row of each id in the order given, -1 for ids not in the pool."""
        if not len(self._row_of_slot):  # an empty pool (every asset gone): no id has a row
            return np.full(len(asset_ids), -1, np.intp)
        slot_of = self._slot_of()
        slots = np.fromiter(map(slot_of.get, asset_ids, repeat(-1)), np.intp, count=len(asset_ids))
        return np.where(slots >= 0, self._row_of_slot[np.maximum(slots, 0)], -1).astype(np.intp)

    def after(self, kept: npt.NDArray[np.bool_], removed: Sequence[str], added: Sequence[str],
              ids_after: ObjectArray) -> RowIndex:
        """The index of the pool that keeps the rows ``kept`` (in order) and appends ``added``
        (``ids_after``: that pool's ids). Takes this index's slot dict over."""
        slot_of = self._slot_of()
        old = self._row_of_slot
        if len(old) + len(added) > 2 * len(ids_after) + self.SLACK:
            return RowIndex.of(ids_after)
        self._slots.generation += 1  # first: from here on this index rebuilds its own dict if used
        for asset_id in removed:
            del slot_of[asset_id]
        slot_of.update(zip(added, range(len(old), len(old) + len(added)), strict=True))
        new_row = np.where(kept, np.cumsum(kept) - 1, -1)
        rows = np.full(len(old) + len(added), -1, np.intp)
        alive = old >= 0
        rows[: len(old)][alive] = new_row[old[alive]]
        first = int(kept.sum())
        rows[len(old):] = np.arange(first, first + len(added), dtype=np.intp)
        return RowIndex(self._slots, rows, ids_after)


@dataclass(frozen=True)
class DayPool:
    """The active pool at the start of a day (see the module docstring).

    ``frame``: ``POOL_COLUMNS``, store order; ``ids``: its ``asset_id`` column as an object
    array; ``codes[field]``: the row's code in ``vocab`` for each of ``VOCAB_FIELDS``."""

    frame: pl.DataFrame
    ids: ObjectArray
    codes: Mapping[str, Int64Array]
    vocab: Vocabulary
    index: RowIndex | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, frame: pl.DataFrame) -> DayPool:
        """Encode a pool frame from scratch (sorted vocabularies of its texts)."""
        frame = frame.select([pl.col(c).cast(t) for c, t in POOL_COLUMNS.items()])
        texts: dict[str, list[str]] = {}
        codes: dict[str, Int64Array] = {}
        for name in VOCAB_FIELDS:
            column = frame.get_column(POOL_FIELD_COLUMN[name]).fill_null("")
            vocab = column.unique().sort()
            texts[name] = vocab.to_list()
            codes[name] = vocab_codes(column, vocab)
        ids = frame.get_column("asset_id").to_numpy().astype(object)
        return cls(frame, ids, codes, Vocabulary.of_sorted(texts))

    def __len__(self) -> int:
        return self.frame.height

    @cached_property
    def row_of(self) -> RowIndex:
        """Row of each asset id (carried from the previous day, or built once)."""
        return self.index if self.index is not None else RowIndex.of(self.ids)

    def rows(self, asset_ids: Iterable[str]) -> npt.NDArray[np.intp]:
        """Rows of the given ids that are in the pool, in the order given."""
        rows = self.row_of.rows(list(asset_ids))
        return rows[rows >= 0]

    def rows_of_all(self, asset_ids: Sequence[str]) -> npt.NDArray[np.intp]:
        """Row of each of ``asset_ids`` in the order given, -1 for ids not in the pool."""
        return self.row_of.rows(asset_ids)

    def mask(self, asset_ids: Iterable[str]) -> npt.NDArray[np.bool_]:
        """Boolean mask of the rows holding any of ``asset_ids`` (ids not in the pool ignored).
        One lookup per id asked about in the row index, not a probe per pool row: the sets asked
        about (the day's removals, the defaulted and instructed assets) are a few thousand against
        a pool of 200,000 (docs/PERFORMANCE.md, ninth session)."""
        found = np.zeros(len(self), np.bool_)
        rows = self.rows(asset_ids)
        found[rows] = True
        return found

    def recoded(self, vocab: Vocabulary, remaps: Mapping[str, Int64Array]) -> DayPool:
        """The same rows with codes into ``vocab`` (an extension of this pool's vocabulary)."""
        if not remaps and vocab is self.vocab:
            return self
        codes = {name: (remaps[name][c] if name in remaps else c) for name, c in self.codes.items()}
        return DayPool(self.frame, self.ids, codes, vocab, self.row_of)
