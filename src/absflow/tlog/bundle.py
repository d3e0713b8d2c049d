"""Offline verification of a proof bundle (format ``absflow-tlog-bundle/1``, docs/TLOG.md).

A bundle carries signed checkpoints, log entries with inclusion proofs, consistency
proofs between checkpoints, and selective disclosures of committed loan records. The
verifier needs only the bundle and the public keys; it returns the statements proven or
raises ``BundleError`` naming the first thing that failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from absflow.tlog.checkpoint import Checkpoint
from absflow.tlog.disclosure import DisclosureError, compare_summary, verify_disclosure
from absflow.tlog.entry import CanonicalError, parse_entry
from absflow.tlog.hashing import leaf_hash
from absflow.tlog.itemised import RECORDS_LIST, ItemError, list_root, parse_item
from absflow.tlog.merkle import HASH_SIZE, verify_consistency, verify_inclusion
from absflow.tlog.note import SIG_ED25519, NoteError, VerifierKey, open_note

BUNDLE_FORMAT = "absflow-tlog-bundle/1"
TAPE_COMMIT_TYPE = "tape.committed"


class BundleError(ValueError):
    """The bundle is malformed or a check failed; the message names what."""


@dataclass
class VerifiedCheckpoint:
    checkpoint: Checkpoint
    signers: list[str]
    cosigners: dict[str, int]


@dataclass
class BundleReport:
    proven: list[str] = field(default_factory=list)
    checkpoints: list[VerifiedCheckpoint] = field(default_factory=list)
    entries: dict[int, dict[str, Any]] = field(default_factory=dict)
    disclosed: list[dict[str, Any]] = field(default_factory=list)


def _hashes(value: Any, what: str) -> list[bytes]:
    if not isinstance(value, list):
        raise BundleError(f"{what}: a proof is a list of hex hashes")
    out = []
    for i, item in enumerate(value):
        try:
            raw = bytes.fromhex(item) if isinstance(item, str) else None
        except ValueError:
            raw = None
        if raw is None or len(raw) != HASH_SIZE:
            raise BundleError(f"{what}: proof hash {i} is not 32 bytes of hex")
        out.append(raw)
    return out


def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BundleError(f"{what} must be a non-negative integer")
    return value


def _checkpoint_ref(value: Any, report: BundleReport, what: str) -> VerifiedCheckpoint:
    ref = _int(value, what)
    if ref >= len(report.checkpoints):
        raise BundleError(f"{what} refers to checkpoint {ref}, the bundle has {len(report.checkpoints)}")
    return report.checkpoints[ref]


def verify_bundle(bundle: Any, keys: Sequence[VerifierKey]) -> BundleReport:
    """Verify everything in ``bundle`` with ``keys`` (log keys type 0x01, witness keys 0x04)."""
    try:
        return _verify_bundle(bundle, keys)
    except BundleError:
        raise
    except Exception as exc:  # anything unexpected in a hostile bundle is still a clear failure
        raise BundleError(f"malformed bundle ({type(exc).__name__}: {exc})") from None


def _verify_bundle(bundle: Any, keys: Sequence[VerifierKey]) -> BundleReport:
    if not isinstance(bundle, Mapping):
        raise BundleError("a bundle is a JSON object")
    if bundle.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"unknown bundle format {bundle.get('format')!r} (expected {BUNDLE_FORMAT!r})")
    log_keys = [k for k in keys if k.sig_type == SIG_ED25519]
    if not log_keys:
        raise BundleError("no log key given (a --key with an Ed25519 note-signing key)")
    report = BundleReport()
    notes = bundle.get("checkpoints", [])
    if not isinstance(notes, list) or not notes:
        raise BundleError("the bundle has no checkpoints")
    for i, note in enumerate(notes):
        try:
            opened = open_note(note, keys)
            checkpoint = Checkpoint.parse(opened.text)
        except NoteError as exc:
            raise BundleError(f"checkpoint {i}: {exc}") from None
        names = {k.name for k in log_keys}
        signers = [n for n in opened.verified if n in names]
        if not signers:
            raise BundleError(f"checkpoint {i}: not signed by a given log key (only cosigned)")
        cosigners = {n: t for n, t in opened.verified.items() if n not in names}
        report.checkpoints.append(VerifiedCheckpoint(checkpoint, signers, cosigners))
        line = f"checkpoint {i}: {checkpoint.origin} size {checkpoint.size} root {checkpoint.root_hash.hex()[:16]}… " \
               f"signed by {', '.join(signers)}"
        if cosigners:
            line += "; cosigned by " + ", ".join(f"{n} (time {t})" for n, t in sorted(cosigners.items()))
        report.proven.append(line)
    origins = {c.checkpoint.origin for c in report.checkpoints}
    if len(origins) > 1:
        raise BundleError(f"checkpoints from different logs: {', '.join(sorted(origins))}")

    for i, item in enumerate(bundle.get("consistency", [])):
        if not isinstance(item, Mapping):
            raise BundleError(f"consistency proof {i} is not an object")
        old = _checkpoint_ref(item.get("from"), report, f"consistency proof {i} 'from'").checkpoint
        new = _checkpoint_ref(item.get("to"), report, f"consistency proof {i} 'to'").checkpoint
        proof = _hashes(item.get("proof"), f"consistency proof {i}")
        if old.size == 0:
            ok = not proof  # every tree extends the empty tree
        else:
            ok = verify_consistency(old.size, new.size, proof, old.root_hash, new.root_hash)
        if not ok:
            raise BundleError(
                f"consistency proof {i}: the log of size {new.size} does not extend the log of size {old.size} "
                "(wrong, truncated or forged proof)"
            )
        report.proven.append(f"consistency: the log at size {new.size} extends the log at size {old.size}")

    for i, item in enumerate(bundle.get("entries", [])):
        if not isinstance(item, Mapping):
            raise BundleError(f"entry {i} is not an object")
        index = _int(item.get("index"), f"entry {i} index")
        body_text = item.get("body")
        if not isinstance(body_text, str):
            raise BundleError(f"entry {index}: 'body' must be the canonical entry text")
        body = body_text.encode("utf-8")
        try:
            parsed = parse_entry(body)
        except CanonicalError as exc:
            raise BundleError(f"entry {index}: {exc}") from None
        verified = _checkpoint_ref(item.get("checkpoint"), report, f"entry {index} checkpoint")
        proof = _hashes(item.get("proof"), f"entry {index} inclusion proof")
        cp = verified.checkpoint
        if not verify_inclusion(leaf_hash(body), index, cp.size, proof, cp.root_hash):
            raise BundleError(f"entry {index}: the inclusion proof does not lead to the root of size {cp.size}")
        report.entries[index] = parsed
        report.proven.append(
            f"entry {index} ({parsed['type']}, plan {parsed['plan']}, at {parsed['time']}) "
            f"is in the log at size {cp.size}"
        )

    for i, item in enumerate(bundle.get("items", [])):
        report.proven.append(_verify_item(i, item, report))

    for i, item in enumerate(bundle.get("disclosures", [])):
        entry_index, entry = _proven_entry(item, f"disclosure {i}", "commitment entry", report)
        if entry["type"] != TAPE_COMMIT_TYPE:
            raise BundleError(f"disclosure {i}: entry {entry_index} is a {entry['type']}, not a {TAPE_COMMIT_TYPE}")
        payload = entry["payload"]
        try:
            tape_root = bytes.fromhex(payload["root"])
            tape_size = int(payload["count"])
        except (KeyError, TypeError, ValueError):
            raise BundleError(f"disclosure {i}: entry {entry_index} has no usable root/count") from None
        try:
            values = verify_disclosure(item, tape_root, tape_size)
        except DisclosureError as exc:
            raise BundleError(f"disclosure {i}: {exc}") from None
        record = {"entry": entry_index, "index": item["index"], "plan": entry["plan"], "fields": values}
        report.disclosed.append(record)
        shown = ", ".join(f"{k}={v}" for k, v in sorted(values.items()))
        report.proven.append(
            f"disclosure: record {item['index']} of {payload.get('tape', 'tape')} (plan {entry['plan']}, "
            f"committed in entry {entry_index}) has {shown}"
        )
    _check_masked_tapes(report)
    return report


def _check_masked_tapes(report: BundleReport) -> None:
    """When every record of a committed tape is disclosed, its pool figures must match the published ones."""
    by_entry: dict[int, dict[int, dict[str, Any]]] = {}
    for item in report.disclosed:
        by_entry.setdefault(item["entry"], {})[item["index"]] = item["fields"]
    for entry_index, rows in sorted(by_entry.items()):
        payload = report.entries[entry_index]["payload"]
        if len(rows) != int(payload["count"]) or "summary" not in payload:
            continue
        try:
            matched = compare_summary(payload["summary"], [rows[i] for i in sorted(rows)])
        except DisclosureError as exc:
            raise BundleError(f"masked tape of entry {entry_index}: {exc}") from None
        if matched:
            report.proven.append(
                f"masked tape of entry {entry_index}: all {len(rows)} records disclosed; pool figures recomputed "
                f"from it match the published ones ({', '.join(matched)})"
            )



def _proven_entry(item: Any, label: str, role: str, report: BundleReport) -> tuple[int, dict[str, Any]]:
    """The index and entry that ``item`` (a disclosure or a list item, named ``label`` in errors)
    hangs off; BundleError unless the item is an object whose entry this bundle has proven."""
    if not isinstance(item, Mapping):
        raise BundleError(f"{label} is not an object")
    entry_index = _int(item.get("entry"), f"{label} entry")
    entry = report.entries.get(entry_index)
    if entry is None:
        raise BundleError(f"{label}: its {role} {entry_index} is not proven in this bundle")
    return entry_index, entry


def _verify_item(i: int, item: Any, report: BundleReport) -> str:
    """An item of an itemised list (a tape's loan record, a pool change) in the root its entry logs."""
    entry_index, entry = _proven_entry(item, f"item {i}", "entry", report)
    list_name = item.get("list")
    index = _int(item.get("index"), f"item {i} index")
    body_text = item.get("body")
    if not isinstance(body_text, str):
        raise BundleError(f"item {i}: 'body' must be the item's canonical text")
    body = body_text.encode("utf-8")
    try:
        root_hash, size = list_root(entry["type"], entry["payload"], str(list_name))
        value = parse_item(body, f"item {i}")
    except ItemError as exc:
        raise BundleError(f"item {i}: {exc}") from None
    proof = _hashes(item.get("proof"), f"item {i} inclusion proof")
    if not verify_inclusion(leaf_hash(body), index, size, proof, root_hash):
        raise BundleError(f"item {i}: the proof does not lead to the {list_name} root logged in entry {entry_index}")
    when = entry["business_date"]
    if list_name == RECORDS_LIST:
        payload = entry["payload"]
        return (f"item: record {index} of {size} of tape batch {payload.get('batch_id')} (file sha256 "
                f"{str(payload.get('sha256'))[:16]}…) imported into plan {entry['plan']} as of {when} "
                f"(entry {entry_index}) is {body_text}")
    return (f"item: asset {value.get('asset_id')} was {value.get('change')} "
            f"{'to' if value.get('change') == 'added' else 'from'} the pool of plan {entry['plan']} on {when}, "
            f"amount {value.get('amount_fen')} fen, reason {value.get('reason')} (entry {entry_index}, "
            f"item {index} of {size})")
