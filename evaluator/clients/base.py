"""Model client interface and the protocol registry.

A protocol client speaks one wire protocol (`neurips2023`, later `openai`) to a team's server. The
runner only sees this interface, so tests can pass any object that satisfies it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from evaluator.core import Request, RequestResult
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


ClientFactory = Callable[..., Any]

PROTOCOLS: Registry[ClientFactory] = Registry("protocol")
register_protocol = PROTOCOLS.register


def create_client(protocol: str, base_url: str, **kwargs: Any) -> Any:
    """A client for `protocol` (registry name) talking to `base_url`."""
    return PROTOCOLS.get(protocol)(base_url, **kwargs)
