"""The build -> run -> evaluate flows with an in-memory container runtime and a fake model server,
on a real database (SQLite and PostgreSQL, schema from the migrations)."""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

import evaluator
from app.auth.service import create_team
from app.config import Settings
from app.kit.db import session_scope, utcnow
from app.queue import EVALUATE_TASK, RecordingQueue
from app.submissions.lifecycle import IllegalTransition, transition
from app.submissions.models import (
    CachedResponse,
    Evaluation,
    EvaluationStatus,
    Submission,
    SubmissionStatus,
)
from app.submissions.storage import Storage
from evaluator.testing.fake_server import FakeModelServer, FakeServerConfig, always
from workers import flows
from workers.context import WorkerContext
from workers.gpus import GpuPool
from workers.sandbox.fake_runtime import FakeRuntime
from workers.sandbox.runtime import ContainerSpec


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


class Harness:
    def __init__(self, settings: Settings, server_config: FakeServerConfig) -> None:
        self.settings = settings
        self.server_config = server_config
        self.servers: list[FakeModelServer] = []
        self.runtime = FakeRuntime(endpoint_factory=self._serve)
        self.queue = RecordingQueue()
        self.ctx = WorkerContext(
            settings, self.runtime, GpuPool([], settings.data_dir / "gpu"), self.queue
        )
        self.on_start: list[str] = []

    @contextlib.contextmanager
    def _serve(self, spec: ContainerSpec) -> Iterator[str]:
        if "crash" in self.on_start:
            self.runtime.crash(spec.name, exit_code=3, logs="Traceback: CUDA not found\n")
            yield _closed_port_url()
            return
        if "hang" in self.on_start:  # the process runs but never listens
            yield _closed_port_url()
            return
        if "oom" in self.on_start:
            self.runtime.oom(spec.name, logs="loading 70B weights\n")
            yield _closed_port_url()
            return
        with FakeModelServer(self.server_config) as server:
            self.servers.append(server)
            yield server.base_url

    def submission(self, dockerfile: str = "FROM scratch\n", weights: bool = True) -> str:
        with session_scope(self.settings.database_url) as session:
            team, _ = create_team(session, f"team-{uuid.uuid4().hex[:12]}")
            sub = Submission(
                team_id=team.id,
                context_sha256="0" * 64,
                weights_sha256="f" * 64 if weights else None,
            )
            session.add(sub)
            session.flush()
            sid = sub.id
        context = Storage(self.settings.data_dir).context_dir(sid)
        context.mkdir(parents=True)
        (context / "Dockerfile").write_text(dockerfile)
        if weights:
            Storage(self.settings.data_dir).weights_dir("f" * 64).mkdir(parents=True, exist_ok=True)
        return sid

    def build(self, sid: str) -> None:
        flows.build_submission(self.ctx, sid)

    def evaluation_id(self) -> str:
        assert self.queue.sent and self.queue.sent[-1][0] == EVALUATE_TASK
        return str(self.queue.sent[-1][1][0])

    def get(self, sid: str) -> tuple[Submission, Evaluation | None]:
        with session_scope(self.settings.database_url) as session:
            sub = session.get(Submission, sid)
            assert sub is not None
            ev = session.query(Evaluation).filter_by(submission_id=sid).first()
            return sub, ev


@pytest.fixture
def harness(settings: Settings) -> Harness:
    return Harness(settings, FakeServerConfig(answer=always(" A")))


def test_golden_path_scores_and_cleans_up(harness: Harness) -> None:
    sid = harness.submission()
    harness.build(sid)
    sub, ev = harness.get(sid)
    assert sub.status is SubmissionStatus.evaluating and sub.image_id
    assert ev is not None and ev.status is EvaluationStatus.queued
    flows.evaluate(harness.ctx, harness.evaluation_id())
    sub, ev = harness.get(sid)
    assert sub.status is SubmissionStatus.scored, sub.failure_message
    assert ev is not None and ev.status is EvaluationStatus.done
    assert set(ev.scores or {}) == {"mmlu"}
    assert ev.progress_done == ev.progress_total > 0
    assert ev.suite_hash == evaluator.get_suite("smoke").content_hash
    assert ev.evaluator_version == evaluator.EVALUATOR_VERSION
    assert ev.efficiency is not None and ev.result is not None
    # The server always answers " A": per run spec, the score is the share of gold "A" among
    # its test-split instances (HELM's main split for MMLU); the scenario's, their mean.
    assert ev.scores is not None
    per_spec: dict[str, list[bool]] = {}
    for i in ev.result["instances"]:
        if i["split"] == "test":
            per_spec.setdefault(i["run_spec"], []).append(i["gold_label"] == "A")
    share_a = sum(sum(h) / len(h) for h in per_spec.values()) / len(per_spec)
    assert 0 < share_a < 1
    assert ev.scores["mmlu"] == pytest.approx(share_a)
    spec = harness.runtime.started[0]
    assert spec.weights_dir == Storage(harness.settings.data_dir).weights_dir("f" * 64)
    assert list(spec.gpus) == [] and spec.memory_bytes == harness.settings.container_memory_bytes
    assert harness.runtime.live_containers() == []


def test_gpu_assignment_reaches_the_container(harness: Harness, tmp_path: Path) -> None:
    harness.ctx = WorkerContext(
        harness.settings, harness.runtime, GpuPool(["3", "5"], tmp_path), harness.queue
    )
    sid = harness.submission()
    harness.build(sid)
    flows.evaluate(harness.ctx, harness.evaluation_id())
    assert list(harness.runtime.started[0].gpus) in (["3"], ["5"])
    _, ev = harness.get(sid)
    assert ev is not None and ev.gpu_ids in ("3", "5")


