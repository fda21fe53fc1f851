"""The runner sends the first run specs' requests while later run specs are still planned.

A gate holds the planning of a later run spec until answers for the first one have been scored:
if the runner planned the whole suite before its first request, the gate would never open and
the test would fail. Real data, the real runner, the fake server over HTTP; `_START_UNITS` is
lowered so the 40-instance smoke suite streams (a suite under 256 units is planned whole
before its first request).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import pytest

import evaluator.runner as runner
from evaluator import (
    DataSource,
    EvaluationError,
    MemoryResponseCache,
    Neurips2023Client,
    Suite,
    SuiteResult,
    get_suite,
    run_suite,
)
from evaluator.core import Instance
from evaluator.errors import ScenarioDataError
from evaluator.scenarios.mmlu import MMLUScenario
from evaluator.testing import FakeModelServer, always

SMOKE_SIZE = 40  # 4 subjects x 10 instances
GATE_TIMEOUT_S = 20.0


class Gate:
    """Holds the load of one MMLU subject until the run has scored `after` instances."""

    def __init__(self, subject: str, after: int, fail: bool = False) -> None:
        self.subject, self.after, self.fail = subject, after, fail
        self.scored = 0
        self.opened = threading.Event()
        self.waited = False

    def progress(self, done: int, total: int) -> None:
        self.scored = done
        if done >= self.after:
            self.opened.set()

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        original = MMLUScenario.load
        gate = self

        def load(self: MMLUScenario, data: DataSource, pins: Mapping[str, str]) -> list[Instance]:
            if self.subject == gate.subject:
                gate.waited = True
                if not gate.opened.wait(GATE_TIMEOUT_S):
                    raise AssertionError(
                        f"{gate.subject} was planned before any answer was scored: "
                        "the runner did not start sending before planning finished"
                    )
                if gate.fail:
                    raise ScenarioDataError(f"{gate.subject}: broken on purpose")
            return original(self, data, pins)

        monkeypatch.setattr(MMLUScenario, "load", load)


def _run(
    server: FakeModelServer,
    data: DataSource,
    suite: Suite | None = None,
    progress: Callable[[int, int], None] | None = None,
    **options: Any,
) -> SuiteResult:
    async def main() -> SuiteResult:
        async with Neurips2023Client(server.base_url) as client:
            return await run_suite(
                suite or get_suite("smoke"),
                client,
                MemoryResponseCache(),
                data,
                progress=progress,
                **options,
            )

    return asyncio.run(main())


@pytest.fixture
def streaming(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "_START_UNITS", 1)


def test_requests_start_before_planning_ends_and_results_do_not_change(
    data: DataSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeModelServer(answer=always(" B")) as server:
        reference = _run(server, data, concurrency=1)
        reference_prompts = list(server.stats.prompts)

    monkeypatch.setattr(runner, "_START_UNITS", 1)
    gate = Gate("computer_security", after=5)
    gate.install(monkeypatch)
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        gate.progress(done, total)

    with FakeModelServer(answer=always(" B")) as server:
        streamed = _run(server, data, progress=progress, concurrency=1)
        streamed_prompts = list(server.stats.prompts)
    assert gate.waited and gate.opened.is_set()
    # Same requests in the same order, same results in the same order.
    assert streamed_prompts == reference_prompts
    assert [(i.run_spec, i.instance_id) for i in streamed.instances] == [
        (i.run_spec, i.instance_id) for i in reference.instances
    ]
    assert streamed.scores == reference.scores
    assert streamed.per_run_spec == reference.per_run_spec
    # Progress: every instance once; the total grows while planning and ends at the suite's.
    assert [done for done, _ in seen] == list(range(SMOKE_SIZE + 1))
    totals = [total for _, total in seen]
    assert totals == sorted(totals) and totals[0] < SMOKE_SIZE and totals[-1] == SMOKE_SIZE


def test_concurrent_streamed_run_matches(
    data: DataSource, monkeypatch: pytest.MonkeyPatch, streaming: None
) -> None:
    gate = Gate("us_foreign_policy", after=3)
    gate.install(monkeypatch)
    with FakeModelServer(answer=always(" C"), latency_s=0.005) as server:
        streamed = _run(server, data, progress=gate.progress, concurrency=8)
        assert server.stats.process_requests == SMOKE_SIZE
    assert gate.waited
    assert len(streamed.instances) == SMOKE_SIZE
    assert [i.run_spec for i in streamed.instances] == sorted(
        (i.run_spec for i in streamed.instances),
        key=[s.name for s in get_suite("smoke").run_specs].index,
    )


def test_failure_policy_waits_for_the_whole_plan(
    data: DataSource, monkeypatch: pytest.MonkeyPatch, streaming: None
) -> None:
    # Every request fails. Planned whole, the run stops after 21 of 40 (more than half is
    # certain). Streamed, the total is not known until the last subject is planned, which the
    # gate holds until 30 have failed: the run stops right then, and sends nothing more.
    gate = Gate("us_foreign_policy", after=30)
    gate.install(monkeypatch)
    with FakeModelServer(fail_first=10_000) as server:
        with pytest.raises(EvaluationError) as caught:
            _run(
                server,
                data,
                progress=gate.progress,
                concurrency=1,
                max_retries=1,
                retry_backoff_s=0.001,
            )
        assert server.stats.process_requests == 30 * 2
    assert "30 of 40 requests failed (run stopped after 30 of 40 finished)" in str(caught.value)
    assert caught.value.reason == "server_unreachable"


def test_a_planning_error_after_the_first_requests_fails_the_run(
    data: DataSource, monkeypatch: pytest.MonkeyPatch, streaming: None
) -> None:
    gate = Gate("computer_security", after=2, fail=True)
    gate.install(monkeypatch)
    with FakeModelServer() as server:
        with pytest.raises(ScenarioDataError, match="broken on purpose"):
            _run(server, data, progress=gate.progress, concurrency=2)
        assert 2 <= server.stats.process_requests < SMOKE_SIZE


@pytest.mark.parametrize("start_units", [1, 256])
def test_an_unpinned_file_fails_before_any_request(
    data: DataSource, monkeypatch: pytest.MonkeyPatch, start_units: int
) -> None:
    monkeypatch.setattr(runner, "_START_UNITS", start_units)
    smoke = get_suite("smoke")
    last = smoke.run_specs[-1]
    broken = replace(last, data_files=tuple(f for f in last.data_files if "/test/" not in f[0]))
    suite = replace(smoke, run_specs=(*smoke.run_specs[:-1], broken))
    with FakeModelServer() as server:
        with pytest.raises(ValueError, match="data files without a sha256 pin"):
            _run(server, data, suite=suite)
        assert server.stats.process_requests == 0
        assert server.stats.tokenize_requests == 0
