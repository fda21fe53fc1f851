"""Bounds on what a model server may answer, so that no answer can exhaust the worker.

A team's server is untrusted: an answer of 320k tokens (4 MiB of JSON) once grew the worker by
gigabytes and the response cache by hundreds of megabytes. Every answer is therefore bounded three
ways before anything is built from it or stored:

- bytes: the HTTP body is capped while it is read (`max_response_bytes`, 1 MiB by default);
- tokens: a completion has at most `max_new_tokens + token_margin` tokens (plus, when the prompt
  is echoed, one per UTF-8 byte of the prompt: a tokenizer never needs more than one token per
  byte, special tokens aside); a /tokenize answer at most one token per UTF-8 byte of the text
  plus the margin (and `max_length + token_margin` when truncating);
- text: a completion has at most `chars_per_token` characters per allowed token, never less than
  `min_text_chars` (plus the prompt when echoed); a /decode answer the same per token decoded.

Past a bound the answer is a ProtocolError whose message names the limit: the server ignored
max_new_tokens or padded its answer, which is the team's defect. The bounds are generous (tokens
of real vocabularies average 3-5 characters, none of the common ones exceeds 128) so that an
honest server never meets them.

Logprobs that are NaN or infinite are not refused but dropped (stored as None): with HELM's greedy
temperature of 1e-7 honest servers do produce -inf for alternatives, logprobs are never scored,
and PostgreSQL's JSON type cannot store such values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from evaluator.core import Request
from evaluator.errors import ProtocolError

DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ResponseLimits:
    """How large an answer of a model server may be (see the module docstring)."""

    # Bytes of one HTTP body, checked while reading.
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    # Tokens allowed beyond max_new_tokens (servers that count EOS or a special token).
    token_margin: int = 16
    # Characters of text allowed per allowed token.
    chars_per_token: int = 32
    # Characters of text always allowed, however few tokens were asked for.
    min_text_chars: int = 4096
    # Alternatives kept per token beyond top_k_per_token (the rest are dropped, never scored).
    alternatives_margin: int = 4

    def __post_init__(self) -> None:
        if self.max_response_bytes < 1:
            raise ValueError("max_response_bytes must be positive")

    @staticmethod
    def with_body_cap(
        limits: ResponseLimits | None, max_response_bytes: int | None
    ) -> ResponseLimits:
        """`limits` (default: the defaults) with its body cap replaced when one is given."""
        base = limits or ResponseLimits()
        if max_response_bytes is None:
            return base
        return replace(base, max_response_bytes=max_response_bytes)

    def completion_tokens(self, request: Request) -> int:
        """Most tokens a completion of `request` may have."""
        echoed = len(request.prompt.encode("utf-8")) if request.echo_prompt else 0
        return request.max_tokens + self.token_margin + echoed

    def completion_chars(self, request: Request) -> int:
        """Most characters a completion of `request` may have."""
        generated = max(
            self.min_text_chars, self.chars_per_token * (request.max_tokens + self.token_margin)
        )
        return generated + (len(request.prompt) if request.echo_prompt else 0)

    def alternatives(self, request: Request) -> int:
        """Most top-logprob alternatives kept per token."""
        return max(request.top_k_per_token, request.num_completions) + self.alternatives_margin

    def check_completion_tokens(self, where: str, request: Request, num_tokens: int) -> None:
        """ProtocolError when a completion of `request` has more tokens than allowed (checked
        before any token is looked at, so a huge list costs nothing more)."""
        allowed = self.completion_tokens(request)
        if num_tokens > allowed:
            raise ProtocolError(
                f"{where}: the answer had {num_tokens} tokens; at most {self._tokens_rule(request)}"
                f" = {allowed} are allowed (does the server ignore max_new_tokens?)"
            )

    def check_completion_text(
        self, where: str, request: Request, text: str, token_chars: int = 0
    ) -> None:
        """ProtocolError when a completion's text, or its tokens' texts together (`token_chars`
        characters), are longer than allowed for `request`."""
        chars = self.completion_chars(request)
        for what, length in (("text", len(text)), ("token texts", token_chars)):
            if length > chars:
                raise ProtocolError(
                    f"{where}: the answer's {what} had {length} characters; at most {chars} are "
                    f"allowed for max_new_tokens = {request.max_tokens} (max({self.min_text_chars}"
                    f", {self.chars_per_token} per token){self._echo_rule(request)})"
                )

    def check_tokenize(
        self, where: str, text: str, num_tokens: int, truncation: bool, max_length: int | None
    ) -> None:
        """ProtocolError when /tokenize returned more tokens than `text` can have."""
        allowed = len(text.encode("utf-8")) + self.token_margin
        rule = f"one per UTF-8 byte of the text + {self.token_margin}"
        if truncation and max_length is not None and max_length + self.token_margin < allowed:
            allowed = max_length + self.token_margin
            rule = f"max_length + {self.token_margin}"
        if num_tokens > allowed:
            raise ProtocolError(
                f"{where}: the answer had {num_tokens} tokens; at most {rule} = {allowed} are "
                "allowed for this text"
            )

    def check_decode(self, where: str, num_tokens: int, text: str) -> None:
        """ProtocolError when /decode turned `num_tokens` tokens into too long a text."""
        allowed = max(self.min_text_chars, self.chars_per_token * num_tokens)
        if len(text) > allowed:
            raise ProtocolError(
                f"{where}: the answer had {len(text)} characters for {num_tokens} tokens; at most "
                f"max({self.min_text_chars}, {self.chars_per_token} per token) = {allowed} are "
                "allowed"
            )

    def _tokens_rule(self, request: Request) -> str:
        rule = f"max_new_tokens + {self.token_margin}"
        if request.echo_prompt:
            rule += " + the echoed prompt's UTF-8 bytes"
        return rule

    @staticmethod
    def _echo_rule(request: Request) -> str:
        return " + the echoed prompt" if request.echo_prompt else ""


def finite_or_none(value: float | None) -> float | None:
    """`value` when it is a finite number, else None (NaN and infinities cannot be stored)."""
    return value if value is not None and math.isfinite(value) else None
