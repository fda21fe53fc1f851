"""The neurips2023 client against the fake server and against scripted HTTP answers."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from evaluator import (
    DecodeUnsupported,
    Neurips2023Client,
    ProtocolError,
    Request,
    StartTimeout,
    TransientError,
)
from evaluator.testing import FakeModelServer, MockTransport, always, json_answer
from evaluator.testing.mock_transport import MockHandler

GREEDY = Request(prompt="Question: 1+1?\nAnswer:", temperature=0.0, max_tokens=1, top_k_per_token=5)


def _scripted(handler: MockHandler) -> Neurips2023Client:
    return Neurips2023Client("http://model.invalid", transport=MockTransport(handler))


def test_process_payload_is_what_helm_sends() -> None:
    async def main(url: str) -> None:
        async with Neurips2023Client(url) as client:
            await client.complete(GREEDY)
            await client.complete(
                Request(prompt="p", temperature=0.7, max_tokens=3, seed=11, stop_sequences=("\n",))
            )

    with FakeModelServer() as server:
        asyncio.run(main(server.base_url))
        first, second = server.stats.process_payloads
    assert first == {
        "prompt": GREEDY.prompt,
        "temperature": 1e-7,  # HELM's HTTPModelClient never sends 0
        "num_return_sequences": 1,
        "max_new_tokens": 1,
        "top_p": 1.0,
        "echo_prompt": False,
        "top_k_per_token": 5,
        "stop_sequences": [],
    }
    assert (second["temperature"], second["seed"], second["stop_sequences"]) == (0.7, 11, ["\n"])


@pytest.mark.parametrize("top_key", ["top_logprob", "top_logprobs", ""])
def test_tolerates_top_logprob_spellings_and_missing_optional_fields(top_key: str) -> None:
    async def main(url: str) -> None:
        async with Neurips2023Client(url) as client:
            result = await client.complete(GREEDY)
        assert result.text == " B"
        assert [t.text for t in result.tokens] == [" B"]
        assert (result.logprob, result.request_time_s) == (None, None)
        assert dict(result.tokens[0].top_logprobs) == ({" B": -0.25} if top_key else {})

    with FakeModelServer(
        answer=always(" B"), top_logprob_key=top_key, omit_optional_fields=True
    ) as server:
        asyncio.run(main(server.base_url))


def test_tokenize_and_decode() -> None:
    async def main(url: str) -> None:
        async with Neurips2023Client(url) as client:
            assert await client.tokenize("héllo") == list("héllo".encode())
            assert await client.tokenize("abc", truncation=True, max_length=2) == [97, 98]
            assert await client.decode([104, 105]) == "hi"

    with FakeModelServer(tokenizer="bytes") as server:
        asyncio.run(main(server.base_url))


def test_server_without_decode_raises_decode_unsupported() -> None:
    async def main(url: str) -> None:
        async with Neurips2023Client(url) as client:
            with pytest.raises(DecodeUnsupported):
                await client.decode([1, 2])

    with FakeModelServer(decode=False) as server:
        asyncio.run(main(server.base_url))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"text": " A", "tokens": [{"text"', "returned invalid JSON"),
        (b"[1, 2]", "returned JSON list, expected an object"),
        ({"tokens": []}, "required field 'text' is missing"),
        ({"text": 5}, "'text' must be a string, got int"),
        ({"text": "A", "tokens": "A"}, "'tokens' must be a list, got str"),
        (
            {"text": "A", "tokens": [{"text": "A", "logprob": "high"}]},
            "tokens[0]: 'logprob' must be a number, got str",
        ),
        ({"text": "A", "request_time": True}, "'request_time' must be a number, got bool"),
    ],
)
def test_malformed_process_answers_are_protocol_errors(body: Any, message: str) -> None:
    client = _scripted(json_answer(body))
    with pytest.raises(ProtocolError) as caught:
        asyncio.run(client.complete(GREEDY))
    assert message in str(caught.value)


def test_extra_fields_are_ignored() -> None:
    body = {"text": " C", "tokens": [{"text": " C", "logprob": -1, "id": 3}], "usage": {}}
    result = asyncio.run(_scripted(json_answer(body)).complete(GREEDY))
    assert result.text == " C"


def test_tokenize_with_non_integer_tokens_is_a_protocol_error() -> None:
    client = _scripted(json_answer({"tokens": ["he", "llo"]}))
    with pytest.raises(ProtocolError, match=r"tokens\[0\] must be an integer, got str"):
        asyncio.run(client.tokenize("hello"))


def test_client_errors_are_protocol_errors_and_server_errors_transient() -> None:
    with pytest.raises(ProtocolError, match="HTTP 422"):
        asyncio.run(_scripted(json_answer({"detail": "bad"}, status=422)).complete(GREEDY))
    with pytest.raises(TransientError, match="HTTP 503"):
        asyncio.run(_scripted(json_answer({"detail": "loading"}, status=503)).complete(GREEDY))


def test_connection_refused_is_transient() -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    # Nothing listens on `port` any more.
    with pytest.raises(TransientError, match="POST /process failed"):
        asyncio.run(Neurips2023Client(f"http://127.0.0.1:{port}").complete(GREEDY))


def test_endless_output_is_cut_at_the_byte_limit() -> None:
    async def main(url: str) -> None:
        async with Neurips2023Client(url, max_response_bytes=1 << 20) as client:
            with pytest.raises(ProtocolError, match="more than 1048576 bytes"):
                await client.complete(GREEDY)

    with FakeModelServer(endless_output=True) as server:
        asyncio.run(main(server.base_url))


def test_oversized_declared_length_is_refused_before_reading() -> None:
    async def main(url: str) -> None:
        async with Neurips2023Client(url, max_response_bytes=10) as client:
            with pytest.raises(ProtocolError, match="announced a .*-byte response"):
                await client.complete(GREEDY)

    with FakeModelServer(answer=always("x" * 100)) as server:
        asyncio.run(main(server.base_url))


def test_wait_ready_polls_until_the_server_answers() -> None:
    attempts = 0

    def slow_start(path: str, body: bytes) -> tuple[int, bytes]:
        nonlocal attempts
        attempts += 1
        if attempts < 4:
            raise TransientError("POST /tokenize failed: connection refused")
        assert path == "/tokenize"
        return 200, b'{"tokens": [1], "request_time": 0.0}'

    waited = asyncio.run(_scripted(slow_start).wait_ready(timeout_s=10, poll_s=0.01))
    assert attempts == 4
    assert waited >= 0


def test_wait_ready_times_out_with_the_last_error() -> None:
    def refuse(path: str, body: bytes) -> tuple[int, bytes]:
        raise TransientError("POST /tokenize failed: connection refused")

    with pytest.raises(StartTimeout, match="within 0.2s .*connection refused") as caught:
        asyncio.run(_scripted(refuse).wait_ready(timeout_s=0.2, poll_s=0.05))
    assert not caught.value.exited


def test_wait_ready_stops_when_the_server_exits() -> None:
    def refuse(path: str, body: bytes) -> tuple[int, bytes]:
        raise TransientError("POST /tokenize failed: connection refused")

    with pytest.raises(StartTimeout, match="exited") as caught:
        asyncio.run(_scripted(refuse).wait_ready(timeout_s=60, poll_s=0.01, is_alive=lambda: False))
    assert caught.value.exited


def test_one_client_works_across_event_loops() -> None:
    # The worker waits for readiness in one asyncio.run and evaluates in another.
    with FakeModelServer() as server:
        client = Neurips2023Client(server.base_url)
        asyncio.run(client.wait_ready(timeout_s=5, poll_s=0.05))
        assert asyncio.run(client.complete(GREEDY)).text == " A"
        asyncio.run(client.aclose())
