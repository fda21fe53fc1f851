"""JSON over HTTP for protocol clients: bounded in size and time, failures classified.

Every failure is either transient (connection trouble, 5xx, 408/425/429, timeout: worth retrying)
or a protocol error (the server's answer is wrong: not retried).
"""

from __future__ import annotations

import json
from typing import Any

from evaluator.clients.transport import (
    AsyncHttp11Transport,
    HttpAnswer,
    HttpTransport,
    SocketFactory,
    too_large,
)
from evaluator.errors import ProtocolError, TransientError

# Statuses a healthy server under load may answer; any other 4xx is the team's bug.
_RETRYABLE_STATUS = frozenset({408, 425, 429})


def excerpt(body: bytes, limit: int = 200) -> str:
    text = body[:limit].decode("utf-8", errors="replace")
    return text + ("..." if len(body) > limit else "")


class JsonHttp:
    """POSTs JSON to one server through an HttpTransport."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float,
        max_response_bytes: int,
        transport: HttpTransport | None = None,
        socket_factory: SocketFactory | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.max_response_bytes = max_response_bytes
        self.transport: HttpTransport = transport or AsyncHttp11Transport(
            base_url, max_response_bytes=max_response_bytes, socket_factory=socket_factory
        )

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def post_json(
        self, path: str, payload: dict[str, Any], timeout_s: float | None = None
    ) -> HttpAnswer:
        return await self.send("POST", path, json.dumps(payload).encode("utf-8"), timeout_s)

    async def get(self, path: str, timeout_s: float | None = None) -> HttpAnswer:
        return await self.send("GET", path, None, timeout_s)

    async def send(
        self, method: str, path: str, body: bytes | None, timeout_s: float | None
    ) -> HttpAnswer:
        timeout = self.timeout_s if timeout_s is None else timeout_s
        answer = await self.transport.request(method, path, body, timeout)
        if len(answer.body) > self.max_response_bytes:
            raise too_large(f"{method} {path}", self.max_response_bytes)
        if answer.status >= 500 or answer.status in _RETRYABLE_STATUS:
            raise TransientError(
                f"{method} {path} answered HTTP {answer.status}: {excerpt(answer.body)}"
            )
        return answer


def parse_json_object(answer: HttpAnswer, path: str, method: str = "POST") -> dict[str, Any]:
    """The body as a JSON object, or a ProtocolError saying what is wrong with it."""
    where = f"{method} {path}"
    if answer.status != 200:
        raise ProtocolError(f"{where} answered HTTP {answer.status}: {excerpt(answer.body)}")
    try:
        value = json.loads(answer.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(
            f"{where} returned invalid JSON ({exc}); body starts with: {excerpt(answer.body)}"
        ) from None
    if not isinstance(value, dict):
        raise ProtocolError(f"{where} returned JSON {type(value).__name__}, expected an object")
    return value
