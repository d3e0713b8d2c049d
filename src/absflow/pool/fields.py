"""Pool frame columns: which fields exist, what kind they are, and how users name them.

The pool frame (one row per asset) comes from the tape layer with canonical columns:
money as Int64 fen with a ``_fen`` suffix, rates as Float64 fractions, dates as Date.
Users name money fields without the suffix (``balance`` means ``balance_fen``) and give
money edges in yuan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import polars as pl

from absflow.domain.issues import Issue, Location, ValidationFailed

BALANCE = "balance_fen"
RATE = "rate"
REMAINING_TERM = "remaining_term_months"
SEASONING = "seasoning_months"
OBLIGOR = "obligor_id"
ASSET = "asset_id"
MAINTENANCE_RATIO = "maintenance_ratio"
MONEY_SUFFIX = "_fen"

#: Columns never offered for stratification: identifiers (every ``*_id`` column — asset,
#: obligor, contract, client …; concentration covers obligors) and the storage
#: bookkeeping of the pool frame (row id, source line).
NOT_STRATIFIABLE = frozenset({ASSET, OBLIGOR, "id", "source_row"})
ID_SUFFIX = "_id"


class FieldKind(StrEnum):
    MONEY = "money"  # Int64 fen; users speak yuan
    NUMBER = "number"  # ints and floats in their own unit (fractions, months, ratios)
    DATE = "date"
    CATEGORY = "category"  # strings, enums, booleans


@dataclass(frozen=True, slots=True)
class PoolField:
    """A stratifiable column: its frame ``column``, user-facing ``name`` and ``kind``."""

    column: str
    name: str
    kind: FieldKind


def _kind(column: str, dtype: pl.DataType) -> FieldKind | None:
    if dtype.is_numeric():
        return FieldKind.MONEY if column.endswith(MONEY_SUFFIX) and dtype.is_integer() else FieldKind.NUMBER
    if dtype in (pl.Date, pl.Datetime) or isinstance(dtype, pl.Datetime):
        return FieldKind.DATE
    if dtype in (pl.String, pl.Categorical, pl.Boolean) or isinstance(dtype, (pl.Enum, pl.Categorical)):
        return FieldKind.CATEGORY
    return None


def pool_fields(schema: Mapping[str, pl.DataType]) -> list[PoolField]:
    """Stratifiable fields of a frame with ``schema``, in column order."""
    fields = []
    for column, dtype in schema.items():
        if column in NOT_STRATIFIABLE or column.endswith(ID_SUFFIX):
            continue
        kind = _kind(column, dtype)
        if kind is None:
            continue
        name = column.removesuffix(MONEY_SUFFIX) if kind is FieldKind.MONEY else column
        fields.append(PoolField(column, name, kind))
    return fields


def resolve_field(schema: Mapping[str, pl.DataType], by: str) -> PoolField:
    """The field a user means by ``by`` (``balance`` or ``balance_fen``); else ValidationFailed
    with code ``unknown_field`` listing every valid name."""
    wanted = by.strip()
    fields = pool_fields(schema)
    for f in fields:
        if wanted in (f.name, f.column):
            return f
    valid = ", ".join(f.name for f in fields)
    raise ValidationFailed(
        [Issue("unknown_field", f"valid fields: {valid}", Location(field_path="by"), wanted)],
        message=f"unknown pool field {wanted!r}",
    )
