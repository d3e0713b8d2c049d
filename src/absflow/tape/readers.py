"""Reading tapes as batches of text columns: CSV (any encoding), XLSX and Parquet.

This module is the tape package's only file input: it turns a source file into batch
frames whose columns are ``c0, c1, …`` in the order of ``TapeSource.headers`` (all
``pl.String``, so duplicate or empty headers cannot collide), plus
``__row``: the row number users see (1-based line in a CSV with the header on line 1;
the sheet row in an XLSX; record number + 1 in Parquet). Nothing here interprets values.

CSV is read in byte chunks split at line ends (outside quotes), so memory stays flat on
files of any size; each chunk is decoded strictly (a wrong encoding is reported with the
row where it shows) and parsed by polars.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import polars as pl

from absflow.domain.issues import Issue, Location

ROW = "__row"
DEFAULT_BATCH_BYTES = 256 * 1024 * 1024
DEFAULT_BATCH_ROWS = 500_000


class SourceError(Exception):
    """The file cannot be read as a tape at all; carries the issue(s)."""

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("; ".join(str(i) for i in issues))
        self.issues = issues


@dataclass
class TapeSource:
    """An opened tape: its headers and an iterator of batches. ``issues`` collects
    structural problems found while reading (merged cells, formulas, bad bytes)."""

    path: Path
    headers: list[str]
    batches: Iterator[pl.DataFrame]
    issues: list[Issue] = field(default_factory=list)


def open_source(path: str | Path, *, encoding: str = "utf-8", delimiter: str = ",", sheet: str | None = None,
                batch_bytes: int = DEFAULT_BATCH_BYTES, batch_rows: int = DEFAULT_BATCH_ROWS) -> TapeSource:
    """Open ``path`` by its suffix (.csv/.txt, .xlsx/.xlsm, .parquet). Raises SourceError."""
    p = Path(path)
    if not p.is_file():
        raise SourceError([Issue("file_not_found", f"no file at {p}", Location(), str(p))])
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _open_xlsx(p, sheet)
    if suffix in (".parquet", ".pq"):
        return _open_parquet(p, batch_rows)
    if suffix in (".xls",):
        raise SourceError([Issue("unsupported_format", "legacy .xls is not supported; save the sheet as .xlsx or "
                                 "CSV", Location(), p.name)])
    return _open_csv(p, encoding, delimiter, batch_bytes)


# --- CSV -------------------------------------------------------------------------------

def _decode(chunk: bytes, encoding: str, first_row: int) -> str:
    try:
        return chunk.decode(encoding)
    except UnicodeDecodeError as exc:
        row = first_row + chunk.count(b"\n", 0, exc.start)
        hint = " (the file may be GBK: set `encoding: gbk` in the mapping)" if encoding.startswith("utf") else ""
        raise SourceError([Issue(
            "encoding", f"bytes at row {row} are not valid {encoding}{hint}", Location(row=row),
            chunk[exc.start:exc.start + 8].hex(" "),
        )]) from None


def _split_header(raw: bytes) -> tuple[bytes, bytes]:
    """(header line, rest), honouring quotes in the header."""
    pos = 0
    while True:
        nl = raw.find(b"\n", pos)
        if nl < 0:
            return raw, b""
        if raw.count(b'"', 0, nl) % 2 == 0:
            return raw[: nl + 1], raw[nl + 1:]
        pos = nl + 1


def _open_csv(path: Path, encoding: str, delimiter: str, batch_bytes: int) -> TapeSource:
    handle = path.open("rb")
    head = handle.read(min(batch_bytes, 1 << 20) if batch_bytes > 0 else 1 << 20)
    while head and b"\n" not in head:
        more = handle.read(1 << 20)
        if not more:
            break
        head += more
    if not head.strip():
        handle.close()
        raise SourceError([Issue("empty_file", "the file is empty: no header and no rows", Location(), path.name)])
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    header_bytes, rest = _split_header(head)
    header_text = _decode(header_bytes, encoding, 1)
    headers = [h.strip() for h in next(csv.reader([header_text.rstrip("\r\n")], delimiter=delimiter))]
    source = TapeSource(path, headers, iter(()))
    source.batches = _csv_batches(handle, rest, headers, encoding, delimiter, batch_bytes, source)
    return source


def _csv_batches(handle: io.BufferedReader, pending: bytes, headers: list[str], encoding: str, delimiter: str,
                 batch_bytes: int, source: TapeSource) -> Iterator[pl.DataFrame]:
    next_row = 2
    utf8 = encoding in ("utf-8", "utf-8-sig")
    names = [f"c{i}" for i in range(len(headers))]
    try:
        eof = False
        while not eof or pending:
            while not eof and len(pending) < batch_bytes:
                more = handle.read(max(batch_bytes - len(pending), 1 << 16))
                if not more:
                    eof = True
                    break
                pending += more
            cut = len(pending) if eof else pending.rfind(b"\n") + 1
            while 0 < cut < len(pending) and pending.count(b'"', 0, cut) % 2:
                # a quoted field spans the cut: take more bytes
                more = handle.read(1 << 16)
                if not more:
                    eof = True
                    cut = len(pending)
                    break
                pending += more
                cut = pending.rfind(b"\n") + 1
            if cut <= 0:
                if eof:
                    cut = len(pending)
                else:
                    continue
            chunk, pending = pending[:cut], pending[cut:]
            if not chunk.strip(b"\r\n"):
                next_row += chunk.count(b"\n")
                continue
            text = _decode(chunk, encoding, next_row)
            data = chunk if utf8 else text.encode("utf-8")
            try:
                frame = pl.read_csv(
                    io.BytesIO(data), has_header=False, new_columns=names, infer_schema=False,
                    separator=delimiter, quote_char='"', raise_if_empty=False,
                    schema_overrides=dict.fromkeys(names, pl.String),
                )
            except pl.exceptions.PolarsError as exc:
                message = str(exc).splitlines()[0]
                raise SourceError([Issue("malformed_csv", f"CSV rows from row {next_row} cannot be read: "
                                         f"{message} (every row needs {len(headers)} fields)",
                                         Location(row=next_row))]) from None
            height = frame.height
            frame = frame.with_columns(pl.int_range(next_row, next_row + height, dtype=pl.Int64).alias(ROW))
            next_row += height
            yield frame
    finally:
        handle.close()


# --- XLSX ------------------------------------------------------------------------------

_CELL_REF = re.compile(r"^([A-Z]+)(\d+)$")


def _column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def _column_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _cell_text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value).strip() or None


def _sheet_part(archive: zipfile.ZipFile, sheet_name: str) -> str | None:
    """The zip member holding ``sheet_name``'s XML (workbook.xml + its rels)."""
    workbook = archive.read("xl/workbook.xml").decode("utf-8")
    rels = archive.read("xl/_rels/workbook.xml.rels").decode("utf-8")
    for match in re.finditer(r"<(?:\w+:)?sheet\b[^>]*>", workbook):
        tag = match.group(0)
        name = re.search(r'\bname="([^"]*)"', tag)
        rid = re.search(r'\br:id="([^"]*)"', tag) or re.search(r'\bid="([^"]*)"', tag)
        if name and rid and _xml_unescape(name.group(1)) == sheet_name:
            for rel in re.finditer(r"<Relationship\b[^>]*>", rels):
                text = rel.group(0)
                if f'Id="{rid.group(1)}"' in text:
                    target = re.search(r'Target="([^"]*)"', text)
                    if target:
                        t = target.group(1).lstrip("/")
                        return t if t.startswith("xl/") else f"xl/{t}"
    return None


