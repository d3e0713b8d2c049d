"""Leaf hashes of an imported tape's loan records, built column-wise (fast enough for the import).

The definition is ``absflow.tlog.itemised.record_bytes`` (one record → canonical JSON); this
module produces the same bytes for a whole frame at once with polars (``struct.json_encode``
escapes strings as Python's ``json`` does; rates are written as ``rate_text``), then hashes
every leaf in one pass (``absflow.services.bulk_hash``). Tests check the two agree.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from absflow.services import bulk_hash
from absflow.tlog.itemised import ITEM_VERSION, rate_text

#: Columns holding binary floats (written as ``rate_text``).
FLOAT_COLUMNS = frozenset({"rate", "maintenance_ratio"})
#: Columns of the written frame that are not part of a record (where it sits in the file).
NOT_RECORDED = frozenset({"source_row"})


def _float_texts(frame: pl.DataFrame) -> pl.DataFrame:
    """Float columns replaced by their ``rate_text``: polars writes the shortest round-trip digits,
    as repr does; only exponent forms (rare) differ and are redone in Python."""
    for column in FLOAT_COLUMNS & set(frame.columns):
        values = frame.get_column(column).cast(pl.Float64)
        plain = values.cast(pl.String)
        odd = plain.str.contains("e", literal=True).fill_null(False)
        if odd.any():
            fixed = [rate_text(v) if flag else text
                     for v, text, flag in zip(values.to_list(), plain.to_list(), odd.to_list(), strict=True)]
            plain = pl.Series(column, fixed, dtype=pl.String)
        frame = frame.with_columns(plain.alias(column))
    return frame


def _record_json(frame: pl.DataFrame, kind: str, dtypes: Mapping[str, pl.DataType]) -> pl.Expr:
    """One JSON object per row, keys sorted (``frame``'s float columns already ``rate_text``)."""
    recorded = [c for c in frame.columns if c not in NOT_RECORDED]
    exprs = {c: pl.col(c).cast(pl.String if c in FLOAT_COLUMNS else dtypes[c]).alias(c) for c in recorded}
    exprs["kind"] = pl.lit(kind, dtype=pl.String).alias("kind")
    exprs["v"] = pl.lit(ITEM_VERSION, dtype=pl.Int64).alias("v")
    return pl.struct([exprs[name] for name in sorted(exprs)]).struct.json_encode()


def record_texts(frame: pl.DataFrame, kind: str, dtypes: Mapping[str, pl.DataType]) -> list[str]:
    """The canonical record texts (``record_bytes`` as str) of every row of ``frame``."""
    frame = _float_texts(frame)
    return frame.select(_record_json(frame, kind, dtypes)).to_series().to_list()


def record_hashes(frame: pl.DataFrame, kind: str, dtypes: Mapping[str, pl.DataType]) -> np.ndarray:
    """RFC 9162 leaf hashes of the records of ``frame``, in row order, as an ``(n, 32)`` uint8 array."""
    if frame.height == 0:
        return np.empty((0, bulk_hash.HASH_SIZE), dtype=np.uint8)
    frame = _float_texts(frame)
    return bulk_hash.leaf_hashes(frame.select(_record_json(frame, kind, dtypes)).to_series())


def record_leaves(frame: pl.DataFrame, kind: str, dtypes: Mapping[str, pl.DataType]) -> list[bytes]:
    """RFC 9162 leaf hashes of the records of ``frame``, in row order."""
    return bulk_hash.as_list(record_hashes(frame, kind, dtypes))
