"""Client for the NeurIPS 2023 LLM Efficiency Challenge protocol (HELM's HTTPModelClient).

    POST /process  {prompt, temperature, num_return_sequences, max_new_tokens, top_p, echo_prompt,
                    top_k_per_token, stop_sequences[, seed]}
                -> {text, tokens: [{text, logprob, top_logprob: {token: logprob}}], logprob,
                    request_time}
    POST /tokenize {text, truncation, max_length} -> {tokens: [int], request_time}
    POST /decode   {tokens} -> {text, request_time}      (optional; many servers lack it)

Tolerated quirks of real servers: no /decode, `top_logprob` missing or spelled `top_logprobs` or not
a mapping (it is never scored), `logprob` / `request_time` missing, extra fields, output not cut at
stop sequences (the evaluator cuts), a slow start (see `wait_ready`), NaN or infinite logprobs
(stored as None).

Not tolerated: answers over the bounds of `evaluator.clients.limits` (body size, tokens beyond
max_new_tokens, overlong text), which are protocol errors naming the limit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from evaluator.clients.base import poll_until_ready, register_protocol
from evaluator.clients.http import JsonHttp, parse_json_object
from evaluator.clients.limits import ResponseLimits, finite_or_none
from evaluator.clients.transport import HttpTransport, SocketFactory
from evaluator.core import Request, RequestResult, Token
from evaluator.errors import DecodeUnsupported, ProtocolError, TransientError

# HELM's HTTPModelClient sends this instead of 0: some servers divide by the temperature.
GREEDY_TEMPERATURE = 1e-7


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _optional_number(obj: dict[str, Any], key: str, where: str) -> float | None:
    """The number at `key`; None when missing, NaN or infinite (see `evaluator.clients.limits`)."""
    value = obj.get(key)
    if value is None:
        return None
    if not _is_number(value):
        raise ProtocolError(f"{where}: '{key}' must be a number, got {type(value).__name__}")
    return finite_or_none(float(value))


def _required_str(obj: dict[str, Any], key: str, where: str) -> str:
    if key not in obj:
        raise ProtocolError(f"{where}: required field '{key}' is missing")
    value = obj[key]
    if not isinstance(value, str):
        raise ProtocolError(f"{where}: '{key}' must be a string, got {type(value).__name__}")
    return value


def _top_logprobs(token: dict[str, Any], keep: int) -> dict[str, float]:
    """The token's alternatives: finite ones only, at most `keep` (never scored, but stored)."""
    raw = token.get("top_logprob", token.get("top_logprobs"))
    if not isinstance(raw, dict):
        return {}
    alternatives: dict[str, float] = {}
    for key, value in raw.items():
        if len(alternatives) >= keep:
            break
        if isinstance(key, str) and _is_number(value) and math.isfinite(value):
            alternatives[key] = float(value)
    return alternatives


def parse_process_response(
    obj: dict[str, Any],
    latency_s: float,
    request: Request,
    limits: ResponseLimits | None = None,
) -> RequestResult:
    """A /process answer to `request` as a RequestResult, or a ProtocolError naming the offending
    field or the bound it exceeds."""
    limits = limits or ResponseLimits()
    where = "POST /process"
    text = _required_str(obj, "text", where)
    limits.check_completion_text(where, request, text)
    raw_tokens = obj.get("tokens")
    if raw_tokens is None:
        raw_tokens = []
    if not isinstance(raw_tokens, list):
        raise ProtocolError(f"{where}: 'tokens' must be a list, got {type(raw_tokens).__name__}")
    limits.check_completion_tokens(where, request, len(raw_tokens))
    keep = limits.alternatives(request)
    tokens: list[Token] = []
    for index, raw in enumerate(raw_tokens):
        token_where = f"{where}: tokens[{index}]"
        if not isinstance(raw, dict):
            raise ProtocolError(f"{token_where} must be an object, got {type(raw).__name__}")
        tokens.append(
            Token(
                text=_required_str(raw, "text", token_where),
                logprob=_optional_number(raw, "logprob", token_where),
                top_logprobs=_top_logprobs(raw, keep),
            )
        )
    limits.check_completion_text(where, request, text, sum(len(t.text) for t in tokens))
    return RequestResult(
        text=text,
        tokens=tuple(tokens),
        logprob=_optional_number(obj, "logprob", where),
        request_time_s=_optional_number(obj, "request_time", where),
        latency_s=latency_s,
    )


