"""Rendering of the servicer report (资产服务报告): XLSX (XlsxWriter) and PDF (shipped CJK font)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import xlsxwriter

from absflow.reports.pdf import PdfDocument


class _Section(Protocol):
    @property
    def title(self) -> str: ...
    @property
    def columns(self) -> tuple[str, ...]: ...
    @property
    def rows(self) -> Sequence[tuple[str, ...]]: ...


class _Report(Protocol):
    @property
    def plan_code(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def sections(self) -> Sequence[_Section]: ...


def servicer_xlsx(report: _Report) -> bytes:
    """One sheet per report; each section a titled table. Amounts stay text-exact (decimal strings)."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.set_properties({"title": report.title, "created": None})
    sheet = book.add_worksheet("资产服务报告")
    bold = book.add_format({"bold": True})
    head = book.add_format({"bold": True, "bg_color": "#DDE4EE", "border": 1})
    cell = book.add_format({"border": 1})
    money = book.add_format({"border": 1, "num_format": "#,##0.00"})
    sheet.write(0, 0, report.title, bold)
    row = 2
    for section in report.sections:
        sheet.write(row, 0, section.title, bold)
        row += 1
        for col, name in enumerate(section.columns):
            sheet.write(row, col, name, head)
        row += 1
        for values in section.rows:
            for col, value in enumerate(values):
                if _is_amount(value):
                    sheet.write_number(row, col, float(value.replace(",", "")), money)
                else:
                    sheet.write(row, col, value, cell)
            row += 1
        row += 1
    sheet.set_column(0, 0, 44)
    sheet.set_column(1, 7, 20)
    book.close()
    return buffer.getvalue()


def _is_amount(value: str) -> bool:
    text = value.replace(",", "")
    if text.count(".") != 1 or not text.replace(".", "").lstrip("-").isdigit():
        return False
    return len(text.split(".")[1]) == 2


def servicer_pdf(report: _Report) -> bytes:
    """A4 PDF with the embedded CJK font (no system fonts needed)."""
    document = PdfDocument(title=report.title)
    document.heading(report.title, title=True)
    for section in report.sections:
        document.heading(section.title)
        numeric = [i for i in range(1, len(section.columns))]
        document.table(list(section.columns), [list(r) for r in section.rows], align_right=numeric)
    return document.build()


def write_servicer_report(report: _Report, path: str | Path) -> Path:
    """Write ``.xlsx`` or ``.pdf`` by the file's suffix."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".xlsx":
        target.write_bytes(servicer_xlsx(report))
    elif suffix == ".pdf":
        target.write_bytes(servicer_pdf(report))
    else:
        raise ValueError(f"unknown report format {suffix!r}: use .xlsx or .pdf")
    return target