def _xml_unescape(text: str) -> str:
    return (text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&apos;", "'")
            .replace("&amp;", "&"))


def _formula_cells(path: Path, sheet_name: str) -> list[tuple[int, int, str]]:
    """(row 0-based, column 0-based, formula) for every formula cell of the sheet."""
    with zipfile.ZipFile(path) as archive:
        part = _sheet_part(archive, sheet_name)
        if part is None or part not in archive.namelist():
            return []
        xml = archive.read(part).decode("utf-8")
    if "<f" not in xml:
        return []
    found = []
    for cell in re.finditer(r'<c\b[^>]*\br="([A-Z]+\d+)"[^>]*>(.*?)</c>', xml, re.S):
        formula = re.search(r"<f\b[^>]*?(?:/>|>(.*?)</f>)", cell.group(2), re.S)
        if formula:
            ref = _CELL_REF.match(cell.group(1))
            if ref:
                found.append((int(ref.group(2)) - 1, _column_index(ref.group(1)),
                              "=" + _xml_unescape(formula.group(1) or "(shared formula)")))
    return found


def _open_xlsx(path: Path, sheet: str | None) -> TapeSource:
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types
        raise SourceError([Issue("unreadable_xlsx", f"not a readable xlsx workbook: {exc}", Location(),
                                 path.name)]) from None
    names = workbook.sheet_names
    if sheet is not None and sheet not in names:
        raise SourceError([Issue("unknown_sheet", f"no sheet named {sheet!r}; sheets: " + ", ".join(names),
                                 Location(field_path="sheet"), sheet)])
    sheet_name = sheet if sheet is not None else names[0]
    data = workbook.get_sheet_by_name(sheet_name)
    rows = data.to_python(skip_empty_area=False)
    header_index = next((i for i, r in enumerate(rows) if any(_cell_text(v) is not None for v in r)), None)
    if header_index is None:
        raise SourceError([Issue("empty_file", f"sheet {sheet_name!r} is empty: no header and no rows",
                                 Location(), path.name)])
    width = len(rows[header_index])
    headers = [(_cell_text(v) or "").strip() for v in rows[header_index]]
    issues: list[Issue] = []
    for (r0, c0), (r1, c1) in data.merged_cell_ranges or []:
        ref = f"{_column_letters(c0)}{r0 + 1}:{_column_letters(c1)}{r1 + 1}"
        where = "header cells" if r0 <= header_index <= r1 else "cells"
        issues.append(Issue(
            "xlsx_merged_cells",
            f"merged {where} {ref}: unmerge them and give every column its own header and every row its own value",
            Location(row=r0 + 1, column=headers[c0] if c0 < width else None), ref))
    for r, c, formula in _formula_cells(path, sheet_name):
        issues.append(Issue(
            "xlsx_formula",
            f"cell {_column_letters(c)}{r + 1} holds a formula; a tape must hold values (paste as values)",
            Location(row=r + 1, column=headers[c] if c < width else None), formula))
    body = rows[header_index + 1:]
    columns = {
        f"c{j}": pl.Series(f"c{j}", [_cell_text(r[j]) if j < len(r) else None for r in body], dtype=pl.String)
        for j in range(width)
    }
    frame = pl.DataFrame(columns) if columns else pl.DataFrame()
    first = header_index + 2
    frame = frame.with_columns(pl.int_range(first, first + len(body), dtype=pl.Int64).alias(ROW))
    return TapeSource(path, headers, iter([frame]) if len(body) else iter(()), issues)


