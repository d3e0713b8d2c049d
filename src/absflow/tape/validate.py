"""Checking a tape against its canonical schema, batch by batch, vectorized with polars.

``TapeRun`` reads a source (``readers``), and for every batch parses each mapped column
into its canonical type and unit, applies defaults, derives absent fields, and evaluates
every rule as a boolean column — types, required values, ranges, date order, unique keys
and cross-field rules. Rows that fail a rule become ``Issue``s with the source row, the
source column header, the raw value, a stable code and a sentence. All problems are
reported at once; a caller writes nothing unless ``TapeRun.ok`` holds at the end.

To keep reports readable on million-row tapes, at most ``issue_limit`` issues are listed
per (rule, column); one more issue (code ``more_issues``) then says how many rows were left
out. Unique keys are checked across batches with a set of the keys seen so far (the only
state that grows with the file: about the size of the id column).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from absflow.domain.issues import Issue, Location
from absflow.tape.mapping import TapeMapping, has_day
from absflow.tape.months import add_months, months_remaining
from absflow.tape.readers import DEFAULT_BATCH_BYTES, DEFAULT_BATCH_ROWS, ROW, SourceError, TapeSource, open_source
from absflow.tape.schema import AssetStatus, FieldKind, FieldSpec, TapeKind, TapeSchema

ISSUE_LIMIT = 1000
MAX_YUAN = 1e13  # 10 trillion yuan: anything larger is a unit or typing mistake
EARLIEST = date(1900, 1, 1)
LATEST = date(2200, 12, 31)
MONEY_FACTOR = {"yuan": 100.0, "wan_yuan": 1_000_000.0, "fen": 1.0}
RATE_DIVISOR = {"fraction": 1.0, "percent": 100.0, "bps": 10_000.0}
MAINTENANCE_TOLERANCE = 0.01  # given vs computed maintenance ratio (1 percentage point)
CLOSED = (AssetStatus.REPAID.value, AssetStatus.PREPAID.value)


def _esc(text: str) -> str:
    """Escape braces for use inside a message template."""
    return text.replace("{", "{{").replace("}", "}}")


def fen_column(spec: FieldSpec) -> str:
    """Name of a canonical field's column in frames: money fields get ``_fen``."""
    return f"{spec.name}_fen" if spec.kind is FieldKind.MONEY else spec.name


def canonical_columns(schema: TapeSchema) -> list[str]:
    """Columns of a canonical frame, in schema order, then ``source_row``."""
    columns = [fen_column(f) for f in schema.fields]
    if schema.kind is TapeKind.LOAN_PERFORMANCE:
        columns.append("end_balance_fen")
    return [*columns, "source_row"]


def _dtype(spec: FieldSpec) -> pl.DataType:
    return {
        FieldKind.TEXT: pl.String(), FieldKind.CHOICE: pl.String(), FieldKind.MONEY: pl.Int64(),
        FieldKind.RATE: pl.Float64(), FieldKind.RATIO: pl.Float64(), FieldKind.INTEGER: pl.Int64(),
        FieldKind.DATE: pl.Date(),
    }[spec.kind]


@dataclass
class TapeReport:
    """Outcome of checking a tape: rows read, problems, and (optionally) the canonical frame."""

    kind: TapeKind
    rows: int
    issues: list[Issue]
    sha256: str | None = None
    frame: pl.DataFrame | None = None
    totals_fen: dict[str, int] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.issues

    def as_json(self) -> dict[str, Any]:
        """``{"valid", "rows", "errors": [{"row", "column", "value", "code", "message"}]}``."""
        return {
            "valid": self.valid,
            "rows": self.rows,
            "errors": [issue_json(i) for i in self.issues],
        }


def issue_json(issue: Issue) -> dict[str, Any]:
    return {"row": issue.location.row, "column": issue.location.column, "value": issue.value,
            "code": issue.code, "message": issue.message}


@dataclass(frozen=True)
class _Rule:
    """A check: ``mask`` is true on failing rows; ``column`` the canonical field it is reported on."""

    code: str
    column: str
    mask: pl.Expr
    message: str  # str.format_map template over the failing row: {value} raw value, {<field>} parsed values
    needs: tuple[str, ...]
    extra: dict[str, pl.Expr] = field(default_factory=dict)  # more values the message shows