@pytest.mark.parametrize(
    ("marker", "reason"),
    [("# fake: build-fail", "build_failed"), ("# fake: build-timeout", "build_timeout")],
)
def test_build_failures(harness: Harness, marker: str, reason: str) -> None:
    sid = harness.submission(dockerfile=f"FROM scratch\n{marker}\n")
    harness.build(sid)
    sub, ev = harness.get(sid)
    assert sub.status is SubmissionStatus.failed
    assert sub.failure_reason is not None and sub.failure_reason.value == reason
    assert sub.failure_message and sub.build_log
    assert ev is None and harness.queue.sent == []


@pytest.mark.parametrize(
    ("behaviour", "reason", "words"),
    [
        ("crash", "crashed", "exit code 3"),
        ("oom", "oom", "ran out of memory"),
    ],
)
def test_server_dying_at_start(harness: Harness, behaviour: str, reason: str, words: str) -> None:
    harness.on_start.append(behaviour)
    sid = harness.submission()
    harness.build(sid)
    flows.evaluate(harness.ctx, harness.evaluation_id())
    sub, ev = harness.get(sid)
    assert sub.status is SubmissionStatus.failed
    assert sub.failure_reason is not None and sub.failure_reason.value == reason
    assert words in (sub.failure_message or "")
    assert ev is not None and ev.status is EvaluationStatus.failed
    assert ev.container_log  # the server's last output is kept for the team
    assert harness.runtime.live_containers() == []


def test_garbage_answers_are_a_protocol_error(settings: Settings) -> None:
    harness = Harness(settings, FakeServerConfig(malformed_json_every=1))
    sid = harness.submission()
    harness.build(sid)
    flows.evaluate(harness.ctx, harness.evaluation_id())
    sub, _ = harness.get(sid)
    assert sub.status is SubmissionStatus.failed
    assert sub.failure_reason is not None and sub.failure_reason.value == "protocol_error"
    assert harness.runtime.live_containers() == []


def test_redelivered_tasks_are_harmless(harness: Harness) -> None:
    sid = harness.submission()
    harness.build(sid)
    eval_id = harness.evaluation_id()
    flows.evaluate(harness.ctx, eval_id)
    builds, starts = len(harness.runtime.builds), len(harness.runtime.started)
    harness.build(sid)  # redelivered build of a scored submission: nothing happens
    flows.evaluate(harness.ctx, eval_id)  # redelivered evaluation: nothing happens
    sub, _ = harness.get(sid)
    assert sub.status is SubmissionStatus.scored
    assert (len(harness.runtime.builds), len(harness.runtime.started)) == (builds, starts)
    with pytest.raises(IllegalTransition):
        transition(sub, SubmissionStatus.evaluating)


class _WorkerKilled(BaseException):
    """Stands in for the worker process dying: not an Exception, so no handler catches it."""


def test_killed_worker_resumes_from_saved_responses(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = harness.submission()
    harness.build(sid)
    eval_id = harness.evaluation_id()

    completions_saved = 0

    class DyingCache(flows.DbResponseCache):
        def put(self, key: str, value: dict[str, object]) -> None:
            nonlocal completions_saved
            super().put(key, value)
            if "latency_s" in value:  # a completion, not a token count or a decoded text
                completions_saved += 1
                if completions_saved == 7:
                    raise _WorkerKilled

    monkeypatch.setattr(flows, "DbResponseCache", DyingCache)
    with pytest.raises(_WorkerKilled):
        flows.evaluate(harness.ctx, eval_id)
    sub, ev = harness.get(sid)
    assert sub.status is SubmissionStatus.evaluating
    assert ev is not None and ev.status is EvaluationStatus.running
    with session_scope(harness.settings.database_url) as session:
        rows = session.query(CachedResponse).all()
        saved = sum("latency_s" in row.value for row in rows)
    assert saved == 7
    first_server_requests = harness.servers[0].stats.process_requests

    monkeypatch.undo()
    # A redelivered task takes over once the dead worker's heartbeat is stale.
    flows.evaluate(harness.ctx, eval_id)
    assert harness.get(sid)[0].status is SubmissionStatus.evaluating  # too early: left alone
    with session_scope(harness.settings.database_url) as session:
        stale = utcnow() - timedelta(seconds=harness.settings.stale_after_s + 1)
        session.execute(update(Evaluation).values(heartbeat_at=stale))
    flows.evaluate(harness.ctx, eval_id)  # the redelivered task
    sub, ev = harness.get(sid)
    assert sub.status is SubmissionStatus.scored
    assert ev is not None and ev.attempts == 2
    total = ev.progress_total
    second = harness.servers[1].stats.process_requests
    assert second == total - saved  # only what was not saved is asked again
    assert first_server_requests >= saved
    assert harness.runtime.live_containers() == []


def test_slow_server_runs_out_of_the_time_budget(settings: Settings) -> None:
    slow = settings.model_copy(update={"eval_timeout_s": 0.5, "eval_concurrency": 2})
    harness = Harness(slow, FakeServerConfig(latency_s=0.2))
    sid = harness.submission()
    harness.build(sid)
    flows.evaluate(harness.ctx, harness.evaluation_id())
    sub, ev = harness.get(sid)
    assert sub.status is SubmissionStatus.failed
    assert sub.failure_reason is not None and sub.failure_reason.value == "eval_timeout"
    assert ev is not None and ev.status is EvaluationStatus.failed
    assert harness.runtime.live_containers() == []
