"""absflow.pool: pool analytics on polars frames — summary, stratification, concentration,
static-pool (vintage) curves and dynamic-pool roll rates. Pure: frames in, values out."""

from absflow.pool.concentration import Concentration, Share, concentration
from absflow.pool.fields import FieldKind, PoolField, pool_fields, resolve_field
from absflow.pool.performance import RollRates, VintageCurves, roll_rates, vintage_curves
from absflow.pool.strat import Stratification, StratRow, default_edges, parse_edges, stratify
from absflow.pool.summary import (
    DEFAULT_LIQUIDATION_LINE,
    DEFAULT_WARNING_LINE,
    MarginSummary,
    PoolSummary,
    summarize,
)

__all__ = [
    "DEFAULT_LIQUIDATION_LINE",
    "DEFAULT_WARNING_LINE",
    "Concentration",
    "FieldKind",
    "MarginSummary",
    "PoolField",
    "PoolSummary",
    "RollRates",
    "Share",
    "StratRow",
    "Stratification",
    "VintageCurves",
    "concentration",
    "default_edges",
    "parse_edges",
    "pool_fields",
    "resolve_field",
    "roll_rates",
    "stratify",
    "summarize",
    "vintage_curves",
]
