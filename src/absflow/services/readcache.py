"""Whole answers of hot reads, kept per caller and per state of the log, with their permission checks.

A read that opts in (a plan, the plan list, the pool analytics, their pages) depends only on
its URL, the caller and the data — and every change to the data appends to the verifiable log
(ARCHITECTURE.md rule 7). So its answer stays right while the log head (size and frontier
hashes) is unchanged, for the same caller. An ``Entry`` keeps:

* the log head read *before* the answer was produced (a change made meanwhile makes the entry
  stale at once, never hides it);
* the principal it was produced for: it is served only to a request whose principal is equal
  (same user, role, grants, investor link, active flag) — another user, or this user after a
  change of rights, never gets it;
* every permission check the service layer made while producing it (``Check``). They are
  replayed through ``Context.require`` / ``Context.can`` on every hit, so authorization stays
  enforced by the service layer for every request, cached or not; an answer whose production
  was refused anything (a recorded denial) is not kept.

Entries also expire after ``ENTRY_SECONDS`` (pages show durations up to now), and the store is
bounded in count and bytes. ``version_reader`` reads the log head on a connection of its own
(no pool checkout, no ping; asyncio on PostgreSQL): the one query a cached answer costs.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from absflow.services.context import Context
from absflow.services.log import MAIN_LOG_ID
from absflow.store.log import LogHeadRow

#: How long an answer may be served at one log state (bounds time-dependent content: durations).
ENTRY_SECONDS = 30.0
MAX_ENTRIES = 4096
MAX_BYTES = 64 * 1024 * 1024

#: The log head: (size, frontier hashes). Two different logs of one size differ in their frontier.
Version = tuple[int, bytes]


@dataclass(frozen=True)
class Check:
    """One permission check made while producing an answer: ``require`` (must pass) or ``can``."""

    kind: str
    action: str
    plan_code: str | None
    allowed: bool


@dataclass
class Recorder:
    """What the service layer did for the current request: checks, who was checked, denials."""

    checks: list[Check] = field(default_factory=list)
    actors: list[Any] = field(default_factory=list)
    denied: bool = False
    #: Set by the route (``cached_read``): its answer may be kept.
    cacheable: bool = False


_RECORDER: ContextVar[Recorder | None] = ContextVar("absflow_read_recorder", default=None)


def start_recording() -> tuple[Recorder, Any]:
    """Record the checks of the current request (and of the worker threads it calls); returns the
    recorder and the token for ``stop_recording``."""
    recorder = Recorder()
    return recorder, _RECORDER.set(recorder)


def stop_recording(token: Any) -> None:
    _RECORDER.reset(token)


def mark_cacheable() -> None:
    """The current request's answer may be kept (call from a route that reads only logged state)."""
    recorder = _RECORDER.get()
    if recorder is not None:
        recorder.cacheable = True


def note_check(actor: Any, kind: str, action: str, plan_code: str | None, allowed: bool) -> None:
    """Called by the authorizer for every check it makes."""
    recorder = _RECORDER.get()
    if recorder is None:
        return
    recorder.checks.append(Check(kind, action, plan_code, allowed))
    if not recorder.actors or recorder.actors[-1] is not actor:
        recorder.actors.append(actor)
    if kind == "require" and not allowed:
        recorder.denied = True


def replay(ctx: Context, checks: Sequence[Check]) -> bool:
    """Make the recorded checks again for ``ctx``'s actor; True when every one comes out as recorded.

    Nothing is recorded while replaying (a failed ``require`` is not expected: the caller's principal
    equals the one the checks were made for; if it happens, the request is answered afresh)."""
    token = _RECORDER.set(None)
    try:
        for check in checks:
            if check.kind == "require":
                if not ctx.can(check.action, check.plan_code):
                    return False
            elif ctx.can(check.action, check.plan_code) is not check.allowed:
                return False
    finally:
        _RECORDER.reset(token)
    return True


@dataclass(frozen=True)
class Entry:
    """A kept answer: status, headers and body as sent, and what it may be served to."""

    version: Version
    principal: Any
    checks: tuple[Check, ...]
    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    etag: bytes
    expires: float


