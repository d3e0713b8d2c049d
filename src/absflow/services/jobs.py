"""Background jobs: long work (imports, grids, simulations) queued in the ``jobs`` table and run
by a worker thread inside the server process, with progress the pages poll.

An area makes its long operation a job kind with ``register(kind, action, handler)``; the
handler gets a context acting for the user who submitted the job (so the same permission
checks apply), the job's parameters and input bytes, and a ``progress(percent, message)``
callback. A job that fails keeps the error (every issue, with its location) as its result.
Jobs are claimed with a conditional UPDATE, so several server processes may run workers.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import selectinload

from absflow.access import Principal
from absflow.domain.issues import AbsflowError, NotFound, ValidationFailed
from absflow.services.access import as_principal
from absflow.services.context import Context
from absflow.services.users import principal_of
from absflow.store.db import is_sqlite, transaction
from absflow.store.users import JobRow, UserRow

log = logging.getLogger("absflow.jobs")

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"

Progress = Callable[[int, str], None]
Handler = Callable[[Context, Mapping[str, Any], bytes | None, Progress], Mapping[str, Any]]


@dataclass(frozen=True)
class JobKind:
    name: str
    #: What the submitter must be allowed to do on the job's plan (e.g. "edit" for an import).
    action: str
    handler: Handler


KINDS: dict[str, JobKind] = {}

#: A handler may put ``(file name, bytes)`` under this key of its result: kept as the job's output file.
OUTPUT_KEY = "_output"

#: job id -> (percent, message) of jobs running in this process (fresher than the table).
LIVE_PROGRESS: dict[int, tuple[int, str]] = {}


def register(kind: str, action: str, handler: Handler) -> None:
    """Make ``handler`` runnable as job kind ``kind`` (idempotent for the same handler)."""
    KINDS[kind] = JobKind(kind, action, handler)


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    plan_code: str | None
    username: str | None
    status: str
    progress: int
    message: str
    params: dict[str, Any]
    result: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in (DONE, FAILED)


def _to_job(row: JobRow) -> Job:
    progress, message = row.progress, row.message
    if row.status == RUNNING and row.id in LIVE_PROGRESS:
        progress, message = LIVE_PROGRESS[row.id]
    return Job(
        id=row.id, kind=row.kind, plan_code=row.plan_code, username=row.username, status=row.status,
        progress=progress, message=message, params=json.loads(row.params_json),
        result=json.loads(row.result_json) if row.result_json else None, created_at=row.created_at,
        started_at=row.started_at, finished_at=row.finished_at,
    )


def _username(ctx: Context) -> str | None:
    return ctx.actor.username if isinstance(ctx.actor, Principal) else None


def submit(ctx: Context, kind: str, plan_code: str | None, params: Mapping[str, Any],
           input_blob: bytes | None = None) -> Job:
    """Queue a job; the submitter must be allowed the kind's action on the plan now (and again when it runs)."""
    job_kind = KINDS.get(kind)
    if job_kind is None:
        raise NotFound(f"no job kind {kind!r}")
    ctx.require(job_kind.action, plan_code)
    now = ctx.now()
    with transaction(ctx.engine) as session:
        row = JobRow(kind=kind, plan_code=plan_code, username=_username(ctx), status=QUEUED, progress=0,
                     message="queued", params_json=json.dumps(dict(params), ensure_ascii=False, default=str),
                     input_blob=input_blob, created_at=now)
        session.add(row)
        session.flush()
        return _to_job(row)


def get_job(ctx: Context, job_id: int) -> Job:
    """A job the actor may see: one on a plan it may view, or one it submitted."""
    with transaction(ctx.engine) as session:
        row = session.get(JobRow, job_id)
        job = _to_job(row) if row is not None else None
    if job is None:
        raise NotFound(f"no job {job_id}")
    if job.plan_code is not None:
        ctx.require("view", job.plan_code)
    elif ctx.actor is not None and job.username != _username(ctx):
        raise NotFound(f"no job {job_id}")
    return job


def job_output(ctx: Context, job_id: int) -> tuple[str, bytes]:
    """(file name, bytes) a finished job produced; needs download on the job's plan."""
    job = get_job(ctx, job_id)
    if job.plan_code is not None:
        ctx.require("download", job.plan_code)
    with transaction(ctx.engine) as session:
        row = session.get(JobRow, job_id)
        if row is None or row.output_blob is None:
            raise NotFound(f"job {job_id} has no output file")
        return row.output_name or f"job-{job_id}.bin", row.output_blob


