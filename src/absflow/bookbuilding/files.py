"""The file contract of ``absflow book allocate`` (stable; see docs/bookbuilding.md).

OFFERING.yaml: ``size`` and ``lot`` in 万元, ``rate_min``/``rate_max`` in percent,
``convention: incremental|cumulative``; optional ``minimum`` and ``cap`` (万元),
``bid_open``/``bid_close`` (ISO 8601), ``max_levels``, ``holder_limit``.
BIDS.csv (UTF-8, BOM allowed): ``investor,rate,amount[,time]``, rate in percent, amount
in 万元; header = line 1. Naive times are China Standard Time (UTC+08:00).

Functions here take text, not paths: reading the files is the caller's business.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import yaml

from absflow.bookbuilding.allocation import Allocation, allocate
from absflow.bookbuilding.model import DEFAULT_HOLDER_LIMIT, Bid, Convention, Offering, percent_text
from absflow.bookbuilding.validation import to_levels, validate_bids, validate_offering
from absflow.domain.issues import Issue, Location, ValidationFailed

WAN = Decimal(10000)
CHINA_TIME = timezone(timedelta(hours=8), "CST")
MULTIPLE_STEP = Decimal("0.01")
REQUIRED_COLUMNS = ("investor", "rate", "amount")


def wan_text(amount_yuan: Decimal) -> str:
    """Yuan → 万元 as a plain decimal string without exponent or trailing zeros (271000000 → '27100')."""
    value = (amount_yuan / WAN).normalize()
    return format(value, "f")


def multiple_text(ratio: Decimal) -> str:
    """A multiple (倍数) with two decimals, half-even: Decimal('1.7') → '1.70'."""
    return str(ratio.quantize(MULTIPLE_STEP, rounding=ROUND_HALF_EVEN))


def _decimal(text: str) -> Decimal | None:
    cleaned = text.strip().replace(",", "")
    if cleaned.endswith("%"):
        cleaned = cleaned[:-1].strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def parse_time(text: str) -> datetime | None:
    """ISO 8601 date-time; a naive one is read as China Standard Time. None if unreadable."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=CHINA_TIME)


def parse_offering(data: Mapping[str, Any]) -> Offering:
    """An offering from the YAML mapping (amounts in 万元, rates in percent); all problems at once."""
    issues: list[Issue] = []

    def number(key: str, *, required: bool, default: Decimal | None = None) -> Decimal | None:
        if key not in data or data[key] is None:
            if required:
                issues.append(Issue("required", f"the offering needs {key!r}", Location(field_path=key)))
            return default
        raw = data[key]
        value = _decimal(str(raw)) if not isinstance(raw, bool) else None
        if value is None:
            issues.append(Issue("not_a_number", f"{key} must be a number", Location(field_path=key), str(raw)))
        return value

    def moment(key: str) -> datetime | None:
        raw = data.get(key)
        if raw is None:
            return None
        if isinstance(raw, datetime):
            return raw if raw.tzinfo is not None else raw.replace(tzinfo=CHINA_TIME)
        value = parse_time(str(raw))
        if value is None:
            issues.append(Issue("not_a_time", f"{key} must be an ISO 8601 date-time", Location(field_path=key),
                                str(raw)))
        return value

    def whole(key: str) -> int | None:
        raw = data.get(key)
        if raw is None:
            return None
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        issues.append(Issue("not_an_integer", f"{key} must be a whole number", Location(field_path=key), str(raw)))
        return None

    if not isinstance(data, Mapping):
        raise ValidationFailed([Issue("not_a_mapping", "the offering file must be a YAML mapping", Location())])
    size = number("size", required=True)
    lot = number("lot", required=False, default=Decimal(100))
    rate_min = number("rate_min", required=True)
    rate_max = number("rate_max", required=True)
    minimum = number("minimum", required=False)
    cap = number("cap", required=False)
    convention_text = str(data.get("convention", Convention.INCREMENTAL.value)).strip()
    try:
        convention = Convention(convention_text)
    except ValueError:
        issues.append(Issue("unknown_convention", f"convention must be incremental or cumulative, not "
                            f"{convention_text!r}", Location(field_path="convention"), convention_text))
        convention = Convention.INCREMENTAL
    bid_open, bid_close = moment("bid_open"), moment("bid_close")
    max_levels, holder_limit = whole("max_levels"), whole("holder_limit")
    if issues:
        raise ValidationFailed(issues)
    assert size is not None and lot is not None and rate_min is not None and rate_max is not None
    return Offering(
        size_yuan=size * WAN, rate_min=rate_min / 100, rate_max=rate_max / 100, convention=convention,
        lot_yuan=lot * WAN, minimum_yuan=(minimum if minimum is not None else lot) * WAN,
        bid_open=bid_open, bid_close=bid_close, max_levels=max_levels,
        cap_yuan=cap * WAN if cap is not None else None,
        holder_limit=holder_limit if holder_limit is not None else DEFAULT_HOLDER_LIMIT,
    )