class _Issues:
    """Collects issues, at most ``limit`` per (code, column), counting the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.items: list[Issue] = []
        self.counts: dict[tuple[str, str | None], int] = {}

    def room(self, code: str, column: str | None) -> int:
        return max(self.limit - self.counts.get((code, column), 0), 0)

    def add(self, issue: Issue, total: int = 1) -> None:
        key = (issue.code, issue.location.column)
        if self.counts.get(key, 0) < self.limit:
            self.items.append(issue)
        self.counts[key] = self.counts.get(key, 0) + total

    def count(self, code: str, column: str | None, extra: int) -> None:
        self.counts[(code, column)] = self.counts.get((code, column), 0) + extra

    def finish(self) -> list[Issue]:
        out = list(self.items)
        for (code, column), n in self.counts.items():
            if n > self.limit:
                out.append(Issue("more_issues", f"{n - self.limit} more row(s) fail rule {code!r} on this column "
                                 "and are not listed", Location(column=column), str(n - self.limit)))
        return sorted(out, key=lambda i: (i.code == "more_issues", i.location.row or 0))


class TapeRun:
    """Check a tape batch by batch. Iterate to get canonical frames; read ``ok`` and
    ``report()`` at the end. ``cutoff`` (the pool cut-off date) enables the derivation of
    remaining terms and the "starts after the cut-off" rule."""

    def __init__(self, path: str | Path, mapping: TapeMapping, *, cutoff: date | None = None,
                 batch_bytes: int = DEFAULT_BATCH_BYTES, batch_rows: int = DEFAULT_BATCH_ROWS,
                 issue_limit: int = ISSUE_LIMIT) -> None:
        self.path = Path(path)
        self.mapping = mapping
        self.schema = mapping.schema
        self.cutoff = cutoff
        self.rows = 0
        self.totals_fen: dict[str, int] = {}
        self._issues = _Issues(issue_limit)
        self._seen: set[str] = set()
        self._source: TapeSource | None = None
        try:
            self._source = open_source(self.path, encoding=mapping.encoding, delimiter=mapping.delimiter,
                                       sheet=mapping.sheet, batch_bytes=batch_bytes, batch_rows=batch_rows)
        except SourceError as exc:
            for issue in exc.issues:
                self._issues.add(issue)
            return
        for issue in self._source.issues:
            self._issues.add(issue)
        self._positions = self._check_header(self._source.headers)

    # --- header -----------------------------------------------------------------------

    def _check_header(self, headers: list[str]) -> dict[str, int]:
        first: dict[str, int] = {}
        for index, header in enumerate(headers):
            if header and header in first:
                self._issues.add(Issue("duplicate_header", f"column header {header!r} appears more than once",
                                       Location(row=1, column=header), header))
            first.setdefault(header, index)
        positions: dict[str, int] = {}
        shown = ", ".join(repr(h) for h in headers[:40]) + (" …" if len(headers) > 40 else "")
        for spec in self.schema.fields:
            source = self.mapping.source_header(spec.name)
            if source in first:
                positions[spec.name] = first[source]
            elif spec.required or spec.name in self.mapping.columns:
                how = f"mapped from column {source!r}" if spec.name in self.mapping.columns else "unmapped"
                need = "required field" if spec.required else "mapped field"
                self._issues.add(Issue("missing_column", f"{need} {spec.name} ({how}) is not in the header; the "
                                       f"header has: {shown}", Location(row=1, column=source, field_path=spec.name)))
        return positions

    def header_of(self, name: str) -> str:
        return self.mapping.source_header(name)

    # --- batches ----------------------------------------------------------------------

    @property
    def ok(self) -> bool:
        return not self._issues.counts

    def __iter__(self) -> Iterator[pl.DataFrame]:
        if self._source is None:
            return
        try:
            for raw in self._source.batches:
                frame = self._check_batch(raw)
                if frame is not None:
                    yield frame
        except SourceError as exc:
            for issue in exc.issues:
                self._issues.add(issue)
            return
        if self.rows == 0:
            self._issues.add(Issue("no_rows", "the tape has a header but no data rows", Location(row=1)))

    def _check_batch(self, raw: pl.DataFrame) -> pl.DataFrame | None:
        data_columns = [c for c in raw.columns if c != ROW]
        if data_columns:
            raw = raw.filter(~pl.all_horizontal(pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "")
                                                for c in data_columns))
        if raw.height == 0:
            return None
        self.rows += raw.height
        schema = self.schema
        present = {name: f"c{index}" for name, index in self._positions.items()}
        # 1. raw text per canonical field: trimmed, empty → null, values mapped
        raw_exprs = []
        for name, column in present.items():
            text = pl.col(column).str.strip_chars()
            text = pl.when(text == "").then(None).otherwise(text)
            table = self.mapping.values.get(name)
            if table:
                text = text.replace(table)
            raw_exprs.append(text.alias(f"raw:{name}"))
        frame = raw.select(pl.col(ROW), *raw_exprs)
        # 2. parse each field
        parsed, parse_rules = [], []
        for spec in schema.fields:
            if spec.name in present:
                expr, rules = self._parse(spec)
                parsed.append(expr.alias(spec.name))
                parse_rules.extend(rules)
            else:
                parsed.append(pl.lit(None, dtype=_dtype(spec)).alias(spec.name))
        frame = frame.with_columns(parsed)
        self._apply_rules(frame, parse_rules)
        # 3. defaults, then derived fields, then range / cross-field / key rules
        defaults = [pl.col(s.name).fill_null(pl.lit(s.default, dtype=_dtype(s) if s.kind is not FieldKind.MONEY
                                                    else pl.Float64()))
                    for s in schema.fields if s.default is not None]
        if defaults:
            frame = frame.with_columns(defaults)
        frame = frame.with_columns(self._derive())
        self._apply_rules(frame, self._value_rules())
        self._check_keys(frame)
        out = self._canonical(frame)
        for spec in schema.fields:
            if spec.kind is FieldKind.MONEY:
                column = fen_column(spec)
                total = out.get_column(column).sum()
                self.totals_fen[column] = self.totals_fen.get(column, 0) + int(total or 0)
        return out

    # --- parsing ----------------------------------------------------------------------

    def _parse(self, spec: FieldSpec) -> tuple[pl.Expr, list[_Rule]]:
        raw = pl.col(f"raw:{spec.name}")
        label = self._label(spec.name)
        rules: list[_Rule] = []
        if spec.kind in (FieldKind.TEXT,):
            return raw, rules
        if spec.kind is FieldKind.CHOICE:
            ok = raw.is_in(list(spec.choices))
            rules.append(_Rule("unknown_value", spec.name, raw.is_not_null() & ~ok,
                               f"{label}: {{value!r}} is not one of " + ", ".join(spec.choices)
                               + f" (map source codes under values.{spec.name})", (spec.name,)))
            return raw, rules
        if spec.kind is FieldKind.DATE:
            parsed = None
            for fmt in self.mapping.formats(spec.name):
                if has_day(fmt):
                    attempt = raw.str.to_date(fmt, strict=False)
                else:
                    attempt = (raw + "|1").str.to_date(fmt + "|%d", strict=False)
                parsed = attempt if parsed is None else parsed.fill_null(attempt)
            assert parsed is not None
            formats = " or ".join(self.mapping.formats(spec.name))
            rules.append(_Rule("bad_date", spec.name, raw.is_not_null() & parsed.is_null(),
                               f"{label}: {{value!r}} is not a date in the format {_esc(formats)} (set "
                               f"date_formats.{spec.name} in the mapping)", (spec.name,)))
            return parsed, rules
        number = raw.str.replace_all(r"[,，¥￥%\s]", "").cast(pl.Float64, strict=False)
        number = pl.when(number.is_finite()).then(number)
        rules.append(_Rule("not_a_number", spec.name, raw.is_not_null() & number.is_null(),
                           f"{label}: {{value!r}} is not a number", (spec.name,)))
        unit = self.mapping.unit(spec.name)
        if spec.kind is FieldKind.MONEY:
            # kept in yuan (Float64) until _canonical turns it into Int64 fen
            return number * (MONEY_FACTOR[unit] / 100.0), rules
        if spec.kind in (FieldKind.RATE, FieldKind.RATIO):
            return number / RATE_DIVISOR[unit], rules
        # integer
        rules.append(_Rule("not_an_integer", spec.name, number.is_not_null() & (number != number.round(0)),
                           f"{label}: {{value!r}} is not a whole number", (spec.name,)))
        return pl.when(number == number.round(0)).then(number).cast(pl.Int64), rules

    def _label(self, name: str) -> str:
        header = self.header_of(name)
        return _esc(name if header == name else f"{header} ({name})")

    # --- derived fields ---------------------------------------------------------------

    def _derive(self) -> list[pl.Expr]:
        kind = self.schema.kind
        exprs: list[pl.Expr] = []
        if kind in (TapeKind.CONSUMER_LOAN, TapeKind.LEASE):
            start = "origination_date" if kind is TapeKind.CONSUMER_LOAN else "start_date"
            exprs.append(pl.col("maturity_date").fill_null(add_months(pl.col(start), pl.col("original_term_months"))))
        if kind is TapeKind.MARGIN_LOAN:
            exprs.append(pl.col("maintenance_ratio").fill_null(self._maintenance_ratio()))
        if kind is TapeKind.LOAN_PERFORMANCE:
            exprs.append(pl.col("period").dt.month_start())
            exprs.append((pl.col("begin_balance") - pl.col("scheduled_principal") - pl.col("prepaid_principal")
                          - pl.col("defaulted_amount")).alias("end_balance"))
        frame_exprs = exprs
        if self.cutoff is not None and self.schema.end_field is not None and "remaining_term_months" in \
                self.schema.by_name:
            end = self.schema.end_field
            end_expr = (add_months(pl.col(self.schema.start_field or end), pl.col("original_term_months"))
                        if end == "maturity_date" else pl.col(end))
            end_expr = pl.col(end).fill_null(end_expr) if end == "maturity_date" else end_expr
            frame_exprs.append(pl.col("remaining_term_months").fill_null(months_remaining(self.cutoff, end_expr)))
        return frame_exprs

    @staticmethod
    def _maintenance_ratio() -> pl.Expr:
        assets = pl.col("cash_balance").fill_null(0) + pl.col("securities_market_value").fill_null(0)
        debts = (pl.col("principal_outstanding").fill_null(0) + pl.col("short_market_value").fill_null(0)
                 + pl.col("accrued_interest").fill_null(0) + pl.col("fees").fill_null(0))
        return pl.when(debts > 0).then(assets / debts)

    # --- rules ------------------------------------------------------------------------

    def _value_rules(self) -> list[_Rule]:
        schema = self.schema
        rules: list[_Rule] = []
        for spec in schema.fields:
            col = pl.col(spec.name)
            label = self._label(spec.name)
            if spec.required:
                rules.append(_Rule("missing_value", spec.name, col.is_null() & pl.col(f"raw:{spec.name}").is_null()
                                   if spec.name in self._positions else pl.lit(False),
                                   f"{label} is required but empty", (spec.name,)))
            if spec.kind is FieldKind.MONEY:
                rules.append(_Rule("too_large", spec.name, col.abs() > MAX_YUAN,
                                   f"{label}: {{value}} is implausibly large (more than 10 trillion yuan); check "
                                   "the unit", (spec.name,)))
            if spec.minimum is not None and spec.kind is not FieldKind.DATE:
                low = spec.minimum
                if spec.exclusive_minimum:
                    rules.append(_Rule("not_positive", spec.name, col <= low,
                                       f"{label}: {{value}} must be greater than zero", (spec.name,)))
                else:
                    word = "negative" if low == 0 else f"below {low:g}"
                    rules.append(_Rule("negative" if low == 0 else "too_small", spec.name, col < low,
                                       f"{label}: {{value}} must not be {word}", (spec.name,)))
            if spec.maximum is not None:
                if spec.kind is FieldKind.RATE:
                    rules.append(_Rule("rate_out_of_range", spec.name, col > spec.maximum,
                                       f"{label}: {{value}} is above 100% as a fraction; if the column is in "
                                       f"percent, set units.{spec.name}: percent", (spec.name,)))
                else:
                    rules.append(_Rule("too_large", spec.name, col > spec.maximum,
                                       f"{label}: {{value}} is above the maximum {spec.maximum:g}",
                                       (spec.name,)))
            if spec.kind is FieldKind.DATE:
                rules.append(_Rule("date_out_of_range", spec.name, (col < EARLIEST) | (col > LATEST),
                                   f"{label}: {{value}} is outside 1900–2200", (spec.name,)))
        rules.extend(self._cross_rules())
        return rules

    def _order(self, code: str, early: str, late: str, *, strict: bool) -> _Rule:
        a, b = pl.col(early), pl.col(late)
        mask = (b <= a) if strict else (b < a)
        word = "on or before" if strict else "before"
        return _Rule(code, late, mask, f"{self._label(late)} {{{late}}} is {word} {self._label(early)} {{{early}}}",
                     (early, late))

    def _cross_rules(self) -> list[_Rule]:
        kind = self.schema.kind
        rules: list[_Rule] = []
        if kind in (TapeKind.CONSUMER_LOAN, TapeKind.LEASE, TapeKind.RECEIVABLE):
            cap = "face_amount" if kind is TapeKind.RECEIVABLE else "original_principal"
            rules.append(_Rule("balance_exceeds_principal", "current_balance",
                               pl.col("current_balance") > pl.col(cap) + 1e-9,
                               f"{self._label('current_balance')} {{current_balance}} is more than "
                               f"{self._label(cap)} {{{cap}}}", ("current_balance", cap)))
        if kind is TapeKind.CONSUMER_LOAN:
            rules.append(self._order("maturity_before_start", "origination_date", "maturity_date", strict=True))
        if kind is TapeKind.LEASE:
            rules.append(self._order("maturity_before_start", "start_date", "maturity_date", strict=True))
        if kind is TapeKind.MARGIN_LOAN:
            rules.append(self._order("due_before_start", "start_date", "due_date", strict=False))
            if "maintenance_ratio" in self._positions:
                computed = self._maintenance_ratio()
                rules.append(_Rule(
                    "maintenance_ratio_mismatch", "maintenance_ratio",
                    (pl.col("maintenance_ratio") - computed).abs() > MAINTENANCE_TOLERANCE,
                    f"{self._label('maintenance_ratio')} {{value}} disagrees with (cash + securities) / (financed + "
                    "short + interest + fees) = {computed_ratio:.4f} computed from the row", ("maintenance_ratio",),
                    extra={"computed_ratio": computed}))
        if kind is TapeKind.RECEIVABLE:
            rules.append(self._order("due_before_start", "invoice_date", "due_date", strict=False))
        if kind is TapeKind.LOAN_PERFORMANCE:
            rules.append(_Rule("principal_exceeds_balance", "begin_balance", pl.col("end_balance") < -1e-9,
                               "scheduled + prepaid + defaulted principal is more than "
                               f"{self._label('begin_balance')} {{begin_balance}}", ("begin_balance",)))
        balance = self.schema.balance_field
        if balance and kind is not TapeKind.LOAN_PERFORMANCE:
            rules.append(_Rule("closed_with_balance", "status",
                               pl.col("status").is_in(list(CLOSED)) & (pl.col(balance) > 0),
                               f"status {{status}} but {self._label(balance)} is {{{balance}}}",
                               ("status", balance)))
        start = self.schema.start_field
        if self.cutoff is not None and start is not None and kind is not TapeKind.LOAN_PERFORMANCE:
            cutoff = self.cutoff
            rules.append(_Rule("starts_after_cutoff", start, pl.col(start) > pl.lit(cutoff),
                               f"{self._label(start)} {{{start}}} is after the cut-off date {cutoff}", (start,)))
        return rules

    def _apply_rules(self, frame: pl.DataFrame, rules: Sequence[_Rule]) -> None:
        active = [r for r in rules if all(n in self._positions or self.schema.field(n).derived
                                          or self.schema.field(n).default is not None
                                          or n == "end_balance" for n in r.needs)]
        if not active:
            return
        flags = frame.select([r.mask.fill_null(False).alias(f"f{i}") for i, r in enumerate(active)])
        counts = flags.sum().row(0)
        for i, (rule, count) in enumerate(zip(active, counts, strict=True)):
            if not count:
                continue
            header = self.header_of(rule.column)
            room = self._issues.room(rule.code, header)
            shown_field = rule.column
            raw_name = f"raw:{shown_field}"
            cols: list[pl.Expr] = [pl.col(c) for c in (ROW, *dict.fromkeys((*rule.needs, rule.column)))]
            if raw_name in frame.columns:
                cols.append(pl.col(raw_name))
            cols.extend(expr.alias(name) for name, expr in rule.extra.items())
            bad = frame.filter(flags.get_column(f"f{i}")).head(room).select(cols) if room else None
            for record in bad.iter_rows(named=True) if bad is not None else ():
                raw_value = record.get(raw_name, record.get(shown_field))
                record["value"] = raw_value
                self._issues.items.append(Issue(rule.code, rule.message.format_map(record),
                                                Location(row=record[ROW], column=header, field_path=rule.column),
                                                None if raw_value is None else str(raw_value)))
            self._issues.count(rule.code, header, int(count))

    def _check_keys(self, frame: pl.DataFrame) -> None:
        keys = self.schema.keys
        if not all(k in self._positions for k in keys):
            return
        key_expr = (pl.col(keys[0]) if len(keys) == 1
                    else pl.concat_str([pl.col(k).cast(pl.String) for k in keys], separator="\x1f"))
        keyed = frame.select(pl.col(ROW), key_expr.alias("key"), pl.col(f"raw:{keys[0]}").alias("raw"))
        keyed = keyed.filter(pl.col("key").is_not_null())
        header = self.header_of(keys[0])
        what = " + ".join(keys)
        dup_mask = keyed.get_column("key").is_duplicated()
        if dup_mask.any():
            dups = keyed.filter(dup_mask)
            firsts = dups.group_by("key").agg(pl.col(ROW).min().alias("first"))
            later = dups.join(firsts, on="key").filter(pl.col(ROW) != pl.col("first")).sort(ROW)
            room = self._issues.room("duplicate_id", header)
            for row, raw, first in later.select(ROW, "raw", "first").head(room).iter_rows():
                self._issues.items.append(Issue("duplicate_id", f"{what} {raw!r} appears again (first at row "
                                                f"{first}); ids must be unique in a tape",
                                                Location(row=row, column=header, field_path=keys[0]), raw))
            self._issues.count("duplicate_id", header, later.height)
        ids = keyed.get_column("key").to_list()
        if self._seen and not self._seen.isdisjoint(ids):
            again = keyed.filter(pl.col("key").is_in(list(self._seen.intersection(ids)))).sort(ROW)
            room = self._issues.room("duplicate_id", header)
            for row, raw in again.select(ROW, "raw").head(room).iter_rows():
                self._issues.items.append(Issue("duplicate_id", f"{what} {raw!r} appears again (also earlier in the "
                                                "tape); ids must be unique in a tape",
                                                Location(row=row, column=header, field_path=keys[0]), raw))
            self._issues.count("duplicate_id", header, again.height)
        self._seen.update(ids)

    # --- output -----------------------------------------------------------------------

    def _canonical(self, frame: pl.DataFrame) -> pl.DataFrame:
        exprs = []
        for spec in self.schema.fields:
            col = pl.col(spec.name)
            if spec.kind is FieldKind.MONEY:
                col = (col * 100.0).round(0).cast(pl.Int64, strict=False)
            exprs.append(col.alias(fen_column(spec)))
        if self.schema.kind is TapeKind.LOAN_PERFORMANCE:
            exprs.append((pl.col("end_balance") * 100.0).round(0).cast(pl.Int64, strict=False)
                         .alias("end_balance_fen"))
        exprs.append(pl.col(ROW).alias("source_row"))
        return frame.select(exprs)

    def report(self, frame: pl.DataFrame | None = None, sha256: str | None = None) -> TapeReport:
        return TapeReport(kind=self.schema.kind, rows=self.rows, issues=self._issues.finish(), sha256=sha256,
                          frame=frame, totals_fen=dict(self.totals_fen))


def check_tape(path: str | Path, mapping: TapeMapping, *, cutoff: date | None = None, keep_frame: bool = False,
               batch_bytes: int = DEFAULT_BATCH_BYTES, batch_rows: int = DEFAULT_BATCH_ROWS,
               issue_limit: int = ISSUE_LIMIT) -> TapeReport:
    """Check the whole tape at ``path``; the canonical frame is kept only if ``keep_frame``."""
    run = TapeRun(path, mapping, cutoff=cutoff, batch_bytes=batch_bytes, batch_rows=batch_rows,
                  issue_limit=issue_limit)
    frames = [frame for frame in run if keep_frame]
    result: pl.DataFrame | None = None
    if keep_frame:
        result = pl.concat(frames) if frames else pl.DataFrame(
            schema={c: pl.String for c in canonical_columns(run.schema)})
    return run.report(frame=result)
