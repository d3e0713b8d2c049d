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


def canonical_json(value: Any) -> bytes:
    """UTF-8 JSON with sorted keys and no insignificant white space."""
    normal = _canonical_value(value, "$")
    return json.dumps(normal, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_bytes(
    *,
    entry_type: str,
    plan_code: str | None,
    business_date: date | None,
    payload: Mapping[str, Any],
    recorded_at: datetime,
) -> bytes:
    """The leaf data of one log entry, version 1."""
    return canonical_json(
        {
            "v": ENTRY_VERSION,
            "type": entry_type,
            "plan": plan_code,
            "business_date": business_date,
            "payload": payload,
            "time": recorded_at,
        }
    )


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
