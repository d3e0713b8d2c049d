"""Column mappings: how an originator's tape (its headers, units, date formats, codes)
turns into the canonical schema.

The YAML form (every key but ``asset_type`` optional)::

    asset_type: consumer_loan        # or margin_loan, lease, receivable, loan_performance
    encoding: gbk                    # CSV text encoding; utf-8 default (a BOM is fine)
    delimiter: ","                   # CSV field separator
    sheet: 明细                       # XLSX sheet name; the first sheet by default
    columns:                         # canonical field: source column header
      loan_id: 借据编号
    units:                           # money: yuan|wan_yuan|fen; rates: percent|fraction|bps
      interest_rate: percent
    date_formats:                    # strftime; a list tries each in turn; no day → the 1st
      origination_date: "%b-%Y"
    values:                          # source value -> canonical value, per field
      status: {正常: performing, 逾期: delinquent}

A canonical field not listed under ``columns`` is looked up under its own name.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from absflow.domain.issues import Issue, Location, ValidationFailed
from absflow.tape.schema import UNITS, FieldKind, TapeKind, TapeSchema, schema_for

MAPPING_KEYS = ("asset_type", "encoding", "delimiter", "sheet", "columns", "units", "date_formats", "values")
DEFAULT_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d")
DAY_DIRECTIVES = ("%d", "%e", "%j", "%-d")


@dataclass(frozen=True)
class TapeMapping:
    """A validated mapping. ``columns`` maps canonical field → source header."""

    asset_type: TapeKind
    columns: Mapping[str, str] = field(default_factory=dict)
    units: Mapping[str, str] = field(default_factory=dict)
    date_formats: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    encoding: str = "utf-8"
    delimiter: str = ","
    sheet: str | None = None

    @property
    def schema(self) -> TapeSchema:
        return schema_for(self.asset_type)

    def source_header(self, canonical: str) -> str:
        """The source header that feeds ``canonical`` (its own name unless mapped)."""
        return self.columns.get(canonical, canonical)

    def unit(self, canonical: str) -> str:
        spec = self.schema.field(canonical)
        return self.units.get(canonical, UNITS[spec.kind][0]) if spec.kind in UNITS else ""

    def formats(self, canonical: str) -> tuple[str, ...]:
        return self.date_formats.get(canonical, DEFAULT_DATE_FORMATS)

    def as_dict(self) -> dict[str, Any]:
        """Plain data (sorted, JSON-ready) for batch records and log entries."""
        return {
            "asset_type": self.asset_type.value,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "sheet": self.sheet,
            "columns": dict(sorted(self.columns.items())),
            "units": dict(sorted(self.units.items())),
            "date_formats": {k: list(v) for k, v in sorted(self.date_formats.items())},
            "values": {k: dict(sorted(v.items())) for k, v in sorted(self.values.items())},
        }


def _issue(code: str, message: str, path: str, value: object = None) -> Issue:
    return Issue(code, message, Location(field_path=path), None if value is None else str(value))


def parse_mapping(data: object) -> TapeMapping:
    """Check and build a mapping from plain data (as loaded from YAML). All problems at once."""
    if not isinstance(data, Mapping):
        raise ValidationFailed([_issue("mapping_not_a_mapping", "the mapping file must be a YAML mapping", "$")])
    issues: list[Issue] = []
    for key in data:
        if key not in MAPPING_KEYS:
            issues.append(_issue("unknown_mapping_key", f"unknown mapping key {key!r}; known keys: "
                                 + ", ".join(MAPPING_KEYS), str(key), key))
    raw_type = data.get("asset_type")
    try:
        kind = TapeKind(str(raw_type))
    except ValueError:
        kinds = ", ".join(k.value for k in TapeKind)
        issues.append(_issue("unknown_asset_type", f"asset_type {raw_type!r} is not one of: {kinds}",
                             "asset_type", raw_type))
        raise ValidationFailed(issues) from None
    schema = schema_for(kind)

    def section(name: str) -> Mapping[str, Any]:
        value = data.get(name) or {}
        if not isinstance(value, Mapping):
            issues.append(_issue("mapping_section", f"{name} must be a mapping of field: value", name))
            return {}
        return value

    def known(section_name: str, name: object) -> bool:
        if str(name) in schema.by_name:
            return True
        issues.append(_issue("unknown_field", f"{section_name}: {name!r} is not a field of {kind.value}; "
                             "fields: " + ", ".join(schema.by_name), f"{section_name}.{name}", name))
        return False

    columns: dict[str, str] = {}
    seen_sources: dict[str, str] = {}
    for name, source in section("columns").items():
        if not known("columns", name):
            continue
        if not isinstance(source, str | int) or not str(source).strip():
            issues.append(_issue("mapping_value", f"columns.{name} must name a source column header",
                                 f"columns.{name}", source))
            continue
        header = str(source).strip()
        if header in seen_sources:
            issues.append(_issue("mapping_duplicate_source", f"columns.{name} and columns.{seen_sources[header]} "
                                 f"both read source column {header!r}", f"columns.{name}", header))
        seen_sources[header] = str(name)
        columns[str(name)] = header

    units: dict[str, str] = {}
    for name, unit in section("units").items():
        if not known("units", name):
            continue
        spec = schema.field(str(name))
        allowed = UNITS.get(spec.kind)
        if not allowed:
            issues.append(_issue("unit_not_applicable", f"units.{name}: {spec.kind.value} fields take no unit",
                                 f"units.{name}", unit))
        elif str(unit) not in allowed:
            issues.append(_issue("unknown_unit", f"units.{name}: {unit!r} is not one of: " + ", ".join(allowed),
                                 f"units.{name}", unit))
        else:
            units[str(name)] = str(unit)

    date_formats: dict[str, tuple[str, ...]] = {}
    for name, formats in section("date_formats").items():
        if not known("date_formats", name):
            continue
        if schema.field(str(name)).kind is not FieldKind.DATE:
            issues.append(_issue("not_a_date_field", f"date_formats.{name}: {name} is not a date field",
                                 f"date_formats.{name}", name))
            continue
        listed = [formats] if isinstance(formats, str) else formats
        if not isinstance(listed, list) or not listed or not all(isinstance(f, str) and "%" in f for f in listed):
            issues.append(_issue("bad_date_format", f"date_formats.{name} must be a strftime format such as "
                                 "\"%Y-%m-%d\" (or a list of them)", f"date_formats.{name}", formats))
            continue
        date_formats[str(name)] = tuple(listed)

    values: dict[str, dict[str, str]] = {}
    for name, table in section("values").items():
        if not known("values", name):
            continue
        if not isinstance(table, Mapping):
            issues.append(_issue("mapping_section", f"values.{name} must map source values to canonical values",
                                 f"values.{name}", table))
            continue
        spec = schema.field(str(name))
        converted = {str(k): str(v) for k, v in table.items()}
        if spec.choices:
            for source, target in converted.items():
                if target not in spec.choices:
                    issues.append(_issue("unknown_value", f"values.{name}.{source}: {target!r} is not one of: "
                                         + ", ".join(spec.choices), f"values.{name}.{source}", target))
        values[str(name)] = converted

    encoding = str(data.get("encoding") or "utf-8")
    try:
        encoding = codecs.lookup(encoding).name
    except LookupError:
        issues.append(_issue("unknown_encoding", f"unknown text encoding {encoding!r} (try utf-8 or gbk)",
                             "encoding", encoding))
    delimiter = str(data.get("delimiter") or ",")
    if len(delimiter) != 1:
        issues.append(_issue("bad_delimiter", "delimiter must be a single character", "delimiter", delimiter))
    sheet = data.get("sheet")
    if issues:
        raise ValidationFailed(issues)
    return TapeMapping(
        asset_type=kind, columns=columns, units=units, date_formats=date_formats, values=values,
        encoding=encoding, delimiter=delimiter, sheet=None if sheet is None else str(sheet),
    )


def load_mapping(path: str | Path) -> TapeMapping:
    """Read and check a YAML mapping file."""
    location = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationFailed([_issue("mapping_not_found", f"no mapping file at {location}", "$", location)]) from None
    except UnicodeDecodeError:
        raise ValidationFailed([_issue("mapping_encoding", "the mapping file must be UTF-8 text", "$", location)]) \
            from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationFailed([_issue("mapping_yaml", f"the mapping file is not valid YAML: {exc}", "$",
                                       location)]) from None
    return parse_mapping(data)


def default_mapping(kind: TapeKind | str) -> TapeMapping:
    """The identity mapping: source headers are the canonical field names, default units."""
    return TapeMapping(asset_type=TapeKind(kind))


def has_day(date_format: str) -> bool:
    return any(d in date_format for d in DAY_DIRECTIVES)
