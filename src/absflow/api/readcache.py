"""Answering hot reads from kept answers, as plain ASGI in front of the routes.

A route opts in with ``dependencies=[CACHED_READ]`` (only routes whose answer depends on the
URL, the caller, the language cookie and logged state alone). For a GET with exactly one
credential (a bearer API key or the session cookie) whose principal this process already holds
(``services/users.py``, at most ``PRINCIPAL_CACHE_SECONDS`` old), the middleware looks for a
kept answer for (path, query, credential, language): it is sent when the log head read now
equals the one read before the answer was produced, the principal is equal to the one it was
produced for, and the permission checks recorded then pass again through the service layer
(``services/readcache.py``). Otherwise the request goes through the app as usual, and a 200
answer of an opted-in route, without cookies set, is kept (with an ``ETag``; a matching
``If-None-Match`` is answered 304).

The log head is read in a worker thread, and reads are shared: a request waits for a read that
starts after it arrived (so it sees every write committed before it), and all requests arriving
while one read is under way share the next one. Under 50 concurrent clients that is a handful
of queries per batch of requests instead of one per request.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends
from starlette.concurrency import run_in_threadpool
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from absflow.api.deps import LANG_COOKIE, SESSION_COOKIE, bearer_token
from absflow.services import readcache
from absflow.services import users as user_service
from absflow.services.access import as_principal
from absflow.services.context import Context

log = logging.getLogger("absflow.readcache")


async def _cacheable() -> None:
    readcache.mark_cacheable()


#: Route dependency: this read's answer may be kept (see the module docstring for the conditions).
CACHED_READ = Depends(_cacheable)


class _Reads:
    """The reads of one event loop: the one under way and the one to start after it."""

    def __init__(self) -> None:
        self.running: asyncio.Future[readcache.Version | None] | None = None
        self.next: asyncio.Future[readcache.Version | None] | None = None
        self.task: asyncio.Task[None] | None = None


class VersionGate:
    """Shared reads of the log head: ``read()`` returns a value read after the call began (None when the
    database could not be asked); ``last`` is the newest value read so far."""

    def __init__(self, read: Callable[[], Awaitable[readcache.Version]]) -> None:
        self._read = read
        self.last: readcache.Version | None = None
        # per event loop (a server has one; tests start one per client)
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Reads] = weakref.WeakKeyDictionary()

    async def read(self) -> readcache.Version | None:
        loop = asyncio.get_running_loop()
        reads = self._loops.get(loop)
        if reads is None:
            reads = self._loops[loop] = _Reads()
        if reads.running is None:
            waiter = reads.running = loop.create_future()
            reads.task = loop.create_task(self._fetch(loop, reads, waiter))
        else:  # a read is under way that may have started before this request: wait for the next one
            if reads.next is None:
                reads.next = loop.create_future()
            waiter = reads.next
        return await asyncio.shield(waiter)

    async def _fetch(self, loop: asyncio.AbstractEventLoop, reads: _Reads,
                     waiter: asyncio.Future[readcache.Version | None]) -> None:
        try:
            value: readcache.Version | None = await self._read()
        except Exception:  # noqa: BLE001 - the request is then answered by the app, uncached
            log.warning("reading the log head failed; answering uncached", exc_info=True)
            value = None
        if value is not None:
            self.last = value
        waiter.set_result(value)
        following, reads.next = reads.next, None
        reads.running = following
        if following is not None:
            reads.task = loop.create_task(self._fetch(loop, reads, following))


def _credential(scope: Scope) -> tuple[str, str, str, str | None] | None:
    """(kind, token, lang cookie, If-None-Match) when the request carries exactly one credential."""
    authorization = cookie = if_none_match = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1")
        elif name == b"cookie":
            cookie = value.decode("latin-1")
        elif name == b"if-none-match":
            if_none_match = value.decode("latin-1")
    cookies = cookie_parser(cookie) if cookie else {}
    session = cookies.get(SESSION_COOKIE)
    lang = cookies.get(LANG_COOKIE, "")
    if authorization is not None:
        token = bearer_token(authorization)
        if session or token is None:
            return None
        return "api_key", token, lang, if_none_match
    if session:
        return "session", session, lang, if_none_match
    return None


def _principal(ctx: Context, kind: str, token: str) -> Any | None:
    """The caller's principal if this process holds it (no I/O)."""
    if kind == "api_key":
        return user_service.cached_api_key(ctx, token)
    found = user_service.cached_session(ctx, token)
    return found.principal if found is not None else None