# --- Parquet ---------------------------------------------------------------------------

def _open_parquet(path: Path, batch_rows: int) -> TapeSource:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow's error types vary by version
        raise SourceError([Issue("unreadable_parquet", f"not a readable Parquet file: {exc}", Location(),
                                 path.name)]) from None
    headers = list(parquet.schema_arrow.names)
    return TapeSource(path, headers, _parquet_batches(parquet, batch_rows))


def _as_text(series: pl.Series) -> pl.Series:
    dtype = series.dtype
    if dtype == pl.String:
        return series
    if dtype == pl.Date:
        return series.dt.strftime("%Y-%m-%d")
    if isinstance(dtype, pl.Datetime):
        return series.dt.date().dt.strftime("%Y-%m-%d")
    return series.cast(pl.String)


def _parquet_batches(parquet: object, batch_rows: int) -> Iterator[pl.DataFrame]:
    next_row = 2
    for record_batch in parquet.iter_batches(batch_size=batch_rows):  # type: ignore[attr-defined]
        frame = pl.from_arrow(record_batch)
        assert isinstance(frame, pl.DataFrame)
        frame = pl.DataFrame([_as_text(s).alias(f"c{j}") for j, s in enumerate(frame.get_columns())])
        frame = frame.with_columns(pl.int_range(next_row, next_row + frame.height, dtype=pl.Int64).alias(ROW))
        next_row += frame.height
        yield frame
