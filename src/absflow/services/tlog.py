"""The verifiable log as a service: proofs from the store, checkpoints, witnesses, audit, bundles.

Proofs are built from stored perfect-subtree hashes (``log_nodes``) and leaf hashes, so an
inclusion or consistency proof reads O(log n) rows. Checkpoints are C2SP signed notes;
the log's signing key lives in a file (``ABSFLOW_LOG_KEY``, default ``./absflow-log.key``,
created on first use) or is passed in ``ctx.extras["log_signer"]``.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from absflow.domain.issues import AbsflowError, Conflict, Issue, Location, NotFound, ValidationFailed
from absflow.domain.money import fen_to_yuan
from absflow.services.context import Context
from absflow.services.log import MAIN_LOG_ID, append_event, split_frontier
from absflow.services.plans import load_plan_row
from absflow.services.witness import LogKeyError as LogKeyError  # key files live there; names kept here too
from absflow.services.witness import generate_key as generate_key
from absflow.services.witness import read_signer as read_signer
from absflow.services.witness import read_state, write_state
from absflow.services.witness import read_verifier as read_verifier
from absflow.services.witness import write_key_files as write_key_files
from absflow.store.db import read_transaction, transaction
from absflow.store.log import LogCheckpointRow, LogEntryRow, LogHeadRow, LogNodeRow, TapeCommitmentRow
from absflow.store.tapes import PoolAssetRow, TapeBatchRow
from absflow.tlog.bundle import BUNDLE_FORMAT, TAPE_COMMIT_TYPE
from absflow.tlog.checkpoint import Checkpoint, WitnessRefused, open_checkpoint, witness_cosign
from absflow.tlog.disclosure import (
    DEFAULT_DISCLOSED,
    DisclosureError,
    canonical_value,
    commit_record,
    disclose,
    masked_pool_summary,
)
from absflow.tlog.entry import KNOWN_VERSIONS, CanonicalError
from absflow.tlog.hashing import leaf_hash, node_hash
from absflow.tlog.itemised import POOL_CHANGE_TYPE, TAPE_IMPORTED_TYPE, PoolChange, pool_changes_root
from absflow.tlog.merkle import (
    EMPTY_ROOT,
    STORED_MIN_LEVEL,
    consistency_ranges,
    fold_pieces,
    frontier_root,
    inclusion_ranges,
    perfect_pieces,
)
from absflow.tlog.merkle import (
    inclusion_proof as memory_inclusion_proof,
)
from absflow.tlog.merkle import (
    root as memory_root,
)
from absflow.tlog.note import (
    SIG_COSIGNATURE_V1,
    NoteError,
    SignerKey,
    VerifierKey,
    add_signature,
    parse_note,
    sign_note,
    verify_signature,
)

DEFAULT_KEY_FILE = "absflow-log.key"
DEFAULT_ORIGIN = "absflow.local/log"


class WitnessRefusedError(Conflict):
    """The witness declined to cosign: not signed by the log, a rollback, or a fork."""

    code = "witness_refused"


# --- keys ---------------------------------------------------------------------------------


def log_signer(ctx: Context) -> SignerKey:
    """The log's signing key: ``ctx.extras['log_signer']``, else the key file (created on first use)."""
    signer = ctx.extras.get("log_signer")
    if isinstance(signer, SignerKey):
        return signer
    path = Path(os.environ.get("ABSFLOW_LOG_KEY", DEFAULT_KEY_FILE))
    if not path.exists():
        key = generate_key(os.environ.get("ABSFLOW_LOG_ORIGIN", DEFAULT_ORIGIN))
        write_key_files(key, path.with_suffix(""))
    return read_signer(path)


# --- reading hashes from the store ------------------------------------------------------------


def _head(session: Session, *, lock: bool = False) -> LogHeadRow:
    query = select(LogHeadRow).where(LogHeadRow.log_id == MAIN_LOG_ID)
    if lock:
        query = query.with_for_update()
    return session.execute(query).scalar_one()


def _pieces_sql(wanted: set[tuple[int, int]], *, with_head: bool = False) -> str:
    """One statement reading the wanted leaf and subtree hashes (and the log size, as level -1).

    Plain SQL with inlined integers (all from ``int`` arithmetic): building and compiling an
    expression per proof costs more than the database read itself.
    """
    parts = []
    if with_head:
        parts.append(f"SELECT -1, size, NULL FROM log_heads WHERE log_id = {int(MAIN_LOG_ID)}")
    leaves = sorted(int(i) for level, i in wanted if level == 0)
    if leaves:
        parts.append(f"SELECT 0, idx, leaf_hash FROM log_entries WHERE idx IN ({','.join(map(str, leaves))})")
    by_level: dict[int, list[int]] = {}
    for level, i in wanted:
        if level > 0:
            by_level.setdefault(int(level), []).append(int(i))
    for level, indexes in sorted(by_level.items()):
        parts.append(f"SELECT level, idx, hash FROM log_nodes WHERE level = {level} "
                     f"AND idx IN ({','.join(map(str, sorted(indexes)))})")
    return " UNION ALL ".join(parts)


