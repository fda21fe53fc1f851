"""An in-memory HttpTransport: scripted answers without sockets (client unit tests)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from evaluator.clients.transport import HttpAnswer

# (path, request body or b"" for GET) -> (status, answer body); may raise TransientError to act
# out an outage.
MockHandler = Callable[[str, bytes], tuple[int, bytes]]


def json_answer(value: Any, status: int = 200) -> MockHandler:
    """A handler answering every request with `value` (bytes are sent as they are)."""
    body = value if isinstance(value, bytes) else json.dumps(value).encode("utf-8")
    return lambda path, request: (status, body)


class MockTransport:
    """Calls `handler` for every POST; records the requests it saw."""

    def __init__(self, handler: MockHandler) -> None:
        self.handler = handler
        # (method, path, decoded JSON body or None) of every request, in order.
        self.requests: list[tuple[str, str, Any]] = []

    async def request(
        self, method: str, path: str, body: bytes | None, timeout_s: float
    ) -> HttpAnswer:
        self.requests.append((method, path, None if body is None else json.loads(body)))
        status, answer = self.handler(path, body or b"")
        return HttpAnswer(status=status, body=answer, elapsed_s=0.0)

    async def aclose(self) -> None:
        return None
