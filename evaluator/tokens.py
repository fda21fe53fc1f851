"""Token counting and truncation through the model server, cached like completions.

Window fitting needs the server's own tokenizer (models disagree on token counts). Each answer is
stored in the response cache, so a resumed run asks the server nothing it already answered.
"""

from __future__ import annotations

from typing import Any

from evaluator.cache import ResponseCache, tokenize_key
from evaluator.clients.base import ModelClient
from evaluator.errors import DecodeUnsupported
from evaluator.retry import RetryPolicy


class ServerTokenCounter:
    """`TokenCounter` backed by a server's /tokenize (and /decode, when it has one)."""

    def __init__(
        self,
        client: ModelClient,
        cache: ResponseCache,
        *,
        max_length: int,
        salt: str = "",
        retry: RetryPolicy | None = None,
        timeout_s: float | None = None,
    ) -> None:
        self._client = client
        self._cache = cache
        # HELM sends the window size as max_length with truncation off when counting.
        self._max_length = max_length
        self._salt = salt
        self._retry = retry or RetryPolicy()
        self._timeout_s = timeout_s
        self._decode_supported = True
        # Tokenizer requests actually sent (cache misses), for the run's bookkeeping.
        self.requests_sent = 0

    def _cached(self, key: str) -> dict[str, Any] | None:
        return self._cache.get(key)

    async def num_tokens(self, text: str) -> int:
        key = tokenize_key(self._client.protocol, text, False, self._max_length, self._salt)
        cached = self._cached(key)
        if cached is not None and isinstance(cached.get("num_tokens"), int):
            return int(cached["num_tokens"])
        tokens = await self._retry.run(
            lambda: self._client.tokenize(
                text, truncation=False, max_length=self._max_length, timeout_s=self._timeout_s
            )
        )
        self.requests_sent += 1
        self._cache.put(key, {"num_tokens": len(tokens)})
        return len(tokens)

    async def truncate_tokens(self, text: str, max_length: int) -> str | None:
        key = tokenize_key(self._client.protocol, text, True, max_length, self._salt)
        cached = self._cached(key)
        if cached is not None and "text" in cached:
            value = cached["text"]
            return value if isinstance(value, str) else None
        if not self._decode_supported:
            return None
        tokens = await self._retry.run(
            lambda: self._client.tokenize(
                text, truncation=True, max_length=max_length, timeout_s=self._timeout_s
            )
        )
        self.requests_sent += 1
        try:
            decoded: str | None = await self._retry.run(
                lambda: self._client.decode(tokens, timeout_s=self._timeout_s)
            )
        except DecodeUnsupported:
            self._decode_supported = False
            decoded = None
        self._cache.put(key, {"text": decoded})
        return decoded
