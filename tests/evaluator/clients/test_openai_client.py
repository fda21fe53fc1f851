"""The openai (vLLM-style /v1/completions) client: golden payloads, parsing, quirks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from evaluator import (
    DataSource,
    DecodeUnsupported,
    MemoryResponseCache,
    OpenAICompletionsClient,
    ProtocolError,
    Request,
    StartTimeout,
    SuiteResult,
    TransientError,
    get_suite,
    run_suite,
)
from evaluator.testing import FakeModelServer, MockTransport, json_answer
from evaluator.testing.mock_transport import MockHandler

MCJ = Request(prompt="Question: 1+1?\nAnswer:", temperature=0.0, max_tokens=1, top_k_per_token=5)


def _scripted(handler: MockHandler, model: str | None = "m") -> OpenAICompletionsClient:
    return OpenAICompletionsClient(
        "http://model.invalid", model=model, transport=MockTransport(handler)
    )


def test_completions_payload_golden() -> None:
    transport = MockTransport(json_answer({"choices": [{"text": " B", "logprobs": None}]}))
    client = OpenAICompletionsClient(
        "http://model.invalid", model="team/model", transport=transport
    )
    asyncio.run(client.complete(MCJ))
    asyncio.run(
        client.complete(
            Request(prompt="p", temperature=0.5, max_tokens=8, seed=3, stop_sequences=("\n\n",))
        )
    )
    (_, path, first), (_, _, second) = transport.requests
    assert path == "/v1/completions"
    # HELM's legacy-completions request: logprobs = max(top_k_per_token, n); no "stop" when there
    # are no stop sequences (the API refuses an empty list).
    assert first == {
        "model": "team/model",
        "prompt": MCJ.prompt,
        "max_tokens": 1,
        "temperature": 0.0,
        "top_p": 1.0,
        "n": 1,
        "logprobs": 5,
        "echo": False,
    }
    assert (second["stop"], second["seed"], second["temperature"]) == (["\n\n"], 3, 0.5)


def test_parses_text_and_logprobs() -> None:
    body = {
        "choices": [
            {
                "text": " B",
                "logprobs": {
                    "tokens": [" B"],
                    "token_logprobs": [-0.5],
                    "top_logprobs": [{" B": -0.5, " A": -1.5}],
                    "text_offset": [0],
                },
                "finish_reason": "length",
            }
        ],
        "usage": {"completion_tokens": 1},
    }
    result = asyncio.run(_scripted(json_answer(body)).complete(MCJ))
    assert result.text == " B"
    assert result.logprob == -0.5
    assert dict(result.tokens[0].top_logprobs) == {" B": -0.5, " A": -1.5}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"choices": []}, "'choices' must be a non-empty list"),
        ({"choices": [{"text": 1}]}, "choices\\[0\\].text must be a string"),
        (
            {"choices": [{"text": "A", "logprobs": {"tokens": ["A"], "token_logprobs": []}}]},
            "different lengths",
        ),
        ({"object": "error", "message": "too long"}, "'choices' must be a non-empty list"),
    ],
)
def test_malformed_answers_are_protocol_errors(body: Any, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        asyncio.run(_scripted(json_answer(body)).complete(MCJ))


def test_context_overflow_400_is_a_protocol_error_with_the_servers_message() -> None:
    handler = json_answer({"object": "error", "message": "maximum context length is 2048"}, 400)
    with pytest.raises(ProtocolError, match="HTTP 400.*maximum context length"):
        asyncio.run(_scripted(handler).complete(MCJ))


def test_model_name_is_discovered_from_v1_models() -> None:
    def handler(path: str, body: bytes) -> tuple[int, bytes]:
        if path == "/v1/models":
            return 200, b'{"object": "list", "data": [{"id": "served-model"}]}'
        return 200, b'{"tokens": [1, 2, 3]}'

    transport = MockTransport(handler)
    client = OpenAICompletionsClient("http://model.invalid", transport=transport)
    assert asyncio.run(client.tokenize("a b c", truncation=True, max_length=2)) == [1, 2]
    assert transport.requests[-1] == (
        "POST",
        "/tokenize",
        {"model": "served-model", "prompt": "a b c"},
    )


def test_missing_tokenizer_and_detokenizer() -> None:
    handler = json_answer({"detail": "Not Found"}, 404)
    with pytest.raises(ProtocolError, match="needs vLLM's tokenizer endpoint"):
        asyncio.run(_scripted(handler).tokenize("x"))
    with pytest.raises(DecodeUnsupported):
        asyncio.run(_scripted(handler).decode([1]))


def test_wait_ready_polls_v1_models() -> None:
    calls = 0

    def starting(path: str, body: bytes) -> tuple[int, bytes]:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise TransientError("GET /v1/models failed: connection refused")
        return 200, b'{"data": [{"id": "m"}]}'

    asyncio.run(_scripted(starting, model=None).wait_ready(timeout_s=5, poll_s=0.01))
    assert calls == 3
    with pytest.raises(StartTimeout, match="exited"):
        asyncio.run(_scripted(starting, model=None).wait_ready(is_alive=lambda: False))


def test_smoke_suite_over_the_openai_protocol(
    data: DataSource, row_for_prompt: Callable[[str], list[str]]
) -> None:
    async def main(url: str) -> SuiteResult:
        async with OpenAICompletionsClient(url) as client:
            await client.wait_ready(timeout_s=5, poll_s=0.05)
            return await run_suite(get_suite("smoke"), client, MemoryResponseCache(), data)

    answer = lambda prompt: " " + row_for_prompt(prompt)[5]  # noqa: E731
    with FakeModelServer(protocol="openai", answer=answer) as server:
        result = asyncio.run(main(server.base_url))
        assert server.stats.process_requests == 40
        assert {p["model"] for p in server.stats.process_payloads} == {"fake-model"}
    assert result.overall == 1.0
    assert result.errors == 0
    assert all(i.generated_tokens == 1 for i in result.instances)
