"""Retrying transient failures with exponential backoff."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from evaluator.errors import TransientError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a transient failure is retried."""

    # Retries after the first attempt (0: no retry).
    max_retries: int = 3
    # Delay before the first retry; doubled for each further one.
    backoff_s: float = 0.5
    # Upper bound of one delay.
    max_backoff_s: float = 8.0

    def delay(self, attempt: int) -> float:
        # Jitter spreads out the retries of many requests that failed together (a restarting
        # server), instead of sending them back as one burst.
        base = min(self.max_backoff_s, self.backoff_s * 2.0**attempt)
        return base * (0.5 + random.random() / 2)

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        attempt = 0
        while True:
            try:
                return await call()
            except TransientError as exc:
                if attempt >= self.max_retries:
                    if self.max_retries == 0:
                        raise
                    raise TransientError(f"{exc} (gave up after {attempt} retries)") from None
                await asyncio.sleep(self.delay(attempt))
                attempt += 1
