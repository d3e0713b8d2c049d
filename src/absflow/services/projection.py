"""Pool projections for people: a quick rep-line projection and scenario grids.

The numbers come from ``absflow.cashflow.projection`` (pure) and, for grids,
``absflow.distributed.grid`` (Dask); this module reads inputs, checks them (every
problem at once), and writes results (CSV / JSON / XLSX). Nothing here changes state,
so nothing is logged.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from absflow.cashflow.curves import Speed
from absflow.cashflow.money import pool_to_fen
from absflow.cashflow.projection import (
    AmortizationKind,
    Assumptions,
    LoanArrays,
    PoolCashflow,
    parse_amortization_kind,
    project,
    segment_codes,
)
from absflow.distributed.grid import GridSpec, PoolPayload, ScenarioResult, pool_metrics, run_dask, run_sequential
from absflow.domain.issues import Issue, Location, ValidationFailed
from absflow.domain.money import fen_to_yuan
from absflow.services.context import Context

#: Keys of each period in the rep-line JSON, in order.
REPLINE_PERIOD_KEYS = (
    "period",
    "begin_balance",
    "scheduled_principal",
    "prepayment",
    "default",
    "loss",
    "recovery",
    "interest",
    "net_interest",
    "end_balance",
)


def _problem(field: str, message: str, value: object = None) -> Issue:
    return Issue("invalid_option", message, Location(field_path=field), None if value is None else str(value))


@dataclass(frozen=True)
class ReplineResult:
    pool: PoolCashflow
    assumptions: Assumptions


def repline_assumptions(
    *,
    cpr: float | None = None,
    psa: float | None = None,
    cdr: float | None = None,
    sda: float | None = None,
    severity: float = 0.0,
    lag: int = 0,
) -> Assumptions:
    """Assumptions from the rep-line options (CPR/CDR fractions, PSA/SDA percent of the curve)."""
    issues: list[Issue] = []
    if cpr is not None and psa is not None:
        issues.append(_problem("--cpr/--psa", "give --cpr or --psa, not both"))
    if cdr is not None and sda is not None:
        issues.append(_problem("--cdr/--sda", "give --cdr or --sda, not both"))
    for name, value in (("--cpr", cpr), ("--cdr", cdr)):
        if value is not None and not 0.0 <= value <= 1.0:
            issues.append(_problem(name, f"{name} is an annual rate as a fraction (0.06 = 6%)", value))
    for name, value in (("--psa", psa), ("--sda", sda)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            issues.append(_problem(name, f"{name} is a percent of the curve (150 = 150%), ≥ 0", value))
    if not 0.0 <= severity <= 1.0:
        issues.append(_problem("--severity", "severity is a fraction of the defaulted balance within [0, 1]", severity))
    if lag < 0:
        issues.append(_problem("--lag", "the recovery lag is a number of periods ≥ 0", lag))
    if issues:
        raise ValidationFailed(issues)
    prepayment = Speed.psa(psa) if psa is not None else Speed.cpr(cpr or 0.0)
    default = Speed.sda(sda) if sda is not None else Speed.cdr(cdr or 0.0)
    return Assumptions(prepayment=prepayment, default=default, severity=severity, recovery_lag_periods=lag)


def repline(
    ctx: Context,
    *,
    balance: float,
    rate: float,
    term: int,
    net_rate: float | None = None,
    cpr: float | None = None,
    psa: float | None = None,
    cdr: float | None = None,
    sda: float | None = None,
    severity: float = 0.0,
    lag: int = 0,
    kind: str = "level_payment",
    age: int = 0,
) -> ReplineResult:
    """Project one representative line (balance in yuan, rates as annual fractions, term in months)."""
    ctx.require("view", None)
    issues: list[Issue] = []
    if not (math.isfinite(balance) and balance > 0):
        issues.append(_problem("--balance", "balance must be a positive amount in yuan", balance))
    if not (math.isfinite(rate) and 0 <= rate < 1):
        issues.append(_problem("--rate", "rate is an annual fraction (0.095 = 9.5%)", rate))
    if net_rate is not None and not (math.isfinite(net_rate) and 0 <= net_rate < 1):
        issues.append(_problem("--net-rate", "net rate is an annual fraction", net_rate))
    if term < 1:
        issues.append(_problem("--term", "term must be at least 1 month", term))
    amortization = AmortizationKind.LEVEL_PAYMENT
    try:
        amortization = parse_amortization_kind(kind)
    except ValueError as exc:
        issues.append(_problem("--kind", str(exc), kind))
    try:
        assumptions = repline_assumptions(cpr=cpr, psa=psa, cdr=cdr, sda=sda, severity=severity, lag=lag)
    except ValidationFailed as exc:
        issues.extend(exc.issues)
    if issues:
        raise ValidationFailed(issues)
    loans = LoanArrays.from_columns(
        balance=[balance],
        gross_rate=[rate],
        net_rate=None if net_rate is None else [net_rate],
        remaining_term=[term],
        kind=[int(amortization)],
        age=[age],
    )
    return ReplineResult(project(loans, assumptions).pool, assumptions)


def repline_json(result: ReplineResult) -> dict[str, Any]:
    """``{"periods": [...], "wal_years", "cumulative_default", "cumulative_loss"}``, numbers as JSON numbers.

    Money per period is the exact-fen figure (yuan with two decimals); cumulative figures
    are fractions of the original balance.
    """
    fen = pool_to_fen(result.pool)
    periods = []
    for i in range(fen.periods):
        row: dict[str, int | float] = {"period": i + 1}
        for key in REPLINE_PERIOD_KEYS[1:]:
            row[key] = float(fen_to_yuan(fen.column(key)[i]))
        periods.append(row)
    return {
        "periods": periods,
        "wal_years": result.pool.wal_years(),
        "cumulative_default": result.pool.cumulative_default_rate(),
        "cumulative_loss": result.pool.cumulative_loss_rate(),
    }


# ---------------------------------------------------------------------------- pools for grids


def loans_from_frame(frame: Any, *, segment_by: str | None = None) -> LoanArrays:
    """Loan arrays from a pool frame (``absflow.services.tapes.load_pool_frame`` columns).

    Uses ``balance_fen``, ``rate``, ``remaining_term_months``, ``seasoning_months``, and
    ``amortization`` where the asset type has it (margin loans are revolving lines, leases
    pay level rent, receivables pay once); ``segment_by`` names any column.
    """
    columns = set(frame.columns)
    n = frame.height
    balance = frame["balance_fen"].fill_null(0).to_numpy().astype(np.float64) / 100.0
    rate = frame["rate"].fill_null(0.0).to_numpy().astype(np.float64)
    term = frame["remaining_term_months"].fill_null(1).to_numpy().astype(np.int64)
    age = frame["seasoning_months"].fill_null(0).to_numpy().astype(np.int64) if "seasoning_months" in columns else None
    default_kind = AmortizationKind.LEVEL_PAYMENT
    if "contract_id" in columns or "maintenance_ratio" in columns:
        default_kind = AmortizationKind.REVOLVING
    elif "lease_id" in columns:
        default_kind = AmortizationKind.LEASE
    elif "receivable_id" in columns:
        default_kind = AmortizationKind.SINGLE_PAYMENT
    kinds = np.full(n, int(default_kind), dtype=np.int8)
    if "amortization" in columns:
        issues: list[Issue] = []
        for i, value in enumerate(frame["amortization"].to_list()):
            if value is None or str(value).strip() == "":
                continue
            try:
                kinds[i] = int(parse_amortization_kind(str(value)))
            except ValueError as exc:
                issues.append(Issue("amortization", str(exc), Location(row=i + 2, column="amortization"), str(value)))
        if issues:
            raise ValidationFailed(issues)
    segment = None
    labels: tuple[str, ...] = ("all",)
    if segment_by is not None:
        if segment_by not in columns:
            raise ValidationFailed(
                [Issue("unknown_column", f"no column {segment_by!r} in the pool", Location(column=segment_by))]
            )
        segment, labels = segment_codes(frame[segment_by].to_list())
    return LoanArrays(
        balance=balance,
        gross_rate=np.clip(rate, 0.0, None),
        remaining_term=np.clip(term, 1, None),
        kind=kinds,
        age=None if age is None else np.clip(age, 0, None),
        segment=segment,
        segment_labels=labels,
    )


def plan_loans(ctx: Context, plan_code: str, *, segment_by: str | None = None) -> LoanArrays:
    """The plan's current pool (imported tapes) as loan arrays."""
    from absflow.services.tapes import load_pool_frame

    ctx.require("view", plan_code)
    return loans_from_frame(load_pool_frame(ctx, plan_code), segment_by=segment_by)


