"""Selective disclosure of loan records: salted per-field hashes under a Merkle root.

Each field of a record is committed as ``SHA-256("absflow-field/v1" 0x00 || salt || name
0x00 || canonical JSON of the value)`` with its own 128-bit salt. A record's leaf data is
the canonical JSON ``{"fields": {name: hex field hash, ...}, "v": 1}``; the records of a
tape form an RFC 9162 tree whose root (with the record count) goes into the log.

An investor disclosure of one record reveals chosen fields with their salts, the field
hashes of the others (which reveal nothing without their salts), and the record's
inclusion proof in the tape root. The verifier recomputes the record leaf and the root.

Salts: ``salt = HMAC-SHA256(secret, canonical JSON [record key, field name])[:16]`` with a
fresh random 256-bit ``secret`` per commitment, kept secret by the plan manager. Each
field thus has its own pseudorandom 128-bit salt; revealing one salt says nothing about
any other (HMAC is a PRF), and the log keeps one secret per tape instead of 15 salts per
loan.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from absflow.tlog.entry import canonical_json
from absflow.tlog.hashing import leaf_hash
from absflow.tlog.merkle import HASH_SIZE, root_from_inclusion_proof

FIELD_DOMAIN = b"absflow-field/v1\x00"
SALT_SIZE = 16
COMMITMENT_VERSION = 1

#: Fields that identify a borrower; a disclosure refuses to reveal them.
IDENTITY_FIELDS = frozenset({
    "borrower", "borrower_name", "borrower_id", "borrower_id_number", "id_number", "id_card",
    "customer_name", "customer_id", "name", "phone", "mobile", "address", "account_number",
    "obligor_id", "obligor_name", "client_id", "lessee_id", "debtor_id",
})

#: The fields an investor disclosure reveals by default.
DEFAULT_DISCLOSED = ("balance", "rate", "region", "status")


class DisclosureError(ValueError):
    """A disclosure that is malformed or does not match its commitment; the message says which."""


def derive_salt(secret: bytes, record_key: str, field: str) -> bytes:
    """The 128-bit salt of ``field`` in the record keyed ``record_key``."""
    return hmac.digest(secret, canonical_json([record_key, field]), "sha256")[:SALT_SIZE]


def field_hash(name: str, value: Any, salt: bytes) -> bytes:
    """The commitment to one field value."""
    return hashlib.sha256(FIELD_DOMAIN + salt + name.encode("utf-8") + b"\x00" + canonical_json(value)).digest()


def record_leaf_data(field_hashes: Mapping[str, bytes]) -> bytes:
    """The leaf data of a record in the tape tree (canonical JSON, field names sorted)."""
    return canonical_json({"v": COMMITMENT_VERSION, "fields": {k: v.hex() for k, v in field_hashes.items()}})


@dataclass(frozen=True)
class RecordCommitment:
    field_hashes: dict[str, bytes]
    leaf_hash: bytes


def commit_record(record: Mapping[str, Any], secret: bytes, record_key: str) -> RecordCommitment:
    """Salted per-field hashes of ``record`` and its leaf hash in the tape tree."""
    hashes = {name: field_hash(name, value, derive_salt(secret, record_key, name)) for name, value in record.items()}
    return RecordCommitment(hashes, leaf_hash(record_leaf_data(hashes)))


def disclose(
    record: Mapping[str, Any],
    *,
    secret: bytes,
    record_key: str,
    index: int,
    size: int,
    proof: Sequence[bytes],
    reveal: Iterable[str] = DEFAULT_DISCLOSED,
) -> dict[str, Any]:
    """A disclosure of ``reveal`` fields of the record at ``index`` of a tape of ``size`` records."""
    fields = list(reveal)
    identity = [f for f in fields if f in IDENTITY_FIELDS]
    if identity:
        raise DisclosureError(f"refusing to disclose borrower identity fields: {', '.join(identity)}")
    missing = [f for f in fields if f not in record]
    if missing:
        raise DisclosureError(f"the record has no field(s): {', '.join(missing)}")
    commitment = commit_record(record, secret, record_key)
    revealed = {
        name: {"value": canonical_value(record[name]), "salt": derive_salt(secret, record_key, name).hex()}
        for name in fields
    }
    hidden = {name: h.hex() for name, h in commitment.field_hashes.items() if name not in revealed}
    return {"index": index, "size": size, "revealed": revealed, "hidden": hidden, "proof": [p.hex() for p in proof]}


def canonical_value(value: Any) -> Any:
    """The JSON value a field is committed as (decimals and dates become strings)."""
    return json.loads(canonical_json(value))


def _hex(value: Any, what: str, size: int | None = None) -> bytes:
    if not isinstance(value, str):
        raise DisclosureError(f"{what} must be a hex string")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise DisclosureError(f"{what} is not valid hex") from None
    if size is not None and len(raw) != size:
        raise DisclosureError(f"{what} must be {size} bytes")
    return raw


def verify_disclosure(disclosure: Mapping[str, Any], tape_root: bytes, tape_size: int) -> dict[str, Any]:
    """Check a disclosure against the committed tape root; return the revealed field values.

    Raises DisclosureError naming what failed (never anything else).
    """
    try:
        return _verify_disclosure(disclosure, tape_root, tape_size)
    except DisclosureError:
        raise
    except Exception as exc:  # malformed structure of any kind
        raise DisclosureError(f"malformed disclosure: {type(exc).__name__}") from None


def _verify_disclosure(disclosure: Mapping[str, Any], tape_root: bytes, tape_size: int) -> dict[str, Any]:
    if not isinstance(disclosure, Mapping):
        raise DisclosureError("a disclosure is a JSON object")
    index, size = disclosure.get("index"), disclosure.get("size")
    if not isinstance(index, int) or not isinstance(size, int) or isinstance(index, bool):
        raise DisclosureError("disclosure index and size must be integers")
    if size != tape_size:
        raise DisclosureError(f"disclosure is for a tape of {size} records, the commitment has {tape_size}")
    revealed, hidden = disclosure.get("revealed"), disclosure.get("hidden")
    if not isinstance(revealed, Mapping) or not isinstance(hidden, Mapping):
        raise DisclosureError("disclosure needs 'revealed' and 'hidden' objects")
    overlap = set(revealed) & set(hidden)
    if overlap:
        raise DisclosureError(f"fields both revealed and hidden: {', '.join(sorted(overlap))}")
    hashes: dict[str, bytes] = {}
    values: dict[str, Any] = {}
    for name, item in revealed.items():
        if not isinstance(item, Mapping) or "value" not in item:
            raise DisclosureError(f"revealed field {name!r} needs a value and a salt")
        salt = _hex(item.get("salt"), f"salt of {name!r}", SALT_SIZE)
        hashes[name] = field_hash(name, item["value"], salt)
        values[name] = item["value"]
    for name, value in hidden.items():
        hashes[name] = _hex(value, f"hash of hidden field {name!r}", HASH_SIZE)
    raw_proof = disclosure.get("proof")
    if not isinstance(raw_proof, list):
        raise DisclosureError("disclosure proof must be a list of hex hashes")
    proof = [_hex(p, "proof hash", HASH_SIZE) for p in raw_proof]
    computed = root_from_inclusion_proof(leaf_hash(record_leaf_data(hashes)), index, size, proof)
    if computed is None:
        raise DisclosureError(f"the inclusion proof of record {index} is malformed (wrong length or index)")
    if computed != tape_root:
        raise DisclosureError(f"record {index}: revealed fields, salts or proof do not match the committed root")
    return values


def masked_pool_summary(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Pool figures an investor can recompute from a masked tape (balance, rate, region, status).

    ``count``; ``total_balance`` (decimal string); ``wa_rate``, the balance-weighted
    average rate rounded half-even to 8 decimal places; and per region and per status the
    count and balance. Balances and rates are decimal strings; missing fields are skipped.
    """
    count = 0
    total = Decimal(0)
    weighted = Decimal(0)
    by_region: dict[str, list[Any]] = {}
    by_status: dict[str, list[Any]] = {}
    for row in rows:
        count += 1
        balance = Decimal(str(row["balance"])) if row.get("balance") is not None else Decimal(0)
        total += balance
        if row.get("rate") is not None:
            weighted += balance * Decimal(str(row["rate"]))
        for key, groups in (("region", by_region), ("status", by_status)):
            if row.get(key) is not None:
                group = groups.setdefault(str(row[key]), [0, Decimal(0)])
                group[0] += 1
                group[1] += balance
    wa_rate = (weighted / total).quantize(Decimal("1e-8"), rounding=ROUND_HALF_EVEN) if total else Decimal(0)
    return {
        "count": count,
        "total_balance": str(total),
        "wa_rate": str(wa_rate),
        "by_region": {k: {"count": v[0], "balance": str(v[1])} for k, v in sorted(by_region.items())},
        "by_status": {k: {"count": v[0], "balance": str(v[1])} for k, v in sorted(by_status.items())},
    }


#: Which summary figures need which revealed fields.
SUMMARY_NEEDS = {
    "count": (),
    "total_balance": ("balance",),
    "wa_rate": ("balance", "rate"),
    "by_region": ("balance", "region"),
    "by_status": ("balance", "status"),
}


def compare_summary(published: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Recompute the pool summary from masked rows; return the figures that match (raise if one differs).

    Only figures whose fields are revealed in every row are compared.
    """
    recomputed = masked_pool_summary(rows)
    revealed = set.intersection(*(set(r) for r in rows)) if rows else set()
    matched = []
    for figure, needs in SUMMARY_NEEDS.items():
        if figure not in published or not set(needs) <= revealed:
            continue
        if recomputed[figure] != published[figure]:
            raise DisclosureError(
                f"pool {figure} recomputed from the masked tape ({recomputed[figure]}) differs from the "
                f"published figure ({published[figure]})")
        matched.append(figure)
    return matched