def process_payload(request: Request) -> dict[str, Any]:
    """The /process body for `request`, field for field what HELM's HTTPModelClient sends."""
    payload: dict[str, Any] = {
        "prompt": request.prompt,
        "temperature": GREEDY_TEMPERATURE if request.temperature == 0 else request.temperature,
        "num_return_sequences": request.num_completions,
        "max_new_tokens": request.max_tokens,
        "top_p": request.top_p,
        "echo_prompt": request.echo_prompt,
        "top_k_per_token": request.top_k_per_token,
        "stop_sequences": list(request.stop_sequences),
    }
    if request.seed is not None:
        payload["seed"] = request.seed
    return payload


@register_protocol("neurips2023")
class Neurips2023Client:
    """Async client of one neurips2023 server. Safe for many concurrent requests."""

    protocol = "neurips2023"

    def __init__(
        self,
        base_url: str,
        timeout_s: float = 120.0,
        *,
        max_response_bytes: int | None = None,
        limits: ResponseLimits | None = None,
        socket_factory: SocketFactory | None = None,
        transport: HttpTransport | None = None,
    ) -> None:
        """`timeout_s` bounds each request; `limits` each answer (`max_response_bytes`, when
        given, replaces the limits' body cap). `socket_factory` returns a connected socket (e.g.
        opened inside a container's network namespace); `transport` replaces HTTP altogether
        (tests: evaluator.testing.MockTransport)."""
        self.base_url = base_url.rstrip("/")
        self.limits = ResponseLimits.with_body_cap(limits, max_response_bytes)
        self._http = JsonHttp(
            base_url,
            timeout_s=timeout_s,
            max_response_bytes=self.limits.max_response_bytes,
            transport=transport,
            socket_factory=socket_factory,
        )

    def __repr__(self) -> str:
        return f"Neurips2023Client({self.base_url!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Neurips2023Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def tokenize(
        self,
        text: str,
        *,
        truncation: bool = False,
        max_length: int | None = None,
        timeout_s: float | None = None,
    ) -> list[int]:
        payload: dict[str, Any] = {"text": text, "truncation": truncation}
        if max_length is not None:
            payload["max_length"] = max_length
        answer = await self._http.post_json("/tokenize", payload, timeout_s)
        obj = parse_json_object(answer, "/tokenize")
        tokens = obj.get("tokens")
        if not isinstance(tokens, list):
            kind = "missing" if tokens is None else f"a {type(tokens).__name__}"
            raise ProtocolError(f"POST /tokenize: 'tokens' must be a list of integers, got {kind}")
        # type() rather than isinstance: JSON true/false must not pass as token ids. The set of
        # types is computed in C; prompts have thousands of tokens.
        if tokens and set(map(type, tokens)) != {int}:
            index, token = next((i, t) for i, t in enumerate(tokens) if type(t) is not int)
            raise ProtocolError(
                f"POST /tokenize: tokens[{index}] must be an integer, got {type(token).__name__}"
            )
        self.limits.check_tokenize("POST /tokenize", text, len(tokens), truncation, max_length)
        return tokens

    async def decode(self, tokens: list[int], *, timeout_s: float | None = None) -> str:
        try:
            answer = await self._http.post_json("/decode", {"tokens": tokens}, timeout_s)
        except TransientError as exc:
            # Some servers answer an unknown route with 501; that is "no decoder", not an outage.
            if "HTTP 501" in str(exc):
                raise DecodeUnsupported("the server does not implement POST /decode") from None
            raise
        if answer.status in (404, 405):
            raise DecodeUnsupported("the server does not implement POST /decode")
        obj = parse_json_object(answer, "/decode")
        text = _required_str(obj, "text", "POST /decode")
        self.limits.check_decode("POST /decode", len(tokens), text)
        return text

    async def complete(self, request: Request, *, timeout_s: float | None = None) -> RequestResult:
        answer = await self._http.post_json("/process", process_payload(request), timeout_s)
        obj = parse_json_object(answer, "/process")
        return parse_process_response(obj, answer.elapsed_s, request, self.limits)

    async def wait_ready(
        self,
        timeout_s: float = 1200.0,
        poll_s: float = 2.0,
        is_alive: Callable[[], bool] | None = None,
    ) -> float:
        """Poll a tiny /tokenize until the server answers it correctly; seconds waited (see
        `poll_until_ready`: StartTimeout on timeout or when `is_alive` says the server is gone)."""
        return await poll_until_ready(
            lambda timeout: self.tokenize("Hello", timeout_s=timeout),
            "POST /tokenize",
            self.base_url,
            timeout_s,
            poll_s,
            is_alive,
        )