def parse_offering_yaml(text: str) -> Offering:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationFailed([Issue("bad_yaml", f"the offering file is not valid YAML: {exc}", Location())]) from None
    if not isinstance(data, Mapping):
        raise ValidationFailed([Issue("not_a_mapping", "the offering file must be a YAML mapping", Location())])
    return parse_offering(data)


def parse_bids_csv(text: str) -> list[Bid]:
    """Bids from CSV text; each keeps its line (header = 1) as ``row`` and ``seq``. All problems at once."""
    bids, issues = read_bids_csv(text)
    if issues:
        raise ValidationFailed(issues)
    return bids


def read_bids_csv(text: str) -> tuple[list[Bid], list[Issue]]:
    """The readable bids of a CSV text and the problems of the rest (lines that cannot be read)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        return [], [Issue("empty_file", "the bids file is empty", Location(row=1))]
    columns = [h.strip().lower() for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        return [], [
            Issue("missing_column", f"the header has no {c!r} column (need investor,rate,amount[,time])",
                  Location(row=1, column=c)) for c in missing
        ]
    position = {name: columns.index(name) for name in (*REQUIRED_COLUMNS, "time") if name in columns}
    issues: list[Issue] = []
    bids: list[Bid] = []
    for record in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue

        def cell(name: str, record: list[str] = record) -> str:
            index = position.get(name)
            return record[index].strip() if index is not None and index < len(record) else ""

        investor = cell("investor")
        if not investor:
            issues.append(Issue("investor_missing", "the investor is empty", Location(row=line, column="investor")))
        rate = _decimal(cell("rate"))
        if rate is None:
            issues.append(Issue("not_a_number", "the rate is not a number (percent, e.g. 2.70)",
                                Location(row=line, column="rate"), cell("rate")))
        amount = _decimal(cell("amount"))
        if amount is None:
            issues.append(Issue("not_a_number", "the amount is not a number (万元)",
                                Location(row=line, column="amount"), cell("amount")))
        time: datetime | None = None
        if cell("time"):
            time = parse_time(cell("time"))
            if time is None:
                issues.append(Issue("not_a_time", "the time is not an ISO 8601 date-time",
                                    Location(row=line, column="time"), cell("time")))
        if rate is not None and amount is not None and investor:
            bids.append(Bid(investor=investor, rate=rate / 100, amount_yuan=amount * WAN, seq=line, time=time,
                            row=line))
    return bids, issues


def allocate_files(offering_yaml: str, bids_csv: str) -> Allocation:
    """Parse, validate and allocate a book given as OFFERING.yaml and BIDS.csv text.

    Raises ``ValidationFailed`` with every problem of both files (bid problems ordered by
    line); nothing is allocated unless all bids are valid.
    """
    offering_issues: list[Issue] = []
    offering: Offering | None = None
    try:
        offering = parse_offering_yaml(offering_yaml)
    except ValidationFailed as exc:
        offering_issues = exc.issues
    if offering is not None:
        offering_issues = validate_offering(offering)
    bids, bid_issues = read_bids_csv(bids_csv)
    if offering is not None and not offering_issues:
        bid_issues = bid_issues + validate_bids(offering, bids)
    if offering_issues or bid_issues:
        bid_issues.sort(key=lambda issue: issue.location.row or 0)
        raise ValidationFailed(offering_issues + bid_issues)
    assert offering is not None
    return allocate(offering, to_levels(offering, bids), valid_bid_count=len(bids))


def allocation_document(allocation: Allocation) -> dict[str, Any]:
    """The JSON answer of ``absflow book allocate --json`` (amounts in 万元, rates in percent, strings)."""
    summary = allocation.summary
    return {
        "marginal_rate": percent_text(allocation.marginal_rate) if allocation.marginal_rate is not None else None,
        "total_demand": wan_text(summary.total_demand_yuan),
        "total_multiple": multiple_text(summary.total_multiple),
        "marginal_multiple": multiple_text(summary.marginal_multiple)
        if summary.marginal_multiple is not None else None,
        "allocated_total": wan_text(allocation.allocated_total_yuan),
        "allocations": [
            {"investor": a.investor, "allocated": wan_text(a.allocated_yuan)} for a in allocation.by_investor
        ],
        "undersubscribed": allocation.undersubscribed,
    }
