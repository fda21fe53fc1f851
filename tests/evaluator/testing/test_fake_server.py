"""The fake server's quirk switches do what the runner tests rely on."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from evaluator.testing import FakeModelServer, fake_server


def _post(url: str, body: dict[str, Any]) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


PROCESS = {"prompt": "p", "max_new_tokens": 5, "stop_sequences": ["\n"]}


@pytest.mark.parametrize(("ignore", "expected"), [(False, " 42"), (True, " 42\nnext")])
def test_stop_sequences_respected_or_ignored(ignore: bool, expected: str) -> None:
    with fake_server(answer=lambda prompt: " 42\nnext", ignore_stop_sequences=ignore) as url:
        status, body = _post(f"{url}/process", PROCESS)
    assert status == 200
    answer = json.loads(body)
    assert answer["text"] == expected
    assert "".join(t["text"] for t in answer["tokens"]) == expected


def test_fail_first_then_answer() -> None:
    with FakeModelServer(fail_first=1) as server:
        assert _post(f"{server.base_url}/process", PROCESS)[0] == 503
        assert _post(f"{server.base_url}/process", PROCESS)[0] == 200
        assert server.stats.process_requests == 2


def test_malformed_every_second_answer() -> None:
    with fake_server(malformed_json_every=2) as url:
        json.loads(_post(f"{url}/process", PROCESS)[1])
        with pytest.raises(ValueError):
            json.loads(_post(f"{url}/process", PROCESS)[1])


def test_no_decode_answers_404() -> None:
    with fake_server(decode=False) as url:
        assert _post(f"{url}/decode", {"tokens": [1]})[0] == 404


def test_whitespace_tokenizer_round_trip() -> None:
    with fake_server() as url:
        tokens = json.loads(_post(f"{url}/tokenize", {"text": "a b  a"})[1])["tokens"]
        assert tokens == [0, 1, 0]
        assert json.loads(_post(f"{url}/decode", {"tokens": tokens})[1])["text"] == "a b a"
