"""Canonical bytes of a log entry (version 1): sorted-key JSON, money as strings, no floats.

The layout is documented in docs/TLOG.md so a third party can rebuild any leaf.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

ENTRY_VERSION = 1


class CanonicalError(ValueError):
    """A value that has no canonical form (a float, a naive datetime, an unknown type)."""


def _canonical_value(value: Any, path: str) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        raise CanonicalError(f"{path}: floats are not allowed in log entries; use a decimal string")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise CanonicalError(f"{path}: non-finite decimal")
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise CanonicalError(f"{path}: datetime must be timezone-aware")
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalError(f"{path}: keys must be strings")
            out[key] = _canonical_value(item, f"{path}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [_canonical_value(item, f"{path}[{i}]") for i, item in enumerate(value)]
    raise CanonicalError(f"{path}: no canonical form for {type(value).__name__}")


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_encode = _ENCODER.encode
#: A JSON string literal exactly as canonical JSON writes it (UTF-8 kept; C implementation in CPython).
json_string = json.encoder.encode_basestring
_string = json_string
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
# One reusable C encoder (same settings as _ENCODER, no circularity check: our values are trees).
_c_encoder = (
    _c_make_encoder(None, _ENCODER.default, _string, None, ":", ",", True, False, False)
    if _c_make_encoder is not None else None
)


def _encode_tree(value: Any) -> str:
    """JSON text of an already canonical value (sorted keys, compact, UTF-8 kept)."""
    if _c_encoder is not None:
        return "".join(_c_encoder(value, 0))
    return _encode(value)


class _NeedsCareful(Exception):
    """The fast path met a value it does not handle; the careful path decides (or names the error)."""


def _time_text(value: datetime) -> str:
    if value.tzinfo is None:
        raise _NeedsCareful
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat().replace("+00:00", "Z")


def _fast_value(value: Any) -> Any:
    """``_canonical_value`` for the common exact types, without building error paths."""
    kind = type(value)
    if kind is str or kind is int or value is None or kind is bool:
        return value
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _NeedsCareful
            item_kind = type(item)
            out[key] = item if (item_kind is str or item_kind is int or item is None) else _fast_value(item)
        return out
    if kind is Decimal:
        if not value.is_finite():
            raise _NeedsCareful
        return str(value)
    if kind is datetime:
        return _time_text(value)
    if kind is date:
        return value.isoformat()
    if kind is list or kind is tuple:
        return [_fast_value(item) for item in value]
    raise _NeedsCareful  # floats, subclasses, anything else


def canonical_json(value: Any) -> bytes:
    """UTF-8 JSON with sorted keys and no insignificant white space."""
    try:
        normal = _fast_value(value)
    except _NeedsCareful:
        normal = _canonical_value(value, "$")
    return _encode_tree(normal).encode("utf-8")


def entry_bytes(
    *,
    entry_type: str,
    plan_code: str | None,
    business_date: date | None,
    payload: Mapping[str, Any],
    recorded_at: datetime,
) -> bytes:
    """The leaf data of one log entry, version 1 (equal to ``canonical_json`` of the entry object)."""
    return entry_bytes_and_time(entry_type=entry_type, plan_code=plan_code, business_date=business_date,
                                payload=payload, recorded_at=recorded_at)[0]


def entry_bytes_and_time(
    *,
    entry_type: str,
    plan_code: str | None,
    business_date: date | None,
    payload: Mapping[str, Any],
    recorded_at: datetime,
    day_text: str | None = None,
) -> tuple[bytes, str]:
    """``entry_bytes`` and the canonical time text in it (bulk appenders store both).

    ``day_text``: ``business_date.isoformat()`` if the caller already has it.
    """
    try:
        if type(entry_type) is not str or not (plan_code is None or type(plan_code) is str):
            raise _NeedsCareful
        if business_date is not None and type(business_date) is not date:
            raise _NeedsCareful
        time_text = _time_text(recorded_at)
        day = "null" if business_date is None else '"' + (day_text or business_date.isoformat()) + '"'
        inner = _encode_tree(_fast_value(payload if type(payload) is dict else dict(payload)))
        plan = "null" if plan_code is None else _string(plan_code)
        return (f'{{"business_date":{day},"payload":{inner},"plan":{plan},"time":"{time_text}",'
                f'"type":{_string(entry_type)},"v":{ENTRY_VERSION}}}').encode(), time_text
    except _NeedsCareful:
        body = canonical_json(
            {
                "v": ENTRY_VERSION,
                "type": entry_type,
                "plan": plan_code,
                "business_date": business_date,
                "payload": payload,
                "time": recorded_at,
            }
        )
        return body, str(_canonical_value(recorded_at, "$.time"))


KNOWN_VERSIONS = frozenset({ENTRY_VERSION})
ENTRY_KEYS = frozenset({"v", "type", "plan", "business_date", "payload", "time"})


class UnknownEntryVersion(CanonicalError):
    """An entry written in a format version this verifier does not know."""


def parse_entry(body: bytes) -> dict[str, Any]:
    """Parse and check canonical entry bytes: known version, the v1 keys, and canonical form.

    Raises CanonicalError (UnknownEntryVersion for a version it does not know) naming the problem.
    """
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise CanonicalError("entry body is not UTF-8 JSON") from None
    if not isinstance(value, dict):
        raise CanonicalError("entry body is not a JSON object")
    version = value.get("v")
    if version not in KNOWN_VERSIONS or isinstance(version, bool):
        raise UnknownEntryVersion(f"unknown entry version {version!r} (this verifier knows: 1)")
    if set(value) != ENTRY_KEYS:
        raise CanonicalError(f"entry v1 has keys {sorted(ENTRY_KEYS)}, got {sorted(value)}")
    if canonical_json(value) != body:
        raise CanonicalError("entry body is not in canonical form (sorted keys, no spaces, no floats)")
    return value