#: On kept answers that set no Cache-Control (the API's JSON; pages are ``no-store``): a client may
#: keep it and must ask again with its ETag; a shared cache must not keep it.
_PRIVATE = (b"cache-control", b"private, no-cache")


def _etag(body: bytes) -> bytes:
    return b'"' + hashlib.blake2b(body, digest_size=16).hexdigest().encode("ascii") + b'"'


class ReadCacheMiddleware:
    """Serve kept answers of opted-in reads (see the module docstring); keep new ones."""

    def __init__(self, app: ASGIApp, *, cache: readcache.ReadCache | None = None) -> None:
        self.app = app
        self.cache = cache or readcache.ReadCache()
        self._gate: VersionGate | None = None
        self._engine: Any = None
        self._resolving: dict[tuple[Any, ...], asyncio.Future[Any]] = {}

    def gate(self, ctx: Context) -> VersionGate:
        if self._gate is None or self._engine is not ctx.engine:
            self._engine = ctx.engine
            self._gate = VersionGate(readcache.version_reader(ctx.engine))
        return self._gate

    async def principal(self, ctx: Context, kind: str, token: str, digest: str) -> Any | None:
        """The caller's principal: held by this process, else resolved once for all the requests that
        ask for it meanwhile (when the principal cache lets a busy key go, they would each query)."""
        found = _principal(ctx, kind, token)
        if found is not None:
            return found
        loop = asyncio.get_running_loop()
        key = (loop, kind, digest)
        pending = self._resolving.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        pending = self._resolving[key] = loop.create_future()
        try:
            if kind == "api_key":
                found = await run_in_threadpool(user_service.resolve_api_key, ctx, token)
            else:
                session = await run_in_threadpool(user_service.resolve_session, ctx, token)
                found = session.principal if session is not None else None
        except Exception:  # noqa: BLE001 - the app answers (and reports) it
            found = None
        finally:
            del self._resolving[key]
            pending.set_result(found)
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        credential = _credential(scope)
        if credential is None:
            await self.app(scope, receive, send)
            return
        kind, token, lang, if_none_match = credential
        ctx: Context = scope["app"].state.ctx
        gate = self.gate(ctx)
        digest = user_service.token_digest(token)
        key = (scope["path"], scope["query_string"], kind, digest, lang)
        entry = self.cache.get(key)
        if entry is not None:
            principal = await self.principal(ctx, kind, token, digest)
            if principal is not None:
                version = await gate.read()
                if self.cache.usable(entry, version, principal) and readcache.replay(
                        as_principal(ctx, principal, remote_addr=_client(scope)), entry.checks):
                    await _answer(entry, if_none_match, send)
                    return
                self.cache.discard(key)
        version = gate.last if gate.last is not None else await gate.read()  # read before the answer is made
        await self._produce(scope, receive, send, ctx, key, kind, token, version)

    async def _produce(self, scope: Scope, receive: Receive, send: Send, ctx: Context, key: tuple[Any, ...],
                       kind: str, token: str, version: readcache.Version | None) -> None:
        recorder, recording = readcache.start_recording()
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                if (recorder.cacheable and version is not None and message["status"] == 200
                        and not any(name.lower() == b"set-cookie" for name, _ in headers)):
                    start = message  # keep it back until the whole body is here
                    return
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = b"".join(chunks)
                etag = _etag(body)
                headers = [*start.get("headers", []), (b"etag", etag)]
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append(_PRIVATE)  # the caller's own answer: no shared cache keeps it
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                principal = _principal(ctx, kind, token)
                if principal is not None and version is not None:
                    self.cache.put(key, version, principal, recorder, start["status"], headers, body, etag)
                return
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            readcache.stop_recording(recording)


def _client(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


async def _answer(entry: readcache.Entry, if_none_match: str | None, send: Send) -> None:
    if if_none_match is not None and entry.etag.decode("ascii") in (t.strip() for t in if_none_match.split(",")):
        headers = [(k, v) for k, v in entry.headers if k.lower() not in (b"content-length", b"content-type")]
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": entry.status, "headers": list(entry.headers)})
    await send({"type": "http.response.body", "body": entry.body})
