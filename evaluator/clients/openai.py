"""Client for OpenAI-compatible completion servers (`vllm serve`, and others serving
/v1/completions with logprobs).

    POST /v1/completions {model, prompt, max_tokens, temperature, top_p, n, logprobs, echo
                          [, stop][, seed]}
                      -> {choices: [{text, logprobs: {tokens, token_logprobs, top_logprobs}}]}
    GET  /v1/models   -> {data: [{id}]}       (readiness, and the model name when not given)
    POST /tokenize    {model, prompt} -> {tokens}     (vLLM's; needed to fit prompts)
    POST /detokenize  {model, tokens} -> {prompt}     (vLLM's; optional)

The request mirrors HELM's OpenAI legacy-completions client, without `best_of` and the penalties
(vLLM refuses `best_of` > 1 when greedy, and HELM's defaults for the others are the API's).

Answers are bounded as in `evaluator.clients.limits` (body, tokens, text: protocol errors past
them); NaN or infinite logprobs are stored as None.
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
from evaluator.errors import DecodeUnsupported, ProtocolError


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def completions_payload(request: Request, model: str) -> dict[str, Any]:
    """The /v1/completions body for `request`."""
    payload: dict[str, Any] = {
        "model": model,
        "prompt": request.prompt,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "n": request.num_completions,
        # HELM asks for at least as many alternatives as completions.
        "logprobs": max(request.top_k_per_token, request.num_completions),
        "echo": request.echo_prompt,
    }
    if request.stop_sequences:
        # The API refuses an empty list; HELM sends None, we leave the field out.
        payload["stop"] = list(request.stop_sequences)
    if request.seed is not None:
        payload["seed"] = request.seed
    return payload


def _finite_alternatives(top: object, keep: int) -> dict[str, float]:
    if not isinstance(top, dict):
        return {}
    alternatives: dict[str, float] = {}
    for key, value in top.items():
        if len(alternatives) >= keep:
            break
        if isinstance(key, str) and _is_number(value) and math.isfinite(value):
            alternatives[key] = float(value)
    return alternatives


def _tokens(
    logprobs: object, where: str, request: Request, limits: ResponseLimits
) -> tuple[Token, ...]:
    if logprobs is None:
        return ()
    if not isinstance(logprobs, dict):
        raise ProtocolError(f"{where}: 'logprobs' must be an object or null")
    texts = logprobs.get("tokens")
    texts = [] if texts is None else texts
    values = logprobs.get("token_logprobs")
    tops = logprobs.get("top_logprobs")
    # Missing lists are tolerated (servers differ); lists that disagree are not.
    values = [None] * len(texts) if values is None else values
    tops = [None] * len(texts) if tops is None else tops
    if not (isinstance(texts, list) and isinstance(values, list) and isinstance(tops, list)):
        raise ProtocolError(f"{where}: logprobs.tokens/token_logprobs/top_logprobs must be lists")
    limits.check_completion_tokens(where, request, max(len(texts), len(values), len(tops)))
    if not len(texts) == len(values) == len(tops):
        raise ProtocolError(f"{where}: logprobs lists have different lengths")
    keep = limits.alternatives(request)
    tokens: list[Token] = []
    for index, (text, value, top) in enumerate(zip(texts, values, tops, strict=True)):
        if not isinstance(text, str):
            raise ProtocolError(f"{where}: logprobs.tokens[{index}] must be a string")
        if value is not None and not _is_number(value):
            raise ProtocolError(f"{where}: logprobs.token_logprobs[{index}] must be a number")
        logprob = None if value is None else finite_or_none(float(value))
        tokens.append(Token(text, logprob, _finite_alternatives(top, keep)))
    limits.check_completion_text(where, request, "", sum(len(t.text) for t in tokens))
    return tuple(tokens)


def parse_completion_response(
    obj: dict[str, Any],
    latency_s: float,
    request: Request,
    limits: ResponseLimits | None = None,
) -> RequestResult:
    """The first choice of a /v1/completions answer to `request`, or a ProtocolError naming what
    is wrong or the bound it exceeds."""
    limits = limits or ResponseLimits()
    where = "POST /v1/completions"
    choices = obj.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ProtocolError(f"{where}: 'choices' must be a non-empty list of objects")
    choice = choices[0]
    text = choice.get("text")
    if not isinstance(text, str):
        raise ProtocolError(f"{where}: choices[0].text must be a string")
    limits.check_completion_text(where, request, text)
    tokens = _tokens(choice.get("logprobs"), where, request, limits)
    logprobs = [t.logprob for t in tokens]
    total = sum(v for v in logprobs if v is not None) if tokens and None not in logprobs else None
    return RequestResult(text=text, tokens=tokens, logprob=total, latency_s=latency_s)


@register_protocol("openai")
class OpenAICompletionsClient:
    """Async client of one OpenAI-compatible completions server."""

    protocol = "openai"

    def __init__(
        self,
        base_url: str,
        timeout_s: float = 120.0,
        *,
        model: str | None = None,
        max_response_bytes: int | None = None,
        limits: ResponseLimits | None = None,
        socket_factory: SocketFactory | None = None,
        transport: HttpTransport | None = None,
    ) -> None:
        """`model` is sent as the model name; when None, the first id of GET /v1/models.
        `limits` bound each answer (`max_response_bytes`, when given, replaces their body cap)."""
        self.base_url = base_url.rstrip("/")
        self._model = model
        self.limits = ResponseLimits.with_body_cap(limits, max_response_bytes)
        self._http = JsonHttp(
            base_url,
            timeout_s=timeout_s,
            max_response_bytes=self.limits.max_response_bytes,
            transport=transport,
            socket_factory=socket_factory,
        )

    def __repr__(self) -> str:
        return f"OpenAICompletionsClient({self.base_url!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> OpenAICompletionsClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def model(self, timeout_s: float | None = None) -> str:
        """The model name requests use (asked from the server once when not configured)."""
        if self._model is None:
            obj = parse_json_object(
                await self._http.get("/v1/models", timeout_s), "/v1/models", "GET"
            )
            data = obj.get("data")
            if not isinstance(data, list) or not data or not isinstance(data[0], dict):
                raise ProtocolError("GET /v1/models: 'data' must list at least one model")
            model_id = data[0].get("id")
            if not isinstance(model_id, str):
                raise ProtocolError("GET /v1/models: data[0].id must be a string")
            self._model = model_id
        return self._model

    async def tokenize(
        self,
        text: str,
        *,
        truncation: bool = False,
        max_length: int | None = None,
        timeout_s: float | None = None,
    ) -> list[int]:
        payload = {"model": await self.model(timeout_s), "prompt": text}
        answer = await self._http.post_json("/tokenize", payload, timeout_s)
        if answer.status == 404:
            raise ProtocolError(
                "POST /tokenize is missing: the openai protocol needs vLLM's tokenizer endpoint "
                "to fit prompts into the context window"
            )
        tokens = parse_json_object(answer, "/tokenize").get("tokens")
        if not isinstance(tokens, list) or (tokens and set(map(type, tokens)) != {int}):
            raise ProtocolError("POST /tokenize: 'tokens' must be a list of integers")
        # Checked before truncating: the server answers for the whole text.
        self.limits.check_tokenize("POST /tokenize", text, len(tokens), False, None)
        # vLLM's endpoint does not truncate; HELM's truncation keeps the first max_length tokens.
        if truncation and max_length is not None:
            tokens = tokens[:max_length]
        return tokens

    async def decode(self, tokens: list[int], *, timeout_s: float | None = None) -> str:
        payload = {"model": await self.model(timeout_s), "tokens": tokens}
        answer = await self._http.post_json("/detokenize", payload, timeout_s)
        if answer.status in (404, 405):
            raise DecodeUnsupported("the server does not implement POST /detokenize")
        text = parse_json_object(answer, "/detokenize").get("prompt")
        if not isinstance(text, str):
            raise ProtocolError("POST /detokenize: 'prompt' must be a string")
        self.limits.check_decode("POST /detokenize", len(tokens), text)
        return text

    async def complete(self, request: Request, *, timeout_s: float | None = None) -> RequestResult:
        payload = completions_payload(request, await self.model(timeout_s))
        answer = await self._http.post_json("/v1/completions", payload, timeout_s)
        obj = parse_json_object(answer, "/v1/completions")
        return parse_completion_response(obj, answer.elapsed_s, request, self.limits)

    async def wait_ready(
        self,
        timeout_s: float = 1200.0,
        poll_s: float = 2.0,
        is_alive: Callable[[], bool] | None = None,
    ) -> float:
        """Poll GET /v1/models until it lists a model; seconds waited (see `poll_until_ready`)."""
        return await poll_until_ready(
            lambda timeout: self.model(timeout_s=timeout),
            "GET /v1/models",
            self.base_url,
            timeout_s,
            poll_s,
            is_alive,
        )