def _fetch_pieces(session: Session | Connection, wanted: Iterable[tuple[int, int]],
                  ) -> dict[tuple[int, int], bytes]:
    wanted = set(wanted)
    if not wanted:
        return {}
    connection = session.connection() if isinstance(session, Session) else session
    found = {(level, idx): bytes(value) for level, idx, value in connection.exec_driver_sql(_pieces_sql(wanted))}
    missing = wanted - set(found)
    if missing:
        raise AbsflowError(f"the log store is missing subtree hashes {sorted(missing)[:3]}; run `absflow log audit`",
                           code="log_corrupt")
    return found


def _stored(pieces: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
    """The stored hashes the perfect subtrees ``pieces`` are read from: themselves, or the leaf
    hashes of a subtree below ``STORED_MIN_LEVEL`` (not stored; ≤ 8 leaves)."""
    wanted: set[tuple[int, int]] = set()
    for level, idx in pieces:
        if 0 < level < STORED_MIN_LEVEL:
            wanted.update((0, i) for i in range(idx << level, (idx + 1) << level))
        else:
            wanted.add((level, idx))
    return wanted


def _piece(found: Mapping[tuple[int, int], bytes], level: int, idx: int) -> bytes:
    if 0 < level < STORED_MIN_LEVEL:
        return memory_root([found[(0, i)] for i in range(idx << level, (idx + 1) << level)])
    return found[(level, idx)]


def _range_hashes(session: Session, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """MTH of each ``[start, end)`` from stored perfect subtrees, with one query per table."""
    pieces = [perfect_pieces(s, e) for s, e in ranges]
    found = _fetch_pieces(session, _stored(p for group in pieces for p in group))
    return [fold_pieces([_piece(found, *p) for p in group]) for group in pieces]


def _root_at(session: Session, size: int) -> bytes:
    if size == 0:
        return EMPTY_ROOT
    return _range_hashes(session, [(0, size)])[0]


def _check_size(session: Session, size: int | None) -> int:
    current = _head(session).size
    if size is None:
        return current
    if not 0 <= size <= current:
        raise NotFound(f"the log has {current} entries; there is no tree of size {size}")
    return size


def inclusion_proof_in(session: Session, index: int, size: int) -> list[bytes]:
    if not 0 <= index < size:
        raise NotFound(f"entry {index} is not in the log of size {size}")
    return _range_hashes(session, inclusion_ranges(index, size))


def consistency_proof_in(session: Session, old_size: int, new_size: int) -> list[bytes]:
    if old_size == new_size or old_size == 0:
        return []
    if old_size > new_size:
        raise ValidationFailed([Issue("bad_range", f"--from {old_size} is after --to {new_size}",
                                      Location(field_path="from"), str(old_size))])
    return _range_hashes(session, consistency_ranges(old_size, new_size))


@dataclass(frozen=True)
class LogHead:
    size: int
    root_hash: bytes


def log_head(ctx: Context) -> LogHead:
    ctx.require("view", None)
    with read_transaction(ctx.engine) as session:
        head = _head(session)
        return LogHead(head.size, frontier_root(split_frontier(head.frontier)))


def inclusion_proof(ctx: Context, index: int, size: int) -> list[bytes]:
    """Audit path of entry ``index`` in the tree of ``size`` entries: one read of O(log n) hashes."""
    ctx.require("view", None)
    if not 0 <= index < size:
        raise NotFound(f"entry {index} is not in a log of size {size}")
    ranges = inclusion_ranges(index, size)
    pieces = [perfect_pieces(s, e) for s, e in ranges]
    wanted = _stored(p for group in pieces for p in group)
    with read_transaction(ctx.engine) as session:
        rows = session.connection().exec_driver_sql(_pieces_sql(wanted, with_head=True)).all()
    found = {(level, idx): bytes(value) for level, idx, value in rows if level >= 0}
    current = next(idx for level, idx, _ in rows if level == -1)
    if size > current:
        raise NotFound(f"the log has {current} entries; there is no tree of size {size}")
    if wanted - set(found):
        raise AbsflowError("the log store is missing subtree hashes; run `absflow log audit`", code="log_corrupt")
    return [fold_pieces([_piece(found, *p) for p in group]) for group in pieces]


def consistency_proof(ctx: Context, old_size: int, new_size: int | None = None) -> list[bytes]:
    ctx.require("view", None)
    with read_transaction(ctx.engine) as session:
        new_size = _check_size(session, new_size)
        return consistency_proof_in(session, _check_size(session, old_size), new_size)


def root_at(ctx: Context, size: int) -> bytes:
    ctx.require("view", None)
    with read_transaction(ctx.engine) as session:
        return _root_at(session, _check_size(session, size))


# --- checkpoints ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointInfo:
    id: int
    size: int
    root_hash: bytes
    note: str
    reason: str
    created_at: datetime


def _info(row: LogCheckpointRow) -> CheckpointInfo:
    return CheckpointInfo(row.id, row.size, row.root_hash, row.note, row.reason, row.created_at)


def make_checkpoint(ctx: Context, *, reason: str = "on_demand", plan_code: str | None = None,
                    signer: SignerKey | None = None) -> CheckpointInfo:
    """Sign a checkpoint of the whole log now (after each daily run, and on demand).

    Idempotent: if the newest checkpoint already covers the current size, it is returned.
    """
    ctx.require("edit", plan_code)
    key = signer or log_signer(ctx)
    with transaction(ctx.engine) as session:
        head = _head(session, lock=True)
        root_hash = frontier_root(split_frontier(head.frontier))
        latest = session.execute(
            select(LogCheckpointRow).order_by(LogCheckpointRow.id.desc()).limit(1)
        ).scalar_one_or_none()
        if latest is not None and latest.size == head.size and latest.root_hash == root_hash:
            return _info(latest)
        origin = _origin(session, key)
        note = sign_note(Checkpoint(origin, head.size, root_hash).text(), [key])
        row = LogCheckpointRow(size=head.size, root_hash=root_hash, note=note, reason=reason, created_at=ctx.now())
        session.add(row)
        session.flush()
        return _info(row)


def _note_text(note: str) -> str:
    return note[:note.rfind("\n\n") + 1]


def _origin(session: Session, key: SignerKey) -> str:
    """The log's origin: that of its first checkpoint (stable across key rotations), else the key name."""
    first = session.execute(select(LogCheckpointRow.note).order_by(LogCheckpointRow.id).limit(1)).scalar_one_or_none()
    if first is None:
        return key.name
    return Checkpoint.parse(_note_text(first)).origin


def latest_checkpoint(ctx: Context) -> CheckpointInfo | None:
    ctx.require("view", None)
    with read_transaction(ctx.engine) as session:
        row = session.execute(
            select(LogCheckpointRow).order_by(LogCheckpointRow.id.desc()).limit(1)
        ).scalar_one_or_none()
        return _info(row) if row else None


def list_checkpoints(ctx: Context) -> list[CheckpointInfo]:
    ctx.require("view", None)
    with read_transaction(ctx.engine) as session:
        rows = session.execute(select(LogCheckpointRow).order_by(LogCheckpointRow.id)).scalars().all()
        return [_info(r) for r in rows]


def _checkpoint_at(session: Session, size: int) -> LogCheckpointRow | None:
    return session.execute(
        select(LogCheckpointRow).where(LogCheckpointRow.size == size).order_by(LogCheckpointRow.id.desc()).limit(1)
    ).scalar_one_or_none()


# --- witnesses -----------------------------------------------------------------------------


def witness_cosign_latest(ctx: Context, *, witness: SignerKey, state_path: Path,
                          log_keys: Sequence[VerifierKey]) -> CheckpointInfo:
    """Have ``witness`` cosign the newest checkpoint, after it checks consistency with its state.

    The witness keeps its own state file (the last checkpoint it cosigned); the proof comes
    from the store but is verified by the witness, so a forked or rewritten log is refused
    (``WitnessRefused``, nothing changes).
    """
    ctx.require("view", None)
    state = read_state(state_path)
    with transaction(ctx.engine) as session:
        row = session.execute(
            select(LogCheckpointRow).order_by(LogCheckpointRow.id.desc()).limit(1).with_for_update()
        ).scalar_one_or_none()
        if row is None:
            raise NotFound("the log has no checkpoint yet; run `absflow log checkpoint`")
        proof: list[bytes] = []
        if state is not None and 0 < state.size <= row.size:
            proof = consistency_proof_in(session, state.size, row.size)
        try:
            note, new_state = witness_cosign(row.note, witness=witness, log_keys=log_keys, last=state,
                                             consistency_proof=proof, timestamp=int(ctx.now().timestamp()))
        except WitnessRefused as exc:
            raise WitnessRefusedError(f"{witness.name} refuses to cosign: {exc}") from None
        row.note = note
        session.flush()
        info = _info(row)
    write_state(state_path, new_state)
    return info


def attach_cosignature(ctx: Context, cosigned_note: str, witness_keys: Sequence[VerifierKey]) -> CheckpointInfo:
    """Add a witness's returned cosignature(s) to the stored checkpoint with the same text.

    Only cosignatures that verify with one of ``witness_keys`` are added; one already on the
    stored note is not added twice. Raises ValidationFailed if the note carries none.
    """
    ctx.require("edit", None)
    try:
        text, signatures = parse_note(cosigned_note)
        checkpoint = Checkpoint.parse(text)
    except NoteError as exc:
        raise ValidationFailed([Issue("bad_note", f"not a cosigned checkpoint: {exc}", Location(field_path="note"))],
                               f"not a cosigned checkpoint: {exc}") from None
    known = {(k.name, k.key_id): k for k in witness_keys if k.sig_type == SIG_COSIGNATURE_V1}
    valid = [sig for sig in signatures if (sig.name, sig.key_id) in known
             and verify_signature(text, sig, known[(sig.name, sig.key_id)]) is not None]
    if not valid:
        message = "the note carries no cosignature that verifies with the given witness key(s)"
        raise ValidationFailed([Issue("no_cosignature", message, Location(field_path="witness"))], message)
    with transaction(ctx.engine) as session:
        rows = session.execute(select(LogCheckpointRow).where(LogCheckpointRow.size == checkpoint.size)
                               .order_by(LogCheckpointRow.id.desc()).with_for_update()).scalars().all()
        row = next((r for r in rows if _note_text(r.note) == text), None)
        if row is None:
            raise NotFound(f"no stored checkpoint has this text (size {checkpoint.size}, root "
                           f"{checkpoint.root_hash.hex()[:16]}…): a checkpoint of another log, or a fork")
        present = {(s.name, s.key_id) for s in parse_note(row.note)[1]}
        for sig in valid:
            if (sig.name, sig.key_id) not in present:
                row.note = add_signature(row.note, sig)
        session.flush()
        return _info(row)


# --- bundles --------------------------------------------------------------------------------


def _entry_json(row: LogEntryRow, checkpoint: int, proof: Sequence[bytes]) -> dict[str, Any]:
    return {"index": row.idx, "body": row.body.decode("utf-8"), "checkpoint": checkpoint,
            "proof": [p.hex() for p in proof]}


def entry_bundle(ctx: Context, plan_code: str, index: int) -> dict[str, Any]:
    """A bundle proving entry ``index`` of plan ``plan_code`` is in the log (newest checkpoint)."""
    ctx.require("download", plan_code)
    with read_transaction(ctx.engine) as session:
        entry = session.get(LogEntryRow, index)
        if entry is None or entry.plan_code != plan_code:
            raise NotFound(f"plan {plan_code} has no log entry {index}")
        needed = index + 1
    checkpoint = _ensure_checkpoint(ctx, needed)
    with read_transaction(ctx.engine) as session:
        entry = session.get(LogEntryRow, index)
        assert entry is not None
        proof = inclusion_proof_in(session, index, checkpoint.size)
        return {"format": BUNDLE_FORMAT, "checkpoints": [checkpoint.note],
                "entries": [_entry_json(entry, 0, proof)]}


def entries_bundle(ctx: Context, indexes: Sequence[int], *, items: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """A bundle proving the entries ``indexes`` in the newest checkpoint (made if it does not
    cover them), with ``items`` (itemised-list proofs that refer to those entries)."""
    needed = max(indexes, default=-1) + 1
    checkpoint = _ensure_checkpoint(ctx, needed)
    with read_transaction(ctx.engine) as session:
        entries = []
        for index in indexes:
            entry = session.get(LogEntryRow, index)
            if entry is None:
                raise NotFound(f"the log has no entry {index}")
            entries.append(_entry_json(entry, 0, inclusion_proof_in(session, index, checkpoint.size)))
    bundle: dict[str, Any] = {"format": BUNDLE_FORMAT, "checkpoints": [checkpoint.note], "entries": entries}
    if items:
        bundle["items"] = list(items)
    return bundle


def _ensure_checkpoint(ctx: Context, size_needed: int) -> CheckpointInfo:
    latest = latest_checkpoint(ctx)
    if latest is not None and latest.size >= size_needed:
        return latest
    return make_checkpoint(ctx, reason="export")


def checkpoint_bundle(ctx: Context) -> dict[str, Any]:
    info = _ensure_checkpoint(ctx, 0)
    return {"format": BUNDLE_FORMAT, "checkpoints": [info.note]}


def consistency_bundle(ctx: Context, old_size: int, new_size: int | None = None) -> dict[str, Any]:
    """A bundle with the checkpoints at ``old_size`` and ``new_size`` and the proof between them."""
    ctx.require("view", None)
    if new_size is None:
        new_size = make_checkpoint(ctx, reason="export").size
    with read_transaction(ctx.engine) as session:
        sizes = sorted({s for (s,) in session.execute(select(LogCheckpointRow.size))})
        old_row, new_row = _checkpoint_at(session, old_size), _checkpoint_at(session, new_size)
        missing = [s for s, r in ((old_size, old_row), (new_size, new_row)) if r is None]
        if missing:
            raise NotFound(f"no checkpoint at size {missing[0]}; checkpoints exist at sizes: "
                           f"{', '.join(map(str, sizes)) or 'none'}")
        assert old_row is not None and new_row is not None
        if old_size > new_size:
            raise ValidationFailed([Issue("bad_range", f"--from {old_size} is after --to {new_size}",
                                          Location(field_path="from"), str(old_size))])
        proof = consistency_proof_in(session, old_size, new_size)
        return {"format": BUNDLE_FORMAT, "checkpoints": [old_row.note, new_row.note],
                "consistency": [{"from": 0, "to": 1, "proof": [p.hex() for p in proof]}]}


# --- audit -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditReport:
    size: int
    entries_checked: int
    nodes_checked: int
    checkpoints_checked: int
    signatures_checked: int
    problem: str | None = None
    first_bad_index: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _time_text(value: datetime | str) -> str:
    """The canonical text of a stored ``recorded_at`` (SQLite gives a naive UTC string)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    elif value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat().replace("+00:00", "Z")


def _date_text(value: date | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat()


_ENTRY_SQL = ("SELECT idx, entry_type, plan_code, business_date, recorded_at, body, leaf_hash "
              "FROM log_entries ORDER BY idx")
_BATCH = 50_000


def _raw_rows(session: Session, sql: str) -> Iterator[tuple[Any, ...]]:
    """Stream rows through the driver's own cursor (server-side on PostgreSQL): the audit reads every row."""
    connection = session.connection()
    raw = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        cursor = raw.cursor(name="absflow_audit")  # type: ignore[union-attr]
    else:
        cursor = raw.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
        while True:
            batch = cursor.fetchmany(_BATCH)
            if not batch:
                return
            yield from batch
    finally:
        cursor.close()


def audit_log(ctx: Context, keys: Sequence[VerifierKey] = ()) -> AuditReport:
    """Recompute everything from the stored rows; report the first entry that disagrees.

    Checks: indexes contiguous; each body parses (known version) and agrees with its
    columns; leaf hashes; every stored subtree hash; the head's size and compact range;
    every checkpoint's root (and signature, when ``keys`` are given).
    """
    ctx.require("admin", None)
    with read_transaction(ctx.engine) as session:
        return _audit(session, keys)


def _audit(session: Session, keys: Sequence[VerifierKey]) -> AuditReport:
    head = _head(session)
    counts = {"entries": 0, "nodes": 0, "checkpoints": 0, "signatures": 0}

    def report(problem: str | None, index: int | None) -> AuditReport:
        return AuditReport(head.size, counts["entries"], counts["nodes"], counts["checkpoints"],
                           counts["signatures"], problem, index)

    leaves: list[bytes] = []
    facts: dict[int, _Fact] = {}
    problem = _check_entries(_raw_rows(session, _ENTRY_SQL), leaves, facts)
    counts["entries"] = len(leaves)
    if problem is not None:
        return report(*problem)
    if len(leaves) != head.size:
        return report(f"the head says {head.size} entries, the store has {len(leaves)}", min(len(leaves), head.size))

    levels = [leaves]
    while len(levels[-1]) >= 2:
        below = levels[-1]
        levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
    stored_total = session.execute(select(func.count()).select_from(LogNodeRow)).scalar_one()
    for level in range(STORED_MIN_LEVEL, len(levels)):
        stored = [(idx, bytes(value)) for idx, value in
                  _raw_rows(session, f"SELECT idx, hash FROM log_nodes WHERE level = {level} ORDER BY idx")]
        expected = levels[level]
        for i, (idx, value) in enumerate(stored):
            if idx != i:
                return report(f"subtree hash (level {level}, index {i}) is missing or out of place", i << level)
            if i >= len(expected):
                return report(f"an unexpected subtree hash (level {level}, index {idx}) is stored", idx << level)
            if value != expected[i]:
                return report(f"subtree hash (level {level}, index {i}) over entries {i << level}–"
                              f"{((i + 1) << level) - 1} disagrees with the entries", i << level)
        if len(stored) < len(expected):
            return report(f"subtree hash (level {level}, index {len(stored)}) is missing", len(stored) << level)
        counts["nodes"] += len(stored)
    if stored_total != counts["nodes"]:
        return report(f"{stored_total - counts['nodes']} unexpected subtree hash(es) are stored", None)

    def root_of(size: int) -> bytes:
        if size == 0:
            return EMPTY_ROOT
        return fold_pieces([levels[lv][i] for lv, i in perfect_pieces(0, size)])

    frontier = [levels[lv][i] for lv, i in perfect_pieces(0, head.size)]
    if split_frontier(head.frontier) != frontier:
        return report("the log head's compact range disagrees with the entries", head.size - 1 if head.size else None)

    for row in session.execute(select(LogCheckpointRow).order_by(LogCheckpointRow.id)).scalars():
        counts["checkpoints"] += 1
        if row.size > head.size:
            return report(f"checkpoint {row.id} is for size {row.size}, beyond the log", head.size)
        try:
            if keys:
                checkpoint, _ = open_checkpoint(row.note, keys)
                counts["signatures"] += 1
            else:
                checkpoint = Checkpoint.parse(_note_text(row.note))
        except NoteError as exc:
            return report(f"checkpoint {row.id} (size {row.size}): {exc}", None)
        actual = root_of(row.size)
        if checkpoint.size != row.size or checkpoint.root_hash != actual or row.root_hash != actual:
            return report(f"checkpoint {row.id} (size {row.size}) does not match the root recomputed from the "
                          "entries (entries and hashes were rewritten together)", None)
    problem = _check_pool_change_items(session, facts) or _check_tape_rows(session, facts)
    return report(*problem) if problem is not None else report(None, None)


class _Fact(NamedTuple):
    """What an entry that other stored rows must agree with says."""

    entry_type: str
    plan_code: str | None
    payload: dict[str, Any]


#: Entry types whose content other stored rows repeat (the audit compares them).
_CROSS_CHECKED = frozenset({POOL_CHANGE_TYPE, TAPE_IMPORTED_TYPE, TAPE_COMMIT_TYPE})


def _check_tape_rows(session: Session, facts: dict[int, _Fact]) -> tuple[str, int] | None:
    """Tape batches and tape commitments agree with the entries that logged them."""
    for batch_id, merkle_root, log_index in _raw_rows(
            session, "SELECT id, merkle_root, log_index FROM tape_batches WHERE log_index IS NOT NULL ORDER BY id"):
        fact = facts.get(log_index)
        if fact is None or fact.entry_type != TAPE_IMPORTED_TYPE or fact.payload.get("batch_id") != batch_id \
                or fact.payload.get("records_root") != merkle_root:
            return (f"tape batch {batch_id}: its records root or log entry disagrees with entry {log_index} "
                    "(tape.imported)"), log_index
    for plan_code, tape_ref, root_hash, record_count, log_index in _raw_rows(
            session, "SELECT plan_code, tape_ref, root_hash, record_count, log_index FROM tape_commitments "
                     "ORDER BY id"):
        fact = facts.get(log_index)
        if fact is None or fact.entry_type != TAPE_COMMIT_TYPE or fact.plan_code != plan_code \
                or fact.payload.get("tape") != tape_ref or fact.payload.get("root") != bytes(root_hash).hex() \
                or fact.payload.get("count") != record_count:
            return (f"tape commitment {plan_code} {tape_ref}: its root, count or log entry disagrees with entry "
                    f"{log_index} (tape.committed)"), log_index
    return None


def _check_pool_change_items(session: Session, facts: dict[int, _Fact]) -> tuple[str, int] | None:
    """Every stored pool-change list rebuilds the root and size its ``pool.changed`` entry logs."""
    logged = {i: (f.payload.get("root"), f.payload.get("count"), f.plan_code) for i, f in facts.items()
              if f.entry_type == POOL_CHANGE_TYPE}
    lists: dict[int, list[PoolChange]] = {}
    for log_index, plan_code, asset_id, change, amount_fen, reason in _raw_rows(
            session, "SELECT log_index, plan_code, asset_id, change, amount_fen, reason FROM pool_change_items "
                     "ORDER BY log_index, position"):
        if log_index in logged and plan_code != logged[log_index][2]:
            return f"entry {log_index}: a stored pool change names plan {plan_code}, not the entry's plan", log_index
        lists.setdefault(log_index, []).append(PoolChange(asset_id, change, amount_fen, reason))
    for log_index in sorted(set(lists) | set(logged)):
        if log_index not in logged:
            return f"pool change items are stored for entry {log_index}, which is not a pool.changed entry", log_index
        root_hex, count, _ = logged[log_index]
        items = lists.get(log_index, [])
        try:
            rebuilt = pool_changes_root(items).hex()
        except CanonicalError:
            rebuilt = ""
        if len(items) != count or rebuilt != root_hex:
            return (f"entry {log_index}: its stored list of pool changes does not rebuild the logged root "
                    f"({len(items)} items stored, {count} logged)"), log_index
    return None


def _check_entries(rows: Iterable[tuple[Any, ...]], leaves: list[bytes],
                   facts: dict[int, _Fact]) -> tuple[str, int] | None:
    """Walk the entry rows in index order; append leaf hashes; return (problem, index) at the first bad one.

    Collects what entries that other rows repeat say into ``facts``."""
    loads = json.loads
    for expected, (idx, entry_type, plan_code, business_date, recorded_at, body, stored_leaf) in enumerate(rows):
        if idx != expected:
            return f"entry {expected} is missing (found index {idx} next)", expected
        body = bytes(body)
        leaf = leaf_hash(body)
        if bytes(stored_leaf) != leaf:
            return f"entry {idx}: the stored leaf hash does not match its content", idx
        try:
            parsed = loads(body)
            if parsed["v"] not in KNOWN_VERSIONS:
                return f"entry {idx}: unknown entry version {parsed['v']!r}", idx
            agree = (parsed["type"] == entry_type and parsed["plan"] == plan_code
                     and parsed["business_date"] == _date_text(business_date)
                     and parsed["time"] == _time_text(recorded_at))
        except (ValueError, KeyError, TypeError):
            return f"entry {idx}: the content is not a valid entry", idx
        if not agree:
            return f"entry {idx}: its columns (type, plan, business date, time) disagree with its content", idx
        if entry_type in _CROSS_CHECKED and isinstance(parsed["payload"], dict):
            facts[idx] = _Fact(entry_type, plan_code, parsed["payload"])
        leaves.append(leaf)
    return None


# --- selective disclosure of loan tapes ------------------------------------------------------


@dataclass(frozen=True)
class TapeCommitment:
    """A committed tape: its root over the records' salted field hashes, logged at ``log_index``."""

    plan_code: str
    tape_ref: str
    root_hash: bytes
    record_count: int
    log_index: int


def commit_records(ctx: Context, plan_code: str, tape_ref: str, records: Sequence[Mapping[str, Any]], *,
                   key_field: str = "loan_id", secret: bytes | None = None) -> TapeCommitment:
    """Commit each record as salted per-field hashes; log the tape root (``tape.committed``).

    The per-tape secret the salts derive from is stored (keep the database private) so
    disclosures can be made later. Idempotent per (plan, tape): committing again returns
    the existing commitment if the records are unchanged, else Conflict.
    """
    ctx.require("edit", plan_code)
    problems = [Issue("missing_key", f"record has no {key_field!r}", Location(row=i + 1, field_path=key_field))
                for i, r in enumerate(records) if r.get(key_field) in (None, "")]
    if problems:
        raise ValidationFailed(problems)
    with transaction(ctx.engine) as session:
        existing = session.execute(select(TapeCommitmentRow).where(
            TapeCommitmentRow.plan_code == plan_code, TapeCommitmentRow.tape_ref == tape_ref)).scalar_one_or_none()
        use_secret = existing.secret if existing is not None else (secret or secrets.token_bytes(32))
        leaves = [commit_record(r, use_secret, str(r[key_field])).leaf_hash for r in records]
        root_hash = memory_root(leaves)
        if existing is not None:
            if existing.root_hash != root_hash:
                raise Conflict(f"tape {tape_ref} of plan {plan_code} was committed with other records")
            return TapeCommitment(plan_code, tape_ref, root_hash, len(leaves), existing.log_index)
        now = ctx.now()
        fields = sorted({name for r in records for name in r})
        log_index = append_event(
            session, entry_type=TAPE_COMMIT_TYPE, plan_code=plan_code, recorded_at=now,
            payload={"tape": tape_ref, "root": root_hash.hex(), "count": len(leaves), "key_field": key_field,
                     "fields": fields, "scheme": "absflow-field/v1",
                     "summary": masked_pool_summary([_summary_view(r) for r in records])},
        )
        session.add(TapeCommitmentRow(plan_code=plan_code, tape_ref=tape_ref, secret=use_secret, root_hash=root_hash,
                                      record_count=len(leaves), key_field=key_field, log_index=log_index,
                                      created_at=now))
        return TapeCommitment(plan_code, tape_ref, root_hash, len(leaves), log_index)


def _summary_view(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: canonical_value(record[k]) for k in DEFAULT_DISCLOSED if k in record}


def disclosure_bundle(ctx: Context, plan_code: str, tape_ref: str, records: Sequence[Mapping[str, Any]], *,
                      record_keys: Sequence[str] | None = None,
                      fields: Sequence[str] = DEFAULT_DISCLOSED) -> dict[str, Any]:
    """A bundle disclosing ``fields`` of the chosen records (all = the masked tape), with proofs.

    ``records`` must be the committed records in their committed order.
    """
    ctx.require("download", plan_code)
    with transaction(ctx.engine) as session:
        row = session.execute(select(TapeCommitmentRow).where(
            TapeCommitmentRow.plan_code == plan_code, TapeCommitmentRow.tape_ref == tape_ref)).scalar_one_or_none()
        if row is None:
            raise NotFound(f"tape {tape_ref} of plan {plan_code} has no commitment; run `absflow log commit-tape`")
        secret, key_field, log_index = row.secret, row.key_field, row.log_index
        keys = [str(r[key_field]) for r in records]
        leaves = [commit_record(r, secret, k).leaf_hash for r, k in zip(records, keys, strict=True)]
        if memory_root(leaves) != row.root_hash or len(leaves) != row.record_count:
            raise Conflict(f"the records of tape {tape_ref} differ from what was committed")
    checkpoint = _ensure_checkpoint(ctx, log_index + 1)
    position = {k: i for i, k in enumerate(keys)}
    wanted = list(range(len(records))) if record_keys is None else []
    if record_keys is not None:
        unknown = [k for k in record_keys if k not in position]
        if unknown:
            raise NotFound(f"tape {tape_ref} has no record {unknown[0]!r}")
        wanted = [position[k] for k in record_keys]
    disclosures = []
    for i in wanted:
        try:
            item = disclose(records[i], secret=secret, record_key=keys[i], index=i, size=len(leaves),
                            proof=memory_inclusion_proof(i, leaves), reveal=fields)
        except DisclosureError as exc:
            raise ValidationFailed([Issue("disclosure_refused", str(exc), Location(field_path="fields"))]) from None
        item["entry"] = log_index
        disclosures.append(item)
    with transaction(ctx.engine) as session:
        entry = session.get(LogEntryRow, log_index)
        assert entry is not None
        proof = inclusion_proof_in(session, log_index, checkpoint.size)
        return {"format": BUNDLE_FORMAT, "checkpoints": [checkpoint.note],
                "entries": [_entry_json(entry, 0, proof)], "disclosures": disclosures}


# --- imported tapes (absflow.services.tapes) ---------------------------------------------------

#: The pool-asset columns committed per loan (balances in yuan, rates as fraction strings).
COMMITTED_ASSET_FIELDS = (
    "asset_id", "obligor_id", "balance", "original_principal", "rate", "region", "industry", "status",
    "start_date", "maturity_date", "original_term_months", "remaining_term_months", "days_past_due", "grade",
)
ASSET_KEY_FIELD = "asset_id"


def _batch_tape_ref(batch_id: int) -> str:
    return f"batch-{batch_id}"


def _rate_text(rate: float | None) -> str | None:
    """A stored float rate as the shortest decimal that round-trips (0.0595, not 0.05949999…)."""
    return None if rate is None else str(Decimal(repr(rate)))


def _batch_records(session: Session, plan_code: str, batch_id: int) -> list[dict[str, Any]]:
    """The loans of an imported asset tape, in import order, as committed records."""
    plan = load_plan_row(session, plan_code)
    batch = session.get(TapeBatchRow, batch_id)
    if batch is None or batch.plan_id != plan.id:
        raise NotFound(f"plan {plan_code} has no tape batch {batch_id}")
    rows = session.execute(
        select(PoolAssetRow.asset_id, PoolAssetRow.obligor_id, PoolAssetRow.balance_fen,
               PoolAssetRow.original_principal_fen, PoolAssetRow.rate, PoolAssetRow.region, PoolAssetRow.industry,
               PoolAssetRow.status, PoolAssetRow.start_date, PoolAssetRow.maturity_date,
               PoolAssetRow.original_term_months, PoolAssetRow.remaining_term_months, PoolAssetRow.days_past_due,
               PoolAssetRow.grade)
        .where(PoolAssetRow.batch_id == batch_id).order_by(PoolAssetRow.id)
    ).all()
    if not rows:
        raise NotFound(f"tape batch {batch_id} of plan {plan_code} has no pool assets (a performance tape?)")
    records = []
    for r in rows:
        values = (r.asset_id, r.obligor_id, fen_to_yuan(r.balance_fen),
                  None if r.original_principal_fen is None else fen_to_yuan(r.original_principal_fen),
                  _rate_text(r.rate), r.region, r.industry, r.status, r.start_date, r.maturity_date,
                  r.original_term_months, r.remaining_term_months, r.days_past_due, r.grade)
        records.append(dict(zip(COMMITTED_ASSET_FIELDS, values, strict=True)))
    return records


def commit_tape(ctx: Context, plan_code: str, batch_id: int) -> TapeCommitment:
    """Commit an imported asset tape for selective disclosure (``absflow log commit-tape``).

    An explicit step after the import (hashing ~15 fields of every loan does not fit the
    import's time budget). Idempotent per batch.
    """
    ctx.require("edit", plan_code)
    with transaction(ctx.engine) as session:
        records = _batch_records(session, plan_code, batch_id)
    return commit_records(ctx, plan_code, _batch_tape_ref(batch_id), records, key_field=ASSET_KEY_FIELD)


def tape_disclosure_bundle(ctx: Context, plan_code: str, batch_id: int, *, asset_ids: Sequence[str] | None = None,
                           fields: Sequence[str] = DEFAULT_DISCLOSED) -> dict[str, Any]:
    """Investor disclosure of an imported tape: chosen fields of chosen loans (all: the masked tape)."""
    ctx.require("download", plan_code)
    with transaction(ctx.engine) as session:
        records = _batch_records(session, plan_code, batch_id)
    return disclosure_bundle(ctx, plan_code, _batch_tape_ref(batch_id), records, record_keys=asset_ids,
                             fields=fields)


def tape_asset_ids(ctx: Context, plan_code: str, batch_id: int, limit: int | None = None) -> list[str]:
    """Asset ids of an imported tape in import order (to choose loans to disclose)."""
    ctx.require("view", plan_code)
    with transaction(ctx.engine) as session:
        records = _batch_records(session, plan_code, batch_id)
    return [str(r[ASSET_KEY_FIELD]) for r in records[:limit]]
