"""Canonical entry bytes v1: the fast encoder equals the careful one; bad values are refused."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from absflow.tlog.entry import CanonicalError, UnknownEntryVersion, _canonical_value, entry_bytes, parse_entry

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20), st.text(max_size=12),
    st.decimals(allow_nan=False, allow_infinity=False, places=4),
    st.dates(), st.datetimes(timezones=st.just(UTC)),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)), max_leaves=12)


def careful(**fields: object) -> bytes:
    obj = {"v": 1, "type": fields["entry_type"], "plan": fields["plan_code"], "business_date": fields["business_date"],
           "payload": fields["payload"], "time": fields["recorded_at"]}
    return json.dumps(_canonical_value(obj, "$"), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(max_size=8), values, max_size=5), st.text(min_size=1, max_size=10),
       st.one_of(st.none(), st.text(max_size=12)), st.one_of(st.none(), st.dates()),
       st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=8))])))
def test_fast_path_equals_the_definition(payload, entry_type, plan_code, business_date, recorded_at) -> None:
    fields = {"entry_type": entry_type, "plan_code": plan_code, "business_date": business_date,
              "payload": payload, "recorded_at": recorded_at}
    body = entry_bytes(**fields)
    assert body == careful(**fields)
    parsed = parse_entry(body)
    assert parsed["type"] == entry_type and parsed["v"] == 1


class Status(StrEnum):
    ACTIVE = "active"


def test_examples_and_refusals() -> None:
    t = datetime(2026, 3, 2, 17, 30, tzinfo=timezone(timedelta(hours=8)))
    body = entry_bytes(entry_type="daily.run", plan_code="ABS-2026-0001", business_date=date(2026, 3, 2),
                       payload={"amount": Decimal("1.50"), "status": Status.ACTIVE, "中文": "是"}, recorded_at=t)
    assert body == ('{"business_date":"2026-03-02","payload":{"amount":"1.50","status":"active","中文":"是"},'
                    '"plan":"ABS-2026-0001","time":"2026-03-02T09:30:00Z","type":"daily.run","v":1}').encode()
    with pytest.raises(CanonicalError, match="floats"):
        entry_bytes(entry_type="x", plan_code=None, business_date=None, payload={"a": [1.5]}, recorded_at=t)
    with pytest.raises(CanonicalError, match="timezone-aware"):
        entry_bytes(entry_type="x", plan_code=None, business_date=None, payload={}, recorded_at=datetime(2026, 1, 1))
    with pytest.raises(CanonicalError, match="non-finite"):
        entry_bytes(entry_type="x", plan_code=None, business_date=None, payload={"a": Decimal("NaN")}, recorded_at=t)
    with pytest.raises(UnknownEntryVersion, match="unknown entry version 2"):
        parse_entry(body.replace(b'"v":1', b'"v":2'))
    with pytest.raises(CanonicalError, match="canonical form"):
        parse_entry(body.replace(b'"v":1}', b'"v": 1}'))
    with pytest.raises(CanonicalError, match="floats"):
        parse_entry(body.replace(b'"1.50"', b"1.5"))
    with pytest.raises(CanonicalError):
        parse_entry(b"\xff")
