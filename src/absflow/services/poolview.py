"""Pool analytics for the pages and the API: computed once per plan state, stored, masked per role.

Summary, stratifications and concentration of a large pool cost seconds to compute (the
whole pool is loaded). Their results only change when something is appended to the plan's
log (a tape import, a revolving purchase, …), so each part (``summary``, ``fields``,
``concentration``, ``strat:<field>``) is computed once per plan state — the plan's newest
log entry (index and leaf hash), skipping kinds that never change a pool (grants,
bookbuilding, status changes: ``POOL_NEUTRAL_*``) — and kept twice:

* in the ``pool_analytics`` table, so every server worker, a restarted server and the CLI
  serve it without loading the pool again (the tape import job fills it: ``precompute``);
* in this process, as the parsed value and its JSON bytes, so a read costs one indexed query
  (the plan state) and no serialization.

One computation per plan runs at a time in a process; the others wait for its result.
Permission is checked on every call before anything is served. Obligor ids in the
concentration table are masked for roles that must not see borrower identity (investors,
rating agencies).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError

from absflow import pool
from absflow.access import MASK
from absflow.services import pool as pool_service
from absflow.services.access import actor_sees_borrower_identity
from absflow.services.context import Context
from absflow.store.analytics import PoolAnalyticsRow
from absflow.store.db import engine_key, read_transaction, transaction
from absflow.store.log import LogEntryRow

CACHE_SIZE = 512
#: Fields stratified on the pool page when present, in this order; all of them are precomputed.
DEFAULT_STRAT_FIELDS = ("balance", "rate", "remaining_term_months", "maintenance_ratio", "region", "industry",
                        "status", "seasoning_months")
#: How many of the default fields the pool page shows.
PAGE_STRATS = 4
SUMMARY, FIELDS, CONCENTRATION = "summary", "fields", "concentration"
MASKED = ":masked"

State = tuple[int, str]


@dataclass(frozen=True)
class Part:
    """One piece of the analytics: its value (JSON-ready) and that value as UTF-8 JSON."""

    value: Any
    raw: bytes


_memory: OrderedDict[tuple[Any, ...], Part] = OrderedDict()
_lock = threading.Lock()
_computing: dict[tuple[str, str], threading.Lock] = {}


def _json_default(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, as the API answers it."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"),
                      default=_json_default).encode("utf-8")


def strat_part(field: str) -> str:
    return f"strat:{field}"


#: Log entries of a plan that never change its pool or what its analytics show (grants, bookbuilding,
#: lifecycle status, commitments, anchoring). Every other kind, including kinds added later, counts
#: as a change: skipping one that mattered would serve stale analytics, counting one that did not
#: only costs a recomputation.
POOL_NEUTRAL_PREFIXES = ("access.", "book.", "apikey.", "user.", "log.")
POOL_NEUTRAL_TYPES = ("plan.status_changed", "tape.committed")


#: Built once: SQLAlchemy then reuses its cache key and compiled form on every read.
_STATE_QUERY = (select(LogEntryRow.idx, LogEntryRow.leaf_hash)
                .where(LogEntryRow.plan_code == bindparam("plan_code"),
                       LogEntryRow.entry_type.not_in(POOL_NEUTRAL_TYPES),
                       *(LogEntryRow.entry_type.not_like(prefix + "%") for prefix in POOL_NEUTRAL_PREFIXES))
                .order_by(LogEntryRow.idx.desc()).limit(1))


def _state(ctx: Context, plan_code: str) -> State:
    """(index, hex leaf hash) of the plan's newest log entry that may change its pool; (-1, "") when none."""
    with read_transaction(ctx.engine) as session:
        found = session.execute(_STATE_QUERY, {"plan_code": plan_code}).first()
    return (-1, "") if found is None else (int(found[0]), bytes(found[1]).hex())


def plan_state(ctx: Context, plan_code: str) -> int:
    """The index of the plan's newest log entry that may change its pool (-1 when none)."""
    return _state(ctx, plan_code)[0]


def _remember(key: tuple[Any, ...], part: Part) -> None:
    with _lock:
        _memory[key] = part
        _memory.move_to_end(key)
        while len(_memory) > CACHE_SIZE:
            _memory.popitem(last=False)


def _recall(keys: Iterable[tuple[Any, ...]]) -> dict[str, Part]:
    out = {}
    with _lock:
        for key in keys:
            found = _memory.get(key)
            if found is not None:
                _memory.move_to_end(key)
                out[key[-1]] = found
    return out


def _load_stored(ctx: Context, plan_code: str, state: State, names: list[str]) -> dict[str, Part]:
    with read_transaction(ctx.engine) as session:
        rows = session.execute(select(PoolAnalyticsRow.part, PoolAnalyticsRow.body).where(
            PoolAnalyticsRow.plan_code == plan_code, PoolAnalyticsRow.part.in_(names),
            PoolAnalyticsRow.state_idx == state[0], PoolAnalyticsRow.state_hash == state[1],
        )).all()
    return {name: Part(json.loads(body), bytes(body)) for name, body in rows}


def _store(ctx: Context, plan_code: str, state: State, parts: dict[str, Part]) -> None:
    """Replace the stored parts; a concurrent writer of the same parts wins harmlessly."""
    now = ctx.now()
    try:
        with transaction(ctx.engine) as session:
            session.execute(delete(PoolAnalyticsRow).where(PoolAnalyticsRow.plan_code == plan_code,
                                                           PoolAnalyticsRow.part.in_(list(parts))))
            session.add_all(PoolAnalyticsRow(plan_code=plan_code, part=name, state_idx=state[0], state_hash=state[1],
                                             body=part.raw, computed_at=now) for name, part in parts.items())
    except IntegrityError:
        pass  # another process stored the same parts for this state meanwhile


