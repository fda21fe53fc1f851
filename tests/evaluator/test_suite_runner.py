"""The runner end to end: smoke suite, real data, fake server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from evaluator import (
    DataSource,
    EvaluationError,
    MemoryResponseCache,
    Neurips2023Client,
    ResponseCache,
    SqliteResponseCache,
    Suite,
    SuiteResult,
    get_suite,
    run_suite,
    run_suite_sync,
)
from evaluator.testing import FakeModelServer, always

SMOKE_SIZE = 40  # 4 subjects x 10 instances


def _run(
    server: FakeModelServer,
    data: DataSource,
    cache: ResponseCache | None = None,
    suite: Suite | None = None,
    client_options: dict[str, Any] | None = None,
    **options: Any,
) -> SuiteResult:
    async def main() -> SuiteResult:
        async with Neurips2023Client(server.base_url, **(client_options or {})) as client:
            return await run_suite(
                suite or get_suite("smoke"),
                client,
                MemoryResponseCache() if cache is None else cache,
                data,
                **options,
            )

    return asyncio.run(main())


def test_correct_answers_score_one(
    data: DataSource, row_for_prompt: Callable[[str], list[str]]
) -> None:
    with FakeModelServer(answer=lambda prompt: " " + row_for_prompt(prompt)[5]) as server:
        result = _run(server, data)
    assert result.scores == {"mmlu": 1.0}
    assert result.overall == 1.0
    assert result.errors == 0
    assert all(score.score == 1.0 for score in result.per_run_spec.values())
    assert len(result.instances) == SMOKE_SIZE
    assert result.requests_sent == server.stats.process_requests == SMOKE_SIZE


def test_always_a_scores_the_share_of_gold_a(
    data: DataSource,
    row_for_prompt: Callable[[str], list[str]],
    mmlu_test_rows: set[tuple[str, ...]],
) -> None:
    with FakeModelServer(answer=always(" A")) as server:
        result = _run(server, data)
        prompts = list(server.stats.prompts)
    # Independently of the evaluator: which rows were asked, and is option A's text the gold
    # option's text (HELM compares texts, so a duplicated gold option also counts)?
    hits: dict[str, list[bool]] = {}
    asked: dict[str, list[list[str]]] = {}
    for prompt in prompts:
        subject = prompt.split(" about ", 1)[1].split(".\n", 1)[0].replace(" ", "_")
        row = row_for_prompt(prompt)
        gold_text = row[1 + "ABCD".index(row[5])]
        asked.setdefault(subject, []).append(row)
        if tuple(row) in mmlu_test_rows:  # HELM's main split for MMLU: the score is over test
            hits.setdefault(subject, []).append(row[1] == gold_text)
    assert sorted(hits) == sorted(s.split("=")[1].split(",")[0] for s in result.per_run_spec)
    for name, score in result.per_run_spec.items():
        subject = name.split("=")[1].split(",")[0]
        assert len(asked[subject]) == 10 and 0 < len(hits[subject]) <= 10
        assert score.score == pytest.approx(sum(hits[subject]) / len(hits[subject]))
    expected_overall = sum(sum(h) / len(h) for h in hits.values()) / len(hits)
    assert result.overall == pytest.approx(expected_overall)
    # Not a degenerate draw: some gold answers are A, some are not.
    assert 0 < expected_overall < 1


class Killed(Exception):
    """Stands in for the worker being killed mid-run."""


def test_killed_run_resumes_and_sends_only_the_rest(data: DataSource, tmp_path: Path) -> None:
    cache_path = tmp_path / "responses.sqlite"

    def kill_after_15(done: int, total: int) -> None:
        if done == 15:
            raise Killed

    with FakeModelServer(answer=always(" B")) as first:
        with pytest.raises(Killed):
            _run(
                first, data, SqliteResponseCache(cache_path), concurrency=1, progress=kill_after_15
            )
        first_prompts = set(first.stats.prompts)
    assert len(first_prompts) == 15

    with FakeModelServer(answer=always(" B")) as second:
        resumed = _run(second, data, SqliteResponseCache(cache_path), concurrency=4)
        assert second.stats.process_requests == SMOKE_SIZE - 15
        # The 16th prompt may have been prepared (and its token count cached) before the kill.
        assert second.stats.tokenize_requests in (SMOKE_SIZE - 15, SMOKE_SIZE - 16)
        assert not first_prompts & set(second.stats.prompts)
    assert resumed.requests_sent == SMOKE_SIZE - 15
    assert resumed.efficiency.cached == 15

    with FakeModelServer(answer=always(" B")) as third:
        rerun = _run(third, data, SqliteResponseCache(cache_path))
        assert third.stats.process_requests == 0
        assert third.stats.tokenize_requests == 0
    with FakeModelServer(answer=always(" B")) as fresh:
        reference = _run(fresh, data)
    assert resumed.scores == rerun.scores == reference.scores


class _ProcessDied(BaseException):
    """Not an Exception: nothing in the runner may catch it, as with a killed process."""


def test_kill_during_a_concurrent_run_saves_nothing_after_it(data: DataSource) -> None:
    saved: list[str] = []

    class DyingCache(MemoryResponseCache):
        def put(self, key: str, value: dict[str, Any]) -> None:
            super().put(key, value)
            if "text" in value and "tokens" in value:  # a completion, not a token count
                saved.append(key)
                if len(saved) == 7:
                    raise _ProcessDied

    cache = DyingCache()
    with FakeModelServer(latency_s=0.005) as server:
        with pytest.raises(_ProcessDied):
            _run(server, data, cache, concurrency=16)
    # Answers that arrived while the run was dying were dropped, not saved.
    assert len(saved) == 7
    with FakeModelServer() as server:
        _run(server, data, cache, concurrency=16)
        assert server.stats.process_requests == SMOKE_SIZE - 7


def test_cache_salt_keeps_models_apart(data: DataSource) -> None:
    cache = MemoryResponseCache()
    with FakeModelServer() as server:
        _run(server, data, cache, max_instances=1, cache_salt="image-1")
        _run(server, data, cache, max_instances=1, cache_salt="image-2")
        assert server.stats.process_requests == 8


def test_transient_503s_are_retried(data: DataSource) -> None:
    with FakeModelServer(fail_first=3) as server:
        result = _run(server, data, retry_backoff_s=0.01)
        assert server.stats.process_requests == SMOKE_SIZE + 3
    assert result.errors == 0


def test_malformed_json_is_counted_as_errors_not_retried(data: DataSource) -> None:
    with FakeModelServer(malformed_json_every=4) as server:
        result = _run(server, data, retry_backoff_s=0.01)
        assert server.stats.process_requests == SMOKE_SIZE
    assert result.errors == SMOKE_SIZE // 4
    assert sum(s.errors for s in result.per_run_spec.values()) == result.errors
    failed = [i for i in result.instances if i.error is not None]
    assert all(
        "ProtocolError" in (i.error or "") and "invalid JSON" in (i.error or "") for i in failed
    )
    assert all(not i.correct and i.metrics["exact_match"] == 0.0 for i in failed)


def test_endless_output_is_bounded_and_reported(data: DataSource) -> None:
    with FakeModelServer(endless_output=True) as server:
        with pytest.raises(EvaluationError) as caught:
            _run(server, data, max_instances=1, client_options={"max_response_bytes": 65536})
    message = str(caught.value)
    assert caught.value.reason == "protocol_error"
    # More than half failed after 3 of 4: the policy is already violated, so the run stops.
    assert "3 of 4 requests failed (run stopped after 3 of 4 finished)" in message
    assert "more than 65536 bytes" in message


def test_failure_policy_is_configurable(data: DataSource) -> None:
    with FakeModelServer(endless_output=True) as server:
        result = _run(
            server,
            data,
            max_instances=1,
            max_failure_fraction=1.0,
            client_options={"max_response_bytes": 65536},
        )
    assert result.errors == 4
    assert result.overall == 0.0


def test_too_many_failures_stop_the_run_early(data: DataSource) -> None:
    with FakeModelServer(fail_first=10_000) as server:
        with pytest.raises(EvaluationError) as caught:
            _run(server, data, concurrency=1, max_retries=1, retry_backoff_s=0.001)
        # 21 of 40 failed (> 50%) is decisive; nothing after that was sent.
        assert server.stats.process_requests == 21 * 2
    assert caught.value.reason == "server_unreachable"
    assert "21 of 40 requests failed (run stopped after 21 of 40 finished)" in str(caught.value)
    assert "HTTP 503" in str(caught.value)


def test_requests_are_actually_concurrent(data: DataSource) -> None:
    with FakeModelServer(latency_s=0.05) as server:
        _run(server, data, concurrency=8)
        assert 1 < server.stats.max_in_flight <= 8
    with FakeModelServer(latency_s=0.01) as server:
        _run(server, data, concurrency=1, max_instances=2)
        assert server.stats.max_in_flight == 1


def test_total_budget_raises_eval_timeout(data: DataSource) -> None:
    with FakeModelServer(latency_s=0.2) as server:
        with pytest.raises(EvaluationError) as caught:
            _run(server, data, concurrency=1, total_budget_s=0.3)
    assert caught.value.reason == "eval_timeout"
    assert "total budget of 0.3s" in str(caught.value)


def test_progress_reports_every_instance(data: DataSource) -> None:
    seen: list[tuple[int, int]] = []
    with FakeModelServer() as server:
        _run(server, data, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(i, SMOKE_SIZE) for i in range(SMOKE_SIZE + 1)]


def test_server_ignoring_max_tokens_is_cut_before_scoring(
    data: DataSource, row_for_prompt: Callable[[str], list[str]]
) -> None:
    def chatty(prompt: str) -> str:
        return f" {row_for_prompt(prompt)[5]}\n\nQuestion: and another one?"

    with FakeModelServer(answer=chatty, ignore_max_tokens=True) as server:
        result = _run(server, data)
    assert result.overall == 1.0
    assert all(i.completion is not None and len(i.completion) == 2 for i in result.instances)


def test_small_context_window_drops_examples(data: DataSource) -> None:
    smoke = get_suite("smoke")
    small = replace(smoke, run_specs=tuple(replace(s, context_window=260) for s in smoke.run_specs))
    assert small.content_hash != smoke.content_hash
    with FakeModelServer(tokenizer="whitespace") as server:
        result = _run(server, data, suite=small)
        prompts = server.stats.prompts
    kept = [i.num_train_instances for i in result.instances]
    assert min(kept) < 5
    assert all(len(p.split()) + 1 <= 260 for p in prompts)
    assert sorted(p.count("\nAnswer:") - 1 for p in prompts) == sorted(kept)


def test_sync_wrapper_and_json_result(data: DataSource) -> None:
    with FakeModelServer(answer=always(" C")) as server:
        client = Neurips2023Client(server.base_url)
        result = run_suite_sync(
            get_suite("smoke"), client, MemoryResponseCache(), data, max_instances=2
        )
    payload = json.loads(json.dumps(result.to_json(), allow_nan=False))
    assert payload["suite_name"] == "smoke"
    assert payload["suite_hash"] == get_suite("smoke").content_hash
    assert payload["max_instances"] == 2
    assert len(payload["instances"]) == 8
    assert set(payload["efficiency"]) >= {
        "latency_p50_s",
        "latency_p95_s",
        "total_inference_s",
        "generated_tokens_per_s",
    }
    first = payload["instances"][0]
    assert first["completion"] == " C" and first["gold_label"] in {"A", "B", "C", "D"}


def test_gsm_generation_run_cuts_at_the_blank_line(data: DataSource, scenario_root: Path) -> None:
    from evaluator.suites.pins import DATA_PINS
    from evaluator.suites.run_specs import gsm_run_spec

    gold = {}
    for line in (scenario_root / "gsm8k" / "test.jsonl").read_text().splitlines():
        example = json.loads(line)
        gold[f"\n\nQ: {example['question']}\nA:"] = example["answer"].split("####")[-1].strip()

    def solve(prompt: str) -> str:
        (number,) = [n for block, n in gold.items() if prompt.endswith(block)]
        # A server that ignores stop sequences runs on into a made-up next question.
        return f" Some reasoning. The answer is {number}.\n\nQ: What is 1+1?\nA: 2"

    suite = Suite("gsm-check", "", (gsm_run_spec(DATA_PINS, max_eval_instances=10),))
    with FakeModelServer(answer=solve, ignore_stop_sequences=True) as server:
        result = _run(server, data, suite=suite)
        assert {tuple(p["stop_sequences"]) for p in server.stats.process_payloads} == {("\n\n",)}
    assert result.scores == {"gsm": 1.0}
    assert all(i.completion and not i.completion.endswith("2") for i in result.instances)
