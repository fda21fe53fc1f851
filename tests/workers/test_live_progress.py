"""What a watcher sees while a submission is worked on: `building` before the build runs, the
plan's size before the first request, and progress every second, not every heartbeat. The real
flows on a real database, with the in-memory runtime and a fake model server (test_flows.py)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from app.config import Settings
from app.kit.db import session_scope
from app.submissions.models import Evaluation, Submission, SubmissionStatus
from evaluator.clients.neurips2023 import Neurips2023Client
from evaluator.testing.fake_server import FakeServerConfig
from tests.workers.test_flows import Harness
from workers import flows
from workers.sandbox.runtime import BuildResult, BuildSpec


def _row(settings: Settings, evaluation_id: str) -> tuple[int, int]:
    with session_scope(settings.database_url) as session:
        evaluation = session.get(Evaluation, evaluation_id)
        assert evaluation is not None
        return evaluation.progress_done, evaluation.progress_total


def test_building_is_committed_before_the_build_runs(settings: Settings) -> None:
    harness = Harness(settings, FakeServerConfig())
    sid = harness.submission()
    seen: list[SubmissionStatus] = []
    real_build = harness.runtime.build

    def build(spec: BuildSpec) -> BuildResult:
        # Another connection, as the API reads it: only what is committed is visible.
        with session_scope(settings.database_url) as session:
            row = session.get(Submission, sid)
            assert row is not None
            seen.append(row.status)
        return real_build(spec)

    harness.runtime.build = build  # type: ignore[method-assign]
    harness.build(sid)
    assert seen == [SubmissionStatus.building]
    assert harness.get(sid)[0].status is SubmissionStatus.evaluating


def test_the_total_is_known_before_the_first_request_and_progress_moves_every_second(
    settings: Settings,
) -> None:
    # A heartbeat far longer than the run: whatever moves is the progress writer's doing.
    settings = settings.model_copy(update={"heartbeat_s": 600.0, "eval_concurrency": 1})
    seen: list[tuple[float, int, int]] = []
    evaluation: dict[str, str] = {}
    lock = threading.Lock()

    def answer(_prompt: str) -> str:
        with lock:
            seen.append((time.monotonic(), *_row(settings, evaluation["id"])))
        return " A"

    harness = Harness(settings, FakeServerConfig(answer=answer, latency_s=0.12))
    sid = harness.submission()
    harness.build(sid)
    evaluation["id"] = harness.evaluation_id()
    flows.evaluate(harness.ctx, evaluation["id"])
    sub, ev = harness.get(sid)
    assert sub.status is SubmissionStatus.scored, sub.failure_message
    assert ev is not None and ev.progress_total > 0

    assert seen, "the server was never asked anything"
    first_at, first_done, first_total = seen[0]
    assert (first_done, first_total) == (0, ev.progress_total)  # before the first answer
    late = [done for at, done, _ in seen if at - first_at > 1.6]
    assert late, f"the run took under 1.6 s ({len(seen)} requests): make the server slower"
    assert late[0] > 0  # written within about a second, though no heartbeat ran


def test_a_slow_starting_server_keeps_its_evaluation_alive(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A large model takes minutes to load; its evaluation must not look lost meanwhile (the
    # reaper requeues a running evaluation whose heartbeat is older than stale_after_s).
    settings = settings.model_copy(update={"heartbeat_s": 0.2})
    beats: list[object] = []
    harness = Harness(settings, FakeServerConfig())
    sid = harness.submission()
    harness.build(sid)
    evaluation_id = harness.evaluation_id()
    real_wait = Neurips2023Client.wait_ready

    async def slow_wait(self: Neurips2023Client, **kwargs: Any) -> None:
        for _ in range(6):  # 1.2 s of "loading weights", six heartbeat intervals
            await asyncio.sleep(0.2)
            with session_scope(settings.database_url) as session:
                row = session.get(Evaluation, evaluation_id)
                assert row is not None
                beats.append(row.heartbeat_at)
        await real_wait(self, **kwargs)

    monkeypatch.setattr(Neurips2023Client, "wait_ready", slow_wait)
    flows.evaluate(harness.ctx, evaluation_id)
    assert harness.get(sid)[0].status is SubmissionStatus.scored
    # The heartbeat moved while the server was still starting (no request had been sent yet).
    assert len({b for b in beats if b is not None}) >= 3