def _compute(ctx: Context, plan_code: str, extra_strats: Iterable[str]) -> dict[str, Part]:
    """Every standard part plus ``extra_strats`` from one load of the pool."""
    frame = pool_service.pool_frame(ctx, plan_code)
    available = [f.name for f in pool.pool_fields(frame.schema)]
    warning_line, liquidation_line = pool_service.maintenance_lines(ctx, plan_code)
    values: dict[str, Any] = {
        SUMMARY: pool.summarize(frame, warning_line=warning_line, liquidation_line=liquidation_line).as_dict(),
        FIELDS: available,
        CONCENTRATION: pool.concentration(frame, top_n=10).as_dict(),
    }
    wanted = dict.fromkeys([f for f in DEFAULT_STRAT_FIELDS if f in available] + list(extra_strats))
    for field in wanted:
        values[strat_part(field)] = pool.stratify(frame, field).as_dict()
    return {name: Part(value, dumps(value)) for name, value in values.items()}


def parts(ctx: Context, plan_code: str, names: Sequence[str]) -> dict[str, Part]:
    """The named parts for the plan's current state: from this process, else the table, else computed
    (then stored). Requires ``view`` on the plan. ``concentration:masked`` is the concentration with
    obligor ids masked (never stored)."""
    ctx.require("view", plan_code)
    return _parts_at(ctx, plan_code, _state(ctx, plan_code), names)


def _parts_at(ctx: Context, plan_code: str, state: State, names: Sequence[str]) -> dict[str, Part]:
    base = (engine_key(ctx.engine), plan_code, *state)
    found = _recall(base + (name,) for name in names)
    missing = [name for name in names if name not in found]
    if CONCENTRATION + MASKED in missing:
        plain = _parts_at(ctx, plan_code, state, [CONCENTRATION])[CONCENTRATION]
        masked = dict(plain.value)
        masked["top_obligors"] = [{**row, "key": MASK} for row in plain.value["top_obligors"]]
        found[CONCENTRATION + MASKED] = Part(masked, dumps(masked))
        _remember(base + (CONCENTRATION + MASKED,), found[CONCENTRATION + MASKED])
        missing.remove(CONCENTRATION + MASKED)
    if missing:
        stored = _load_stored(ctx, plan_code, state, missing)
        for name, part in stored.items():
            _remember(base + (name,), part)
        found.update(stored)
        missing = [name for name in missing if name not in found]
    if missing:
        with _lock:
            flight = _computing.setdefault((base[0], plan_code), threading.Lock())
        with flight:  # one computation per plan; the others find its result
            found.update(_recall(base + (name,) for name in missing))
            missing = [name for name in missing if name not in found]
            if missing:
                extra = [name.removeprefix("strat:") for name in missing if name.startswith("strat:")]
                computed = _compute(ctx, plan_code, extra)
                _store(ctx, plan_code, state, computed)
                for name, part in computed.items():
                    _remember(base + (name,), part)
                found.update((name, computed[name]) for name in missing)
    return found


def precompute(ctx: Context, plan_code: str) -> None:
    """Compute and store the plan's analytics now (after an import), so no reader waits for them."""
    parts(ctx, plan_code, [SUMMARY, FIELDS, CONCENTRATION])


def clear_cache() -> None:
    """Forget what this process holds (the table keeps what it keeps)."""
    with _lock:
        _memory.clear()


def _concentration_name(ctx: Context) -> str:
    return CONCENTRATION if actor_sees_borrower_identity(ctx) else CONCENTRATION + MASKED


def summary_json(ctx: Context, plan_code: str) -> bytes:
    """The pool summary as JSON bytes."""
    return parts(ctx, plan_code, [SUMMARY])[SUMMARY].raw


def strats_json(ctx: Context, plan_code: str, fields: Sequence[str]) -> bytes:
    """The stratifications by ``fields`` as a JSON array."""
    names = [strat_part(f) for f in fields]
    found = parts(ctx, plan_code, names)
    return b"[" + b",".join(found[name].raw for name in names) + b"]"


def concentration_json(ctx: Context, plan_code: str) -> bytes:
    """Top obligors and HHI as JSON bytes; obligor ids masked for investors and rating agencies."""
    name = _concentration_name(ctx)
    return parts(ctx, plan_code, [name])[name].raw


@dataclass(frozen=True)
class PoolOverview:
    """Everything the pool page shows (money as decimal strings in yuan)."""

    summary: dict[str, Any]
    fields: list[str]
    strats: list[dict[str, Any]]
    concentration: dict[str, Any]


def overview(ctx: Context, plan_code: str, fields: Sequence[str] | None = None) -> PoolOverview:
    """Summary, stratifications (``fields``, default: up to four usual ones), concentration.

    Obligor ids are masked for investors and rating agencies.
    """
    ctx.require("view", plan_code)
    state = _state(ctx, plan_code)
    concentration = _concentration_name(ctx)
    head = _parts_at(ctx, plan_code, state, [SUMMARY, FIELDS, concentration])
    available = head[FIELDS].value
    wanted = [f for f in DEFAULT_STRAT_FIELDS if f in available][:PAGE_STRATS] if fields is None else list(fields)
    strats = _parts_at(ctx, plan_code, state, [strat_part(f) for f in wanted])
    return PoolOverview(
        summary=head[SUMMARY].value,
        fields=available,
        strats=[strats[strat_part(f)].value for f in wanted],
        concentration=head[concentration].value,
    )
