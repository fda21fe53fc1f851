"""Recovery of every non-terminal state, on SQLite and PostgreSQL with the in-memory runtime:
a build whose worker died, a queued submission whose task was lost, a claim that met a database
outage, and the containers a dead worker left behind."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from app.config import Settings
from app.evaluations import builds
from app.evaluations.recovery import KnownTasks
from app.kit.db import session_scope, utcnow
from app.queue import BUILD_TASK, EVALUATE_TASK, CeleryQueue
from app.submissions.models import Evaluation, EvaluationStatus, Submission, SubmissionStatus
from evaluator.testing.fake_server import FakeServerConfig, always
from tests.conftest import REDIS_URL, require
from tests.workers.test_flows import Harness
from workers import broker, flows, tasks
from workers.context import WorkerContext
from workers.reaper import reap
from workers.sandbox.runtime import ContainerSpec
from workers.transient import is_transient

S = SubmissionStatus
E = EvaluationStatus


@pytest.fixture
def harness(settings: Settings) -> Harness:
    return Harness(settings, FakeServerConfig(answer=always(" A")))


def _age_build(settings: Settings, sid: str, seconds: float) -> None:
    with session_scope(settings.database_url) as session:
        session.execute(
            update(Submission)
            .where(Submission.id == sid)
            .values(build_heartbeat_at=utcnow() - timedelta(seconds=seconds))
        )


def _sent(harness: Harness, task: str) -> list[str]:
    return [str(args[0]) for name, args in harness.queue.sent if name == task]


def test_a_build_whose_worker_died_is_rebuilt_and_finishes(harness: Harness) -> None:
    settings = harness.settings
    sid = harness.submission()
    # A worker claims the build, then dies: no heartbeat comes after the claim.
    with session_scope(settings.database_url) as session:
        assert builds.claim_build(session, sid, settings.stale_after_s) is not None
    assert reap(settings, harness.queue).rebuilt == []  # its heartbeat is still fresh
    harness.build(sid)  # a duplicate delivery while the first worker looks alive: left alone
    assert harness.get(sid)[0].status is S.building and harness.runtime.builds == []

    _age_build(settings, sid, settings.stale_after_s + 1)
    report = reap(settings, harness.queue)
    assert report.rebuilt == [sid]
    assert _sent(harness, BUILD_TASK) == [sid]
    assert harness.get(sid)[0].status is S.queued

    harness.build(sid)
    flows.evaluate(harness.ctx, harness.evaluation_id())
    sub, ev = harness.get(sid)
    assert sub.status is S.scored, sub.failure_message
    assert sub.build_attempts == 2 and ev is not None and ev.status is E.done


def test_a_build_whose_workers_keep_dying_fails_as_internal_error(harness: Harness) -> None:
    settings = harness.settings
    sid = harness.submission()
    for _ in range(settings.max_attempts):
        with session_scope(settings.database_url) as session:
            assert builds.claim_build(session, sid, settings.stale_after_s) is not None
        _age_build(settings, sid, settings.stale_after_s + 1)
        report = reap(settings, harness.queue)
    assert report.builds_gave_up == [sid] and report.rebuilt == []
    sub, _ = harness.get(sid)
    assert sub.status is S.failed and sub.failure_reason is not None
    assert sub.failure_reason.value == "internal_error"
    assert "not your submission's fault" in (sub.failure_message or "")


def test_a_build_heartbeats_while_it_runs(harness: Harness, monkeypatch: Any) -> None:
    settings = harness.settings.model_copy(update={"heartbeat_s": 0.05})
    harness.ctx = WorkerContext(settings, harness.runtime, harness.ctx.gpus, harness.queue)
    sid = harness.submission()
    seen: list[Any] = []
    real_build = harness.runtime.build

    def slow_build(spec: Any) -> Any:
        with session_scope(settings.database_url) as session:
            before = session.get(Submission, sid)
            assert before is not None
            first = before.build_heartbeat_at
        time.sleep(0.4)
        with session_scope(settings.database_url) as session:
            after = session.get(Submission, sid)
            assert after is not None
            seen.append((first, after.build_heartbeat_at))
        return real_build(spec)

    monkeypatch.setattr(harness.runtime, "build", slow_build)
    harness.build(sid)
    ((first, later),) = seen
    assert first is not None and later is not None and later > first


def test_a_queued_submission_whose_task_was_lost_is_sent_again(harness: Harness) -> None:
    settings = harness.settings
    sid = harness.submission()
    assert reap(settings, harness.queue).rebuilt == []  # just uploaded: its task may be on its way
    with session_scope(settings.database_url) as session:
        session.execute(
            update(Submission).values(
                updated_at=utcnow() - timedelta(seconds=settings.lost_after_s + 1)
            )
        )
    waiting = KnownTasks(builds=frozenset({sid}))
    assert reap(settings, harness.queue, known=waiting).rebuilt == []  # behind other work
    assert reap(settings, harness.queue, known=KnownTasks()).rebuilt == [sid]
    assert _sent(harness, BUILD_TASK) == [sid]
    assert reap(settings, harness.queue, known=KnownTasks()).rebuilt == []  # sent just now
    harness.build(sid)
    assert harness.get(sid)[0].status is S.evaluating


def test_a_queued_evaluation_whose_task_was_lost_is_sent_again(harness: Harness) -> None:
    settings = harness.settings
    sid = harness.submission()
    harness.build(sid)
    eid = harness.evaluation_id()
    with session_scope(settings.database_url) as session:
        session.execute(
            update(Evaluation).values(
                updated_at=utcnow() - timedelta(seconds=settings.lost_after_s + 1)
            )
        )
    known = KnownTasks(evaluations=frozenset({eid}))
    assert reap(settings, harness.queue, known=known).requeued == []
    assert reap(settings, harness.queue, known=KnownTasks()).requeued == [eid]
    assert _sent(harness, EVALUATE_TASK) == [eid, eid]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_claim_that_meets_a_database_outage_is_retried(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first delivery finds the database unreachable (a real connection refused): the task
    raises, Celery retries it, and the retry runs the evaluation to the end."""
    sid = harness.submission()
    harness.build(sid)
    eid = harness.evaluation_id()
    down = harness.settings.model_copy(
        update={"database_url": f"postgresql+psycopg://podium@127.0.0.1:{_closed_port()}/podium"}
    )
    contexts = iter(
        [WorkerContext(down, harness.runtime, harness.ctx.gpus, harness.queue), harness.ctx]
    )
    monkeypatch.setattr(tasks, "default_context", lambda: next(contexts))
    result = tasks.evaluate.apply(args=[eid])
    assert result.successful(), result.traceback
    sub, ev = harness.get(sid)
    assert sub.status is S.scored, sub.failure_message
    assert ev is not None and ev.status is E.done and ev.attempts == 1
    assert next(contexts, None) is None  # exactly one retry


