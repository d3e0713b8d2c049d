"""A deal run as a workbook (pool, one sheet per tranche, accounts, fees, triggers, summary), CSV or JSON."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from absflow.cashflow.runner import DealRun
from absflow.domain.money import fen_to_yuan

POOL_COLUMNS = ["period", "start", "payment_date", "status", "waterfall", "begin_balance", "interest", "principal",
                "recoveries", "defaults", "purchases", "end_balance", "tax_paid", "cash_in", "cash_out"]


def _y(fen: int) -> Decimal:
    return fen_to_yuan(fen)


def pool_rows(run: DealRun) -> list[dict[str, Any]]:
    return [{
        "period": r.period.index, "start": r.period.start, "payment_date": r.period.end, "status": r.status.value,
        "waterfall": r.waterfall, "begin_balance": _y(r.pool.begin_balance_fen), "interest": _y(r.pool.interest_fen),
        "principal": _y(r.pool.principal_fen), "recoveries": _y(r.pool.recoveries_fen),
        "defaults": _y(r.pool.defaults_fen), "purchases": _y(r.purchases_fen),
        "end_balance": _y(r.pool.end_balance_fen), "tax_paid": _y(r.tax_paid_fen), "cash_in": _y(r.cash_in_fen),
        "cash_out": _y(r.cash_out_fen),
    } for r in run.periods]


def tranche_rows(run: DealRun, tranche_id: str) -> list[dict[str, Any]]:
    rows = []
    for r in run.periods:
        t = r.tranches[tranche_id]
        rows.append({
            "period": r.period.index, "payment_date": r.period.end, "begin_balance": _y(t.begin_balance_fen),
            "interest_due": _y(t.interest_due_fen), "interest_paid": _y(t.interest_paid_fen),
            "principal_paid": _y(t.principal_paid_fen), "residual_paid": _y(t.residual_paid_fen),
            "end_balance": _y(t.end_balance_fen), "interest_unpaid": _y(t.interest_unpaid_fen),
        })
    return rows


def account_rows(run: DealRun) -> list[dict[str, Any]]:
    rows = []
    for r in run.periods:
        row: dict[str, Any] = {"period": r.period.index, "payment_date": r.period.end}
        for account, fen in r.accounts_end_fen.items():
            row[f"{account}_end"] = _y(fen)
        for facility, fen in r.liquidity_outstanding_fen.items():
            row[f"{facility}_drawn"] = _y(r.liquidity_drawn_fen.get(facility, 0))
            row[f"{facility}_repaid"] = _y(r.liquidity_repaid_fen.get(facility, 0))
            row[f"{facility}_outstanding"] = _y(fen)
        for facility, fen in r.shortfall_paid_fen.items():
            row[f"{facility}_paid"] = _y(fen)
        rows.append(row)
    return rows


def fee_rows(run: DealRun) -> list[dict[str, Any]]:
    return [{"period": r.period.index, "payment_date": r.period.end, "fee": f.fee_id, "due": _y(f.due_fen),
             "paid": _y(f.paid_fen), "unpaid": _y(f.unpaid_fen)} for r in run.periods for f in r.fees.values()]


def trigger_rows(run: DealRun) -> list[dict[str, Any]]:
    return [{"period": r.period.index, "payment_date": r.period.end, "trigger": t.trigger_id, "metric": t.metric,
             "value": t.value, "threshold": t.threshold, "breached": t.breached, "active": t.active}
            for r in run.periods for t in r.triggers]


def summary_rows(run: DealRun, metrics: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    by_id = {str(x.get("tranche")): x for x in metrics}
    rows = []
    for t in run.deal.tranches:
        flows = run.tranche_cashflows(t.id)
        row: dict[str, Any] = {
            "tranche": t.id, "class": t.tranche_class.value, "size": t.size,
            "interest_paid": _y(sum(f[1] for f in flows)), "principal_paid": _y(sum(f[2] for f in flows)),
            "residual_paid": _y(sum(f[3] for f in flows)), "unpaid_at_end": _y(run.tranche_loss_fen(t.id)),
        }
        row.update({k: v for k, v in by_id.get(t.id, {}).items() if k != "tranche"})
        rows.append(row)
    return rows


def _cell(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return " → ".join(str(_cell(v)) for v in value)
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _sheet(workbook: Any, name: str, rows: Sequence[dict[str, Any]], money_format: Any) -> None:
    sheet = workbook.add_worksheet(name[:31])
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    header = workbook.add_format({"bold": True, "bg_color": "#DDEBF7"})
    for c, key in enumerate(columns):
        sheet.write(0, c, key, header)
        sheet.set_column(c, c, max(12, len(key) + 2))
    for r, row in enumerate(rows, 1):
        for c, key in enumerate(columns):
            value = row.get(key)
            if isinstance(value, Decimal):
                sheet.write_number(r, c, float(value), money_format)
            elif value is not None:
                sheet.write(r, c, _cell(value))
    sheet.freeze_panes(1, 0)


def write_workbook(run: DealRun, path: str | Path, metrics: Sequence[dict[str, Any]] = ()) -> None:
    """Summary, Pool, one sheet per tranche, Accounts, Fees, Triggers (money in yuan, 2 decimals)."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path))
    money = workbook.add_format({"num_format": "#,##0.00"})
    _sheet(workbook, "Summary", summary_rows(run, metrics), money)
    _sheet(workbook, "Pool", pool_rows(run), money)
    for t in run.deal.tranches:
        _sheet(workbook, f"Tranche {t.id}", tranche_rows(run, t.id), money)
    _sheet(workbook, "Accounts", account_rows(run), money)
    _sheet(workbook, "Fees", fee_rows(run), money)
    _sheet(workbook, "Triggers", trigger_rows(run), money)
    workbook.close()


def run_json(run: DealRun, metrics: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """The run as JSON-ready data (money as decimal strings)."""
    def clean(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: (str(v) if isinstance(v, Decimal) else v.isoformat() if hasattr(v, "isoformat") else v)
                 for k, v in row.items()} for row in rows]

    return {
        "deal": run.deal.name, "scenario": run.scenario.name,
        "summary": clean(summary_rows(run, metrics)), "pool": clean(pool_rows(run)),
        "tranches": {t.id: clean(tranche_rows(run, t.id)) for t in run.deal.tranches},
        "accounts": clean(account_rows(run)), "fees": clean(fee_rows(run)), "triggers": clean(trigger_rows(run)),
    }


def write_run(run: DealRun, path: str | Path, metrics: Sequence[dict[str, Any]] = ()) -> None:
    """Write by extension: .xlsx workbook, .json, or .csv (the pool and tranche flows, one row per period)."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".xlsx":
        write_workbook(run, target, metrics)
    elif suffix == ".json":
        target.write_text(json.dumps(run_json(run, metrics), ensure_ascii=False, indent=2), encoding="utf-8")
    else:
        rows = pool_rows(run)
        for t in run.deal.tranches:
            for row, trow in zip(rows, tranche_rows(run, t.id), strict=True):
                for key in ("interest_paid", "principal_paid", "residual_paid", "end_balance"):
                    row[f"{t.id}_{key}"] = trow[key]
        with target.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            for row in rows:
                writer.writerow({k: _cell(v) if not isinstance(v, Decimal) else str(v) for k, v in row.items()})