def list_jobs(ctx: Context, plan_code: str, limit: int = 50) -> list[Job]:
    """The latest jobs on a plan, newest first."""
    ctx.require("view", plan_code)
    with transaction(ctx.engine) as session:
        rows = session.execute(
            select(JobRow).where(JobRow.plan_code == plan_code).order_by(JobRow.id.desc()).limit(limit)
        ).scalars().all()
        return [_to_job(r) for r in rows]


def _set(ctx: Context, job_id: int, **values: Any) -> None:
    with transaction(ctx.engine) as session:
        session.execute(update(JobRow).where(JobRow.id == job_id).values(**values))


def _acting_context(ctx: Context, username: str | None) -> Context:
    if username is None:
        return ctx
    with transaction(ctx.engine) as session:
        user = session.execute(
            select(UserRow).where(UserRow.username == username).options(selectinload(UserRow.grants))
        ).scalar_one_or_none()
        if user is None:
            raise NotFound(f"no user {username!r}")
        return as_principal(ctx, principal_of(user))


def run_next(ctx: Context) -> Job | None:
    """Claim and run the oldest queued job; None when there is none. ``ctx`` is the server's own."""
    with transaction(ctx.engine) as session:
        job_id = session.execute(
            select(JobRow.id).where(JobRow.status == QUEUED).order_by(JobRow.id).limit(1)
        ).scalar_one_or_none()
        if job_id is None:
            return None
        claimed = cast(CursorResult[Any], session.execute(
            update(JobRow).where(JobRow.id == job_id, JobRow.status == QUEUED)
            .values(status=RUNNING, started_at=ctx.now(), message="running")
        )).rowcount
    if claimed != 1:
        return run_next(ctx)
    with transaction(ctx.engine) as session:
        row = session.get(JobRow, job_id)
        assert row is not None
        kind, plan_code, username = row.kind, row.plan_code, row.username
        params, blob = json.loads(row.params_json), row.input_blob

    last_write = [0.0]

    def progress(percent: int, message: str) -> None:
        value = (max(0, min(100, int(percent))), message[:500])
        LIVE_PROGRESS[job_id] = value
        # On SQLite the job's own work may hold the one write lock: progress then lives in
        # memory only (one server process). Elsewhere it is also written, at most twice a second.
        now = time.monotonic()
        if not is_sqlite(ctx.engine) and now - last_write[0] >= 0.5:
            last_write[0] = now
            _set(ctx, job_id, progress=value[0], message=value[1])

    try:
        job_kind = KINDS.get(kind)
        if job_kind is None:
            raise NotFound(f"no job kind {kind!r}")
        acting = _acting_context(ctx, username)
        acting.require(job_kind.action, plan_code)
        result = dict(job_kind.handler(acting, params, blob, progress))
        output = result.pop(OUTPUT_KEY, None)
        extra = {"output_blob": output[1], "output_name": output[0][:200]} if output else {}
        _set(ctx, job_id, status=DONE, progress=100, message="done", finished_at=ctx.now(),
             result_json=json.dumps(result, ensure_ascii=False, default=str), input_blob=None, **extra)
    except AbsflowError as exc:
        body: dict[str, Any] = {"error": exc.code, "message": exc.message}
        if isinstance(exc, ValidationFailed):
            body["errors"] = [i.as_dict() for i in exc.issues]
        _set(ctx, job_id, status=FAILED, message=exc.message[:500], finished_at=ctx.now(),
             result_json=json.dumps(body, ensure_ascii=False, default=str), input_blob=None)
    except Exception as exc:  # a bug: keep the server alive and say so on the job
        log.exception("job %s (%s) crashed", job_id, kind)
        _set(ctx, job_id, status=FAILED, message=f"internal error: {type(exc).__name__}", finished_at=ctx.now(),
             result_json=json.dumps({"error": "internal", "message": str(exc)[:500]}), input_blob=None)
    LIVE_PROGRESS.pop(job_id, None)
    with transaction(ctx.engine) as session:
        done_row = session.get(JobRow, job_id)
        assert done_row is not None
        return _to_job(done_row)


def run_pending(ctx: Context) -> int:
    """Run every queued job now, in this thread (tests, CLI); returns how many ran."""
    count = 0
    while run_next(ctx) is not None:
        count += 1
    return count


class Worker(threading.Thread):
    """Runs queued jobs one at a time until ``stop()``; polls every ``poll_seconds`` when idle."""

    def __init__(self, ctx: Context, poll_seconds: float = 0.5) -> None:
        super().__init__(name="absflow-jobs", daemon=True)
        self.ctx = ctx
        self.poll_seconds = poll_seconds
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                job = run_next(self.ctx)
            except Exception:
                log.exception("job worker error")
                job = None
            if job is None:
                self._stop_event.wait(self.poll_seconds)

    def stop(self) -> None:
        self._stop_event.set()