def test_only_outages_are_transient() -> None:
    import docker.errors
    import kombu.exceptions
    import sqlalchemy.exc

    from workers.sandbox.runtime import SandboxError

    operational = sqlalchemy.exc.OperationalError("select 1", {}, Exception("server closed"))
    assert is_transient(operational)
    assert is_transient(kombu.exceptions.OperationalError("broker gone"))
    engine_500 = docker.errors.APIError("boom", response=None)
    engine_500.response = type("R", (), {"status_code": 500, "reason": "x"})()
    assert is_transient(engine_500)
    wrapped = SandboxError("cannot start")
    wrapped.__cause__ = engine_500
    assert is_transient(wrapped)
    engine_400 = docker.errors.APIError("bad", response=None)
    engine_400.response = type("R", (), {"status_code": 400, "reason": "x"})()
    assert not is_transient(engine_400)
    assert not is_transient(ValueError("a bug"))
    assert not is_transient(sqlalchemy.exc.IntegrityError("insert", {}, Exception("dup")))


def _running_container(harness: Harness, eid: str, name: str, deployment: str | None = None) -> str:
    image = harness.runtime.add_image(f"podium/submission:{name}")
    return harness.runtime.start(
        ContainerSpec(
            image=image.id,
            name=name,
            labels={
                flows.EVALUATION_LABEL: eid,
                flows.DEPLOYMENT_LABEL: deployment or flows.deployment_id(harness.settings),
            },
            memory_bytes=1,
            nano_cpus=1,
            tmpfs_bytes=1,
        )
    )


def test_containers_of_dead_or_finished_evaluations_are_removed(harness: Harness) -> None:
    settings = harness.settings
    ids: dict[str, str] = {}
    for what in ("dead", "live", "done"):
        sid = harness.submission()
        harness.build(sid)
        ids[what] = harness.evaluation_id()
    now = utcnow()
    with session_scope(settings.database_url) as session:
        beats = {"dead": now - timedelta(seconds=settings.stale_after_s + 5), "live": now}
        for what, eid in ids.items():
            ev = session.get(Evaluation, eid)
            assert ev is not None
            ev.status = E.done if what == "done" else E.running
            ev.heartbeat_at = beats.get(what)
            ev.attempts = 1
            ev.started_at = now
    containers = {what: _running_container(harness, eid, what) for what, eid in ids.items()}
    stray = _running_container(harness, "no-such-evaluation", "stray")
    # Another Podium deployment on the same engine: its evaluations are not in this database,
    # and its containers are none of this reaper's business.
    neighbour = _running_container(harness, "theirs", "neighbour", deployment="0123456789abcdef")
    report = reap(settings, harness.queue, runtime=harness.runtime)
    assert report.requeued == [ids["dead"]]
    assert sorted(report.removed_containers) == sorted(
        [containers["dead"], containers["done"], stray]
    )
    assert sorted(harness.runtime.live_containers()) == sorted([containers["live"], neighbour])
    harness.runtime.remove(containers["live"])
    harness.runtime.remove(neighbour)


@pytest.fixture
def redis_queue(settings: Settings) -> Iterator[Settings]:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        require(False, f"Redis at {REDIS_URL}")
    client.flushdb()
    yield settings.model_copy(update={"broker_url": REDIS_URL})
    client.flushdb()
    client.close()


def test_the_broker_lists_the_tasks_waiting_in_redis(redis_queue: Settings) -> None:
    settings = redis_queue
    assert broker.known_tasks(settings) == KnownTasks()
    queue = CeleryQueue(settings)
    queue.send(BUILD_TASK, ["sub-1"])
    queue.send(EVALUATE_TASK, ["ev-1"])
    queue.send(EVALUATE_TASK, ["ev-2"])
    assert broker.known_tasks(settings) == KnownTasks(
        builds=frozenset({"sub-1"}), evaluations=frozenset({"ev-1", "ev-2"})
    )
    down = settings.model_copy(update={"broker_url": f"redis://127.0.0.1:{_closed_port()}/0"})
    assert broker.known_tasks(down) is None
