"""Model client interface and the protocol registry.

A protocol client speaks one wire protocol (`neurips2023`, later `openai`) to a team's server. The
runner only sees this interface, so tests can pass any object that satisfies it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from evaluator.core import Request, RequestResult
from evaluator.errors import ProtocolError, StartTimeout, TransientError
from evaluator.registry import Registry


class ModelClient(Protocol):
    """What the runner needs from a model server."""

    # Protocol name; part of every cache key.
    protocol: str

    async def tokenize(
        self,
        text: str,
        *,
        truncation: bool = False,
        max_length: int | None = None,
        timeout_s: float | None = None,
    ) -> list[int]:
        """Token ids of `text` (raises TransientError or ProtocolError)."""
        ...

    async def decode(self, tokens: list[int], *, timeout_s: float | None = None) -> str:
        """Text of `tokens` (raises DecodeUnsupported when the server has no decoder)."""
        ...

    async def complete(self, request: Request, *, timeout_s: float | None = None) -> RequestResult:
        """One completion (raises TransientError or ProtocolError)."""
        ...


async def poll_until_ready(
    probe: Callable[[float], Awaitable[object]],
    what: str,
    base_url: str,
    timeout_s: float,
    poll_s: float,
    is_alive: Callable[[], bool] | None,
) -> float:
    """Call `probe(timeout)` until it succeeds; seconds waited. `what` names the probe in
    messages (e.g. "POST /tokenize").

    Raises StartTimeout after `timeout_s`, or at once (with `exited=True`) when `is_alive`
    reports that the server's process or container is gone.
    """
    started = time.monotonic()
    last_error = "no answer yet"
    while True:
        if is_alive is not None and not is_alive():
            raise StartTimeout(
                f"the server exited before answering {what} (last error: {last_error})",
                exited=True,
            )
        remaining = timeout_s - (time.monotonic() - started)
        if remaining <= 0:
            raise StartTimeout(
                f"the server at {base_url} did not answer {what} within "
                f"{timeout_s:g}s (last error: {last_error})"
            )
        try:
            await probe(max(0.1, min(remaining, 30.0)))
            return time.monotonic() - started
        except (TransientError, ProtocolError) as exc:
            last_error = str(exc)
        await asyncio.sleep(max(0.0, min(poll_s, timeout_s - (time.monotonic() - started))))


ClientFactory = Callable[..., Any]

PROTOCOLS: Registry[ClientFactory] = Registry("protocol")
register_protocol = PROTOCOLS.register


def create_client(protocol: str, base_url: str, **kwargs: Any) -> Any:
    """A client for `protocol` (registry name) talking to `base_url`."""
    return PROTOCOLS.get(protocol)(base_url, **kwargs)
