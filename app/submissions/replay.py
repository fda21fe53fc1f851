"""Rescoring: recompute an evaluation's scores from its stored responses, with the current
evaluator, without calling the model."""

from __future__ import annotations

from typing import Any

import evaluator
from evaluator import Request, RequestResult


class ReplayOnlyClient:
    """A model client with no model behind it: every call means a response was not stored."""

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol
        self.missing = 0

    def _missing(self, what: str) -> evaluator.ProtocolError:
        self.missing += 1
        return evaluator.ProtocolError(f"{what} is not among the stored responses")

    async def tokenize(self, text: str, **_: Any) -> list[int]:
        raise self._missing("a tokenization")

    async def decode(self, tokens: list[int], **_: Any) -> str:
        raise self._missing("a decoding")

    async def complete(self, request: Request, **_: Any) -> RequestResult:
        raise self._missing("a completion")

    async def aclose(self) -> None:
        return None
