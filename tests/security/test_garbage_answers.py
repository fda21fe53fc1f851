"""A team's model server answering garbage cannot exhaust the worker, crash the cache write, or
inflate its efficiency figures (issue 7, item 6).

The garbage server is the evaluator's fake server in a process of its own (its memory must not be
counted as the worker's), driven by the real clients and runner over real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.kit.db import session_scope
from app.submissions.models import CachedResponse
from app.submissions.response_cache import DbResponseCache
from evaluator import (
    DataSource,
    MemoryResponseCache,
    Neurips2023Client,
    OpenAICompletionsClient,
    ProtocolError,
    Request,
    ResponseCache,
    SuiteResult,
    create_client,
    get_suite,
    run_suite,
)
from tests.conftest import SCENARIO_DATA, require

SMOKE_SIZE = 40  # the smoke suite: 4 MMLU subjects x 10 instances, max_tokens = 1
ONE_MIB = 1024 * 1024
# One padding token as the fake server writes it without alternatives: {"text": "", "logprob": x}
PAD_TOKEN_BYTES = len(json.dumps({"text": "", "logprob": -0.25})) + 2


@pytest.fixture(scope="module")
def data() -> DataSource:
    require((SCENARIO_DATA / "MANIFEST.json").is_file(), f"scenario data at {SCENARIO_DATA}")
    return DataSource(SCENARIO_DATA)


@contextmanager
def garbage_server(**options: Any) -> Iterator[str]:
    """A fake model server in its own process, configured by FakeServerConfig `options`."""
    process = subprocess.Popen(
        [sys.executable, "-m", "evaluator.testing.fake_server", json.dumps(options)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:"), (
            f"the fake server did not start: {base_url}"
        )
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _evaluate(
    base_url: str,
    data: DataSource,
    *,
    protocol: str = "neurips2023",
    cache: ResponseCache | None = None,
    **options: Any,
) -> SuiteResult:
    async def main() -> SuiteResult:
        client = create_client(protocol, base_url, timeout_s=30)
        try:
            return await run_suite(
                get_suite("smoke"),
                client,
                MemoryResponseCache() if cache is None else cache,
                data,
                max_failure_fraction=1.0,
                retry_backoff_s=0.01,
                **options,
            )
        finally:
            await client.aclose()

    return asyncio.run(main())


def _errors(result: SuiteResult) -> list[str]:
    return [i.error or "" for i in result.instances]


def _peak_rss_growth_bytes(run: Any) -> tuple[Any, int]:
    """(run(), how far this process's resident memory peaked above where it started)."""
    status = Path("/proc/self/status")
    require(status.is_file(), "/proc/self/status")

    def read(field: str) -> int:
        line = next(x for x in status.read_text().splitlines() if x.startswith(field + ":"))
        return int(line.split()[1]) * 1024

    # "5" resets the peak (VmHWM) to the current size, so earlier tests' peaks do not count.
    Path("/proc/self/clear_refs").write_text("5")
    before = read("VmRSS")
    value = run()
    return value, read("VmHWM") - before


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_4_mib_answers_are_refused_while_reading_and_memory_stays_flat(
    data: DataSource, framing: str
) -> None:
    # ~4 MiB of padding tokens per answer, as in the review (about 130k tokens here).
    pad_tokens = 4 * ONE_MIB // PAD_TOKEN_BYTES
    with garbage_server(pad_tokens=pad_tokens, top_logprob_key="", body_framing=framing) as url:
        # Warm-up: imports, the suite's data, the event loop machinery are not the answers' cost.
        _evaluate(url, data, max_instances=1)
        result, growth = _peak_rss_growth_bytes(lambda: _evaluate(url, data, concurrency=16))
    # Unbounded, 40 such answers cost the worker gigabytes; bounded, a few MiB in flight.
    assert growth < 100 * ONE_MIB, f"worker memory grew by {growth / ONE_MIB:.0f} MiB"
    assert len(result.instances) == SMOKE_SIZE and result.errors == SMOKE_SIZE
    for error in _errors(result):
        assert error.startswith("ProtocolError: POST /process"), error
        assert "1048576" in error, error
    if framing == "length":
        assert all("announced a" in e for e in _errors(result))
    else:
        assert all("sent more than 1048576 bytes" in e for e in _errors(result))


def test_too_many_tokens_is_a_protocol_error_naming_the_limit(data: DataSource) -> None:
    cache = MemoryResponseCache()
    with garbage_server(pad_tokens=1000) as url:
        result = _evaluate(url, data, cache=cache, max_instances=1)
    assert result.errors == len(result.instances) == 4
    for error in _errors(result):
        assert "POST /process: the answer had 1001 tokens; at most max_new_tokens + 16 = 17 " in (
            error
        ), error
    # Nothing over the bound is stored: the completion entries were never written.
    assert result.requests_sent == 0


def test_overlong_text_is_a_protocol_error_naming_the_limit(data: DataSource) -> None:
    with garbage_server(pad_text_chars=200_000) as url:
        result = _evaluate(url, data, max_instances=1)
    assert result.errors == 4
    for error in _errors(result):
        assert "the answer's text had 200002 characters; at most 4096 are allowed" in error, error


def test_overlong_token_texts_are_a_protocol_error(data: DataSource) -> None:
    with garbage_server(pad_tokens=4, pad_token_text="y" * 50_000) as url:
        result = _evaluate(url, data, max_instances=1)
    assert result.errors == 4
    for error in _errors(result):
        assert "the answer's token texts had 200002 characters; at most 4096" in error, error


def test_openai_protocol_is_bounded_too(data: DataSource) -> None:
    with garbage_server(protocol="openai", pad_tokens=1000) as url:
        result = _evaluate(url, data, protocol="openai", max_instances=1)
    assert result.errors == 4
    for error in _errors(result):
        assert "POST /v1/completions: the answer had 1001 tokens; at most max_new_tokens + 16" in (
            error
        ), error


@pytest.mark.parametrize("protocol", ["neurips2023", "openai"])
def test_padded_tokenize_answer_is_a_protocol_error(data: DataSource, protocol: str) -> None:
    with garbage_server(protocol=protocol, pad_tokenize_tokens=100_000) as url:
        result = _evaluate(url, data, protocol=protocol, max_instances=1)
    assert result.errors == 4
    for error in _errors(result):
        assert "POST /tokenize: the answer had" in error, error
        assert "at most one per UTF-8 byte of the text + 16" in error, error


def test_padded_decode_answer_is_a_protocol_error() -> None:
    async def main(url: str) -> None:
        async with Neurips2023Client(url) as client:
            tokens = await client.tokenize("a few words here")
            with pytest.raises(ProtocolError) as caught:
                await client.decode(tokens)
        assert "POST /decode: the answer had 100016 characters for 4 tokens; at most " in str(
            caught.value
        )
        assert "= 4096 are allowed" in str(caught.value)

    with garbage_server(pad_decode_chars=100_000) as url:
        asyncio.run(main(url))


def test_the_body_cap_is_configurable() -> None:
    async def main(url: str) -> None:
        request = Request(prompt="p", max_tokens=1)
        async with Neurips2023Client(url, max_response_bytes=64 * 1024) as client:
            with pytest.raises(ProtocolError, match="over the 65536-byte limit"):
                await client.complete(request)
        async with Neurips2023Client(url) as client:
            assert (await client.complete(request)).text == " A"

    with garbage_server(pad_body_bytes=100_000) as url:
        asyncio.run(main(url))


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_logprobs_are_stored_as_none_on_postgresql(
    data: DataSource, postgres_url: str, value: str
) -> None:
    scope = uuid.uuid4().hex
    cache = DbResponseCache(postgres_url, scope)
    with garbage_server(token_logprob=value) as url:
        result = _evaluate(url, data, cache=cache, max_instances=1)
    # The answers are fine apart from the logprob, which is never scored: they count.
    assert result.errors == 0 and result.requests_sent == 4
    with session_scope(postgres_url) as session:
        rows = session.scalars(select(CachedResponse).where(CachedResponse.scope == scope)).all()
        values = [row.value for row in rows if "tokens" in row.value]
    assert len(values) == 4
    for stored in values:
        assert stored["logprob"] is None
        assert all(t["logprob"] is None and t["top_logprobs"] == {} for t in stored["tokens"])
    # A re-run restores them from PostgreSQL without asking the server again.
    with garbage_server() as url:
        again = _evaluate(url, data, cache=DbResponseCache(postgres_url, scope), max_instances=1)
    assert again.requests_sent == 0 and again.errors == 0


def test_cache_write_survives_non_finite_numbers_from_any_source(postgres_url: str) -> None:
    # Defence in depth: whatever reaches the cache, strict JSON reaches PostgreSQL.
    scope = uuid.uuid4().hex
    DbResponseCache(postgres_url, scope).put(
        "k", {"a": math.nan, "b": [math.inf, {"c": -math.inf}], "d": 1.5, "e": "nan"}
    )
    restored = DbResponseCache(postgres_url, scope).get("k")
    assert restored == {"a": None, "b": [None, {"c": None}], "d": 1.5, "e": "nan"}


def test_padded_empty_tokens_do_not_inflate_tokens_per_second(data: DataSource) -> None:
    # 16 empty tokens per answer: within the margin, so the answers are accepted; counting the
    # server's list would make 17 tokens of each one-token answer.
    with garbage_server(latency_s=0.02) as url:
        honest = _evaluate(url, data, concurrency=4)
    with garbage_server(latency_s=0.02, pad_tokens=16) as url:
        padded = _evaluate(url, data, concurrency=4)
    assert honest.errors == padded.errors == 0
    assert honest.efficiency.generated_tokens == padded.efficiency.generated_tokens == SMOKE_SIZE
    honest_rate = honest.efficiency.generated_tokens_per_s
    padded_rate = padded.efficiency.generated_tokens_per_s
    assert honest_rate is not None and padded_rate is not None
    assert padded_rate < 1.5 * honest_rate, (padded_rate, honest_rate)
    assert "UTF-8 bytes / 4" in padded.efficiency.token_count_method


def test_openai_completion_client_reports_the_cap_it_uses() -> None:
    client = OpenAICompletionsClient("http://127.0.0.1:9", max_response_bytes=2048)
    assert client.limits.max_response_bytes == 2048
    assert Neurips2023Client("http://127.0.0.1:9").limits.max_response_bytes == ONE_MIB