class ReadCache:
    """Kept answers by key (URL, caller's credential, language …), bounded in count and bytes."""

    def __init__(self, *, ttl: float = ENTRY_SECONDS, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.clock = clock
        self._entries: OrderedDict[Hashable, Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Entry | None:
        """The entry for ``key`` if it has not expired (its version and principal are the caller's to check)."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            if found.expires <= self.clock():
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return found

    def usable(self, entry: Entry, version: Version | None, principal: Any) -> bool:
        """Whether ``entry`` may answer a caller with ``principal`` while the log head is ``version``."""
        return version is not None and entry.version == version and entry.principal == principal

    def put(self, key: Hashable, version: Version, principal: Any, recorder: Recorder, status: int,
            headers: Sequence[tuple[bytes, bytes]], body: bytes, etag: bytes) -> bool:
        """Keep an answer produced for ``principal`` at ``version`` (read before it was produced). Not kept
        (False) when the request was refused anything or was checked for anyone else."""
        if recorder.denied or any(actor != principal for actor in recorder.actors):
            return False
        if len(body) > self.max_bytes // 8:
            return False
        entry = Entry(version, principal, tuple(recorder.checks), status, tuple(headers), body, etag,
                      self.clock() + self.ttl)
        with self._lock:
            if key in self._entries:
                self._drop(key)
            self._entries[key] = entry
            self._bytes += len(body)
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))
        return True

    def discard(self, key: Hashable) -> None:
        with self._lock:
            if key in self._entries:
                self._drop(key)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, key: Hashable) -> None:
        self._bytes -= len(self._entries.pop(key).body)


_HEAD_SQL = f"SELECT size, frontier FROM {LogHeadRow.__tablename__} WHERE log_id = {int(MAIN_LOG_ID)}"


class LogVersion:
    """Reads the log head on one connection of its own, kept open (autocommit: every read sees what is
    committed; no pool checkout or ping per read). Thread-safe; one read at a time. A failed read
    drops the connection; the next read opens a new one."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._raw: Any = None
        self._lock = threading.Lock()

    def __call__(self) -> Version:
        with self._lock:
            try:
                if self._raw is None:
                    self._raw = self._open()
                cursor = self._raw.cursor()
                try:
                    cursor.execute(_HEAD_SQL)
                    row = cursor.fetchone()
                finally:
                    cursor.close()
            except Exception:
                self._discard()
                raise
        if row is None:
            return (0, b"")
        return (int(row[0]), bytes(row[1] or b""))

    def _open(self) -> Any:
        """A DBAPI connection of its own, outside the engine's pool (its settings never reach a pooled
        one): autocommit on PostgreSQL; on SQLite a plain SELECT opens no transaction."""
        dialect = self.engine.dialect
        args, params = dialect.create_connect_args(self.engine.url)
        if dialect.name == "sqlite":
            params = {**params, "check_same_thread": False}  # used from worker threads, one at a time
        raw = dialect.connect(*args, **params)
        if dialect.name == "postgresql":
            raw.autocommit = True
        return raw

    def _discard(self) -> None:
        raw, self._raw = self._raw, None
        if raw is not None:
            with contextlib.suppress(Exception):  # the connection is gone either way
                raw.close()

    def close(self) -> None:
        with self._lock:
            self._discard()


class AsyncLogVersion:
    """PostgreSQL (psycopg): the same read on an asyncio connection of its own per event loop, so a
    cached answer costs no worker thread. A failed read drops the connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._args, self._params = engine.dialect.create_connect_args(engine.url)
        self._connections: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()

    async def __call__(self) -> Version:
        import psycopg  # the driver of PostgreSQL URLs here (postgresql+psycopg)

        loop = asyncio.get_running_loop()
        connection = self._connections.get(loop)
        try:
            if connection is None or connection.closed:
                connection = await psycopg.AsyncConnection.connect(*self._args, autocommit=True, **self._params)
                self._connections[loop] = connection
            cursor = await connection.execute(_HEAD_SQL)
            row = await cursor.fetchone()
        except Exception:
            self._connections.pop(loop, None)
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.close()
            raise
        if row is None:
            return (0, b"")
        return (int(row[0]), bytes(row[1] or b""))


def version_reader(engine: Engine) -> Callable[[], Awaitable[Version]]:
    """How to read the log head from an event loop: asyncio on PostgreSQL with psycopg; otherwise the
    blocking read, which on SQLite is one local page read."""
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        return AsyncLogVersion(engine)
    blocking = LogVersion(engine)

    async def read() -> Version:
        return blocking()

    return read
