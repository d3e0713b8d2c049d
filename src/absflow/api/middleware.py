"""The app's edge, as plain ASGI: request size limit (declared, or counted as a chunked body
arrives) and security headers on every response.

Plain ASGI rather than ``@app.middleware("http")``: the latter runs every request through
extra tasks and streams, which cost more per request than the cached reads behind them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class EdgeMiddleware:
    """Refuse bodies declared larger than ``limit()`` bytes (413 problem); add ``headers`` to every
    response unless the handler set them; ``Cache-Control: no-store`` on HTML."""

    def __init__(self, app: ASGIApp, *, headers: Mapping[str, str], limit: Callable[[], int],
                 too_large: Callable[[int, str], Response]) -> None:
        self.app = app
        self.headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        self.limit = limit
        self.too_large = too_large

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._add_headers(message)
            await send(message)

        declared = Headers(scope=scope).get("content-length")
        limit = self.limit()
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self.too_large(limit, scope["path"])(scope, receive, send_with_headers)
            return
        if declared is None and scope.get("method") in BODY_METHODS:
            await self._counted(scope, receive, send_with_headers, limit)
            return
        await self.app(scope, receive, send_with_headers)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """No Content-Length (a chunked body): count it as it arrives. Past the limit the app sees the
        client go away, and the answer is 413 instead of the app's (nothing is read whole first)."""
        seen, over, answered = 0, False, False

        async def counted() -> Message:
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def answer_too_large() -> None:
            nonlocal answered
            answered = True
            await self.too_large(limit, scope["path"])(scope, receive, send)

        async def guarded(message: Message) -> None:
            if not over:
                await send(message)
            elif not answered:
                await answer_too_large()

        await self.app(scope, counted, guarded)
        if over and not answered:
            await answer_too_large()

    def _add_headers(self, message: Message) -> None:
        raw: list[tuple[bytes, bytes]] = list(message.get("headers", []))
        present = {name.lower() for name, _ in raw}
        raw.extend((name, value) for name, value in self.headers if name not in present)
        content_type = next((value for name, value in raw if name.lower() == b"content-type"), b"")
        if content_type.startswith(b"text/html") and b"cache-control" not in present:
            raw.append((b"cache-control", b"no-store"))
        message["headers"] = raw
