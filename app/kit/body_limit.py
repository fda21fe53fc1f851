"""Request bodies are bounded, and under /api/ none is read for a caller without a valid token.

FastAPI reads and parses a route's JSON or form body before it runs the dependencies that check
the token, so an anonymous 1 GiB POST used to be held in memory whole before its 401. This pure
ASGI middleware sits in front of every route:

- An /api/ request that carries a body must present a known bearer token before one byte of
  the body is read (401 otherwise). Only the token is checked here; what its role may do is
  still decided by each route's dependencies.
- Every body is capped at `max_bytes` (413): refused from Content-Length before reading, and for
  a chunked body counted as it arrives and refused as soon as it passes the cap. The body is
  collected here (never more than the cap) and handed to the route, so nothing further in can
  buffer more than that.
- The streaming routes (multipart submissions, resumable-upload chunks) are passed through
  untouched: they write to disk as bytes arrive, under their own, much larger limits, and their
  token is checked by their dependencies before the handler starts reading.

Answering without reading the body is safe: the server closes the connection after such an
answer, and until then reads at most its socket buffer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import anyio
import anyio.to_thread
from starlette.datastructures import Headers
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TokenCheck = Callable[[str], bool]
"""True when the bearer token is known and not revoked. Called in a worker thread."""

PROTECTED_PREFIX = "/api/"
MISSING_TOKEN = (
    "missing bearer token: send 'Authorization: Bearer <token>' "
    "(tokens come from `podium admin create-team`)"
)
UNKNOWN_TOKEN = "unknown or revoked token"
LINGER_S = 0.05


@dataclass(frozen=True)
class StreamingRoute:
    """A route that reads its body as a stream under its own limits, e.g.
    `StreamingRoute("PATCH", "/api/v1/uploads/{upload_id}")`."""

    method: str
    path: str

    def pattern(self) -> re.Pattern[str]:
        regex, _, _ = compile_path(self.path)
        return regex


def _size(limit: int) -> str:
    if limit >= 1024**2 and limit % 1024**2 == 0:
        return f"{limit // 1024**2} MiB"
    if limit >= 1024 and limit % 1024 == 0:
        return f"{limit // 1024} KiB"
    return f"{limit} bytes"


class BodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        token_known: TokenCheck,
        streaming: Iterable[StreamingRoute] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.token_known = token_known
        self.streaming = [(r.method.upper(), r.pattern()) for r in streaming]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is not None and not length.strip().isdigit():
            await _answer(send, 400, f"Content-Length {length!r} is not a number")
            return
        chunked = "transfer-encoding" in headers
        has_body = chunked or (length is not None and int(length) > 0)
        if not has_body:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(PROTECTED_PREFIX):
            problem = await self._token_problem(headers)
            if problem is not None:
                await _answer(send, 401, problem, {"WWW-Authenticate": "Bearer"})
                return
        if self._streams(scope["method"], path):
            await self.app(scope, receive, send)
            return
        if length is not None and int(length) > self.max_bytes:
            await _answer(send, 413, self._too_large())
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client gave up; there is nobody to answer
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await _answer(send, 413, self._too_large())
                return
            more = message.get("more_body", False)
        await self.app(scope, _replay(bytes(body), receive), send)

    def _streams(self, method: str, path: str) -> bool:
        return any(m == method and p.fullmatch(path) for m, p in self.streaming)

    async def _token_problem(self, headers: Headers) -> str | None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return MISSING_TOKEN
        known = await anyio.to_thread.run_sync(self.token_known, token.strip())
        return None if known else UNKNOWN_TOKEN

    def _too_large(self) -> str:
        return (
            f"the request body is larger than {_size(self.max_bytes)}, the most this route "
            "accepts (a JSON document or form, never a file); send files as a submission "
            "(POST /api/v1/submissions) or a resumable upload (POST /api/v1/uploads, then PATCH "
            "chunks)"
        )


def _replay(body: bytes, receive: Receive) -> Receive:
    """Hands the route the collected body, then the client's later messages (disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _answer(
    send: Send, status: int, detail: str, headers: dict[str, str] | None = None
) -> None:
    # The same shape as every other error of the API: {"detail": "..."}.
    content = json.dumps({"detail": detail}).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode()),
        (b"connection", b"close"),
        *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": content, "more_body": True})
    # The server resets the connection when it closes it with the body unread, and a reset
    # throws away what the kernel has not sent yet: give the answer a moment to leave first.
    await anyio.sleep(LINGER_S)
    await send({"type": "http.response.body", "body": b""})
