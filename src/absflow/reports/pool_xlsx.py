"""Pool analytics as xlsx workbooks (bytes): stratification tables and vintage curves.

Money cells are numbers in yuan with two decimals (exact: from integer fen), shares and
rates are numbers formatted as percentages, so the sheet can be recomputed by a reader.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import xlsxwriter

from absflow.pool.performance import VintageCurves
from absflow.pool.strat import Stratification, StratRow

STRAT_HEADERS = ("bucket", "count", "pct_count", "balance", "pct_balance", "wa_rate", "wa_remaining_term_months")


def _sheet_name(text: str, used: set[str]) -> str:
    name = "".join("_" if c in "[]:*?/\\" else c for c in text)[:31] or "sheet"
    base, n = name, 1
    while name in used:
        n += 1
        name = f"{base[:28]}_{n}"
    used.add(name)
    return name


def strat_xlsx(strats: Sequence[Stratification], *, title: str = "") -> bytes:
    """One sheet per stratification: a row per bucket and the total row last."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    bold = book.add_format({"bold": True})
    money = book.add_format({"num_format": "#,##0.00"})
    pct = book.add_format({"num_format": "0.00%"})
    rate = book.add_format({"num_format": "0.0000%"})
    months = book.add_format({"num_format": "0.00"})
    used: set[str] = set()
    for strat in strats:
        sheet = book.add_worksheet(_sheet_name(strat.field, used))
        row = 0
        if title:
            sheet.write(row, 0, title, bold)
            row += 1
        sheet.write(row, 0, f"stratification by {strat.field}", bold)
        row += 1
        for col, header in enumerate(STRAT_HEADERS):
            sheet.write(row, col, header, bold)
        row += 1
        body: list[StratRow] = [*strat.rows, strat.total]
        for item in body:
            fmt_row = bold if item is strat.total else None
            sheet.write_string(row, 0, item.bucket, fmt_row)
            sheet.write_number(row, 1, item.count)
            sheet.write_number(row, 2, item.pct_count, pct)
            sheet.write_number(row, 3, float(item.balance), money)
            sheet.write_number(row, 4, item.pct_balance, pct)
            _write_optional(sheet, row, 5, item.wa_rate, rate)
            _write_optional(sheet, row, 6, item.wa_remaining_term_months, months)
            row += 1
        sheet.set_column(0, 0, 24)
        sheet.set_column(1, 6, 16)
    book.close()
    return buffer.getvalue()


def _write_optional(sheet: Any, row: int, col: int, value: float | Decimal | None, fmt: Any) -> None:
    if value is None:
        sheet.write_blank(row, col, None)
    else:
        sheet.write_number(row, col, float(value), fmt)


def vintage_xlsx(curves: VintageCurves, *, title: str = "") -> bytes:
    """One sheet per measure (cumulative default, prepayment, loss rates): a row per vintage,
    a column per month on book; plus a long-form sheet with the amounts in yuan."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    bold = book.add_format({"bold": True})
    pct = book.add_format({"num_format": "0.00%"})
    money = book.add_format({"num_format": "#,##0.00"})
    frame = curves.frame
    last = curves.last_month_on_book
    for measure in ("cum_default_rate", "cum_prepayment_rate", "cum_loss_rate"):
        sheet = book.add_worksheet(measure)
        top = 0
        if title:
            sheet.write(0, 0, title, bold)
            top = 1
        sheet.write(top, 0, "vintage", bold)
        sheet.write(top, 1, "original_balance", bold)
        for m in range(last + 1):
            sheet.write(top, 2 + m, m, bold)
        for r, (vintage, part) in enumerate(frame.group_by("vintage", maintain_order=True), start=top + 1):
            sheet.write_string(r, 0, vintage[0].isoformat())
            sheet.write_number(r, 1, int(part.get_column("original_balance_fen")[0]) / 100, money)
            for m, value in zip(part.get_column("months_on_book"), part.get_column(measure), strict=True):
                if value is not None:
                    sheet.write_number(r, 2 + int(m), float(value), pct)
        sheet.set_column(0, 1, 16)
    long = book.add_worksheet("amounts")
    columns = ["vintage", "months_on_book", "original_balance_fen", "cum_default_fen", "cum_prepayment_fen",
               "cum_loss_fen"]
    for c, name in enumerate(columns):
        long.write(0, c, name.removesuffix("_fen"), bold)
    for r, values in enumerate(frame.select(columns).iter_rows(), start=1):
        long.write_string(r, 0, values[0].isoformat())
        long.write_number(r, 1, int(values[1]))
        for c in range(2, len(columns)):
            long.write_number(r, c, int(values[c]) / 100, money)
    book.close()
    return buffer.getvalue()

