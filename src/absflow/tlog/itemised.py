"""Itemised lists a log entry commits to by an RFC 9162 Merkle root.

Two lists are committed this way (docs/TLOG.md, "Itemised lists"):

- the **loan records of an imported tape**: ``tape.imported`` carries ``records_root``,
  the root over one leaf per record in import order; the leaf data is ``record_bytes``;
- the **assets added to or removed from a pool** on a business day: ``pool.changed``
  carries ``root``, the root over one leaf per change; the leaf data is
  ``pool_change_bytes``.

Either proves "this item is in the list the logged entry names" with an inclusion proof
of the item in the list root, plus the entry's own inclusion in a signed checkpoint.
Pure: canonical JSON and hashing only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from absflow.tlog.entry import CanonicalError, canonical_json, json_string
from absflow.tlog.hashing import leaf_hash
from absflow.tlog.merkle import root

ITEM_VERSION = 1
RECORDS_LIST = "records"
POOL_CHANGES_LIST = "pool_changes"
POOL_CHANGE_TYPE = "pool.changed"
TAPE_IMPORTED_TYPE = "tape.imported"
CHANGE_KINDS = ("added", "removed")


def rate_text(value: float | None) -> str | None:
    """A stored binary float (rate, ratio) as text: the shortest decimal that reads back as the
    same IEEE-754 double (Python ``repr``), written positionally (``0.0000001``, never ``1e-07``)."""
    if value is None:
        return None
    return format(Decimal(repr(float(value))), "f")


def record_bytes(kind: str, fields: Mapping[str, Any]) -> bytes:
    """Leaf data of one loan record: canonical JSON of its fields plus ``"kind"`` (the tape kind)
    and ``"v": 1``.

    Fields are the table columns the import fills from the tape (pool assets or performance
    records; money in integer fen with ``_fen`` names, dates ``YYYY-MM-DD``, rates and ratios
    as ``rate_text``, absent values null), without the file row number.
    """
    if "v" in fields or "kind" in fields:
        raise CanonicalError("a record field may not be named 'v' or 'kind'")
    return canonical_json({**fields, "kind": kind, "v": ITEM_VERSION})


@dataclass(frozen=True)
class PoolChange:
    """One asset entering (``added``) or leaving (``removed``) a pool, with its amount in fen."""

    asset_id: str
    change: str
    amount_fen: int
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"amount_fen": self.amount_fen, "asset_id": self.asset_id, "change": self.change,
                "reason": self.reason}


def pool_change_bytes(change: PoolChange) -> bytes:
    """Leaf data of one pool change: canonical JSON ``{amount_fen, asset_id, change, reason, v}``.

    Written directly (the keys are fixed and already in sorted order), byte for byte what
    ``canonical_json`` gives for the same object; anything unusual takes ``canonical_json``."""
    if change.change not in CHANGE_KINDS:
        raise CanonicalError(f"pool change of {change.asset_id!r}: change must be one of {CHANGE_KINDS}")
    if type(change.amount_fen) is not int or type(change.asset_id) is not str or type(change.reason) is not str:
        return canonical_json({**change.as_json(), "v": ITEM_VERSION})
    return (f'{{"amount_fen":{change.amount_fen},"asset_id":{json_string(change.asset_id)},'
            f'"change":"{change.change}","reason":{json_string(change.reason)},"v":{ITEM_VERSION}}}').encode()


def ordered_changes(changes: Iterable[PoolChange]) -> list[PoolChange]:
    """The canonical order of a day's list: additions first, then removals, each by asset id."""
    return sorted(changes, key=lambda c: (CHANGE_KINDS.index(c.change), c.asset_id))


def pool_changes_root(changes: Sequence[PoolChange]) -> bytes:
    return root([leaf_hash(pool_change_bytes(c)) for c in changes])


def pool_change_payload(changes: Sequence[PoolChange], source: str) -> dict[str, Any]:
    """The ``pool.changed`` payload: the list's root and size, counts and totals per kind."""
    totals: dict[str, dict[str, int]] = {kind: {"count": 0, "amount_fen": 0} for kind in CHANGE_KINDS}
    for c in changes:
        totals[c.change]["count"] += 1
        totals[c.change]["amount_fen"] += c.amount_fen
    return {"source": source, "root": pool_changes_root(changes).hex(), "count": len(changes), **totals}


class ItemError(ValueError):
    """An itemised proof is malformed or does not check; the message names what."""


def parse_item(body: bytes, what: str) -> dict[str, Any]:
    """Parse item leaf data and check it is canonical and of a known version."""
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ItemError(f"{what}: the item is not UTF-8 JSON") from None
    if not isinstance(value, dict):
        raise ItemError(f"{what}: the item is not a JSON object")
    if value.get("v") != ITEM_VERSION or isinstance(value.get("v"), bool):
        raise ItemError(f"{what}: unknown item version {value.get('v')!r} (this verifier knows: 1)")
    try:
        canonical = canonical_json(value)
    except CanonicalError as exc:
        raise ItemError(f"{what}: {exc}") from None
    if canonical != body:
        raise ItemError(f"{what}: the item is not in canonical form (sorted keys, no spaces, no floats)")
    return value


def list_root(entry_type: str, payload: Mapping[str, Any], list_name: str) -> tuple[bytes, int]:
    """The (root, size) of the itemised list ``list_name`` a logged entry commits to."""
    if list_name == RECORDS_LIST and entry_type == TAPE_IMPORTED_TYPE:
        root_key, size_key = "records_root", "rows"
    elif list_name == POOL_CHANGES_LIST and entry_type == POOL_CHANGE_TYPE:
        root_key, size_key = "root", "count"
    else:
        raise ItemError(f"a {entry_type} entry carries no list {list_name!r}")
    raw_root, size = payload.get(root_key), payload.get(size_key)
    if not isinstance(raw_root, str) or not isinstance(size, int) or isinstance(size, bool):
        raise ItemError(f"the {entry_type} entry has no usable {root_key}/{size_key}")
    try:
        value = bytes.fromhex(raw_root)
    except ValueError:
        raise ItemError(f"the {entry_type} entry's {root_key} is not hex") from None
    return value, size