def loans_from_repline(*, balance: float, rate: float, term: int, net_rate: float | None = None) -> LoanArrays:
    """One level-payment line as loan arrays."""
    return LoanArrays.from_columns(
        balance=[balance], gross_rate=[rate], remaining_term=[term], net_rate=None if net_rate is None else [net_rate]
    )


def synthetic_loans(count: int, *, seed: int = 0, term: int = 360) -> LoanArrays:
    """A reproducible pool of ``count`` level-payment loans (for benchmarks and trying the grid)."""
    rng = np.random.default_rng(seed)
    return LoanArrays.from_columns(
        balance=np.round(rng.uniform(10_000, 500_000, count), 2),
        gross_rate=rng.uniform(0.03, 0.12, count),
        remaining_term=rng.integers(max(1, term // 4), term + 1, count),
        age=rng.integers(0, 36, count),
    )


# ---------------------------------------------------------------------------- grids


def run_grid(
    ctx: Context,
    loans: LoanArrays,
    spec: GridSpec,
    *,
    discount_rate: float = 0.0,
    scheduler: str | None = None,
    workers: int | None = None,
    sequential: bool = False,
    plan_code: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[ScenarioResult]:
    """Pool-level metrics for every scenario of ``spec``; on Dask unless ``sequential``."""
    ctx.require("view", plan_code)
    payload = PoolPayload(loans=loans, discount_rate=discount_rate)
    scenarios = spec.scenarios()
    if sequential:
        return run_sequential(payload, scenarios, pool_metrics, progress)
    return run_dask(payload, scenarios, pool_metrics, scheduler=scheduler, workers=workers, progress=progress)


def grid_rows(results: Sequence[ScenarioResult]) -> list[dict[str, Any]]:
    """One flat dict a scenario; a figure that does not exist (NaN, e.g. no IRR) is None (JSON null)."""
    return [{k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in r.row().items()}
            for r in results]


def write_grid(results: Sequence[ScenarioResult], path: str | Path) -> Path:
    """Write the grid to ``path``: ``.csv``, ``.json`` or ``.xlsx`` (one row per scenario)."""
    target = Path(path)
    rows = grid_rows(results)
    suffix = target.suffix.lower()
    if suffix not in (".csv", ".json", ".xlsx"):
        raise ValidationFailed([_problem("--out", "the output file must end in .csv, .json or .xlsx", str(path))])
    columns = list(rows[0]) if rows else []
    if suffix == ".json":
        target.write_text(json.dumps({"scenarios": rows}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    elif suffix == ".csv":
        with target.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
    else:
        import xlsxwriter

        book = xlsxwriter.Workbook(str(target))
        sheet = book.add_worksheet("grid")
        bold = book.add_format({"bold": True})
        for c, name in enumerate(columns):
            sheet.write(0, c, name, bold)
        for r, row in enumerate(rows, 1):
            for c, name in enumerate(columns):
                value = row[name]
                if isinstance(value, float) and not math.isfinite(value):
                    sheet.write_blank(r, c, None)
                else:
                    sheet.write(r, c, value)
        sheet.freeze_panes(1, 0)
        book.close()
    return target
