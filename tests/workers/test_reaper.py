"""The reaper: lost workers, spent budgets, repeated deaths, lost build tasks."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from app.config import Settings
from app.kit.db import session_scope, utcnow
from app.queue import BUILD_TASK, EVALUATE_TASK, RecordingQueue
from app.submissions.models import Evaluation, EvaluationStatus, Submission, SubmissionStatus
from tests.app.factories import scored
from workers.reaper import reap


def _running(
    settings: Settings, *, heartbeat_age_s: float, started_age_s: float, attempts: int = 1
) -> tuple[str, str]:
    sid = scored(
        settings, "alpha", None, phase=None, track=None, status=SubmissionStatus.evaluating
    )
    now = utcnow()
    with session_scope(settings.database_url) as session:
        ev = Evaluation(
            submission_id=sid,
            suite_name="smoke",
            status=EvaluationStatus.running,
            image_id="sha256:x",
            attempts=attempts,
            heartbeat_at=now - timedelta(seconds=heartbeat_age_s),
            started_at=now - timedelta(seconds=started_age_s),
        )
        session.add(ev)
        session.flush()
        return sid, ev.id


def _state(settings: Settings, sid: str, eid: str) -> tuple[Submission, Evaluation]:
    with session_scope(settings.database_url) as session:
        sub, ev = session.get(Submission, sid), session.get(Evaluation, eid)
        assert sub is not None and ev is not None
        return sub, ev


def test_live_worker_is_left_alone(settings: Settings) -> None:
    sid, eid = _running(settings, heartbeat_age_s=1, started_age_s=100)
    queue = RecordingQueue()
    report = reap(settings, queue)
    assert report.requeued == [] and queue.sent == []
    assert _state(settings, sid, eid)[0].status is SubmissionStatus.evaluating


def test_dead_worker_is_requeued_once(settings: Settings) -> None:
    sid, eid = _running(settings, heartbeat_age_s=settings.stale_after_s + 5, started_age_s=100)
    queue = RecordingQueue()
    assert reap(settings, queue).requeued == [eid]
    assert queue.sent == [(EVALUATE_TASK, (eid,))]
    assert reap(settings, queue).requeued == []  # queued again now: not sent twice
    sub, ev = _state(settings, sid, eid)
    assert sub.status is SubmissionStatus.evaluating and ev.status is EvaluationStatus.queued


def test_past_budget_fails_with_eval_timeout(settings: Settings) -> None:
    sid, eid = _running(
        settings,
        heartbeat_age_s=settings.stale_after_s + 5,
        started_age_s=settings.eval_timeout_s + 10,
    )
    report = reap(settings, RecordingQueue())
    assert report.timed_out == [eid]
    sub, ev = _state(settings, sid, eid)
    assert sub.status is SubmissionStatus.failed and sub.failure_reason is not None
    assert sub.failure_reason.value == "eval_timeout" and ev.status is EvaluationStatus.failed


def test_worker_dying_again_and_again_gives_up(settings: Settings) -> None:
    sid, eid = _running(
        settings,
        heartbeat_age_s=settings.stale_after_s + 5,
        started_age_s=100,
        attempts=settings.max_attempts,
    )
    assert reap(settings, RecordingQueue()).gave_up == [eid]
    sub, _ = _state(settings, sid, eid)
    assert sub.failure_reason is not None and sub.failure_reason.value == "internal_error"


def test_lost_evaluate_task_is_sent_again(settings: Settings) -> None:
    sid, eid = _running(settings, heartbeat_age_s=0, started_age_s=0)
    with session_scope(settings.database_url) as session:
        session.execute(
            update(Evaluation).values(
                status=EvaluationStatus.queued, updated_at=utcnow() - timedelta(hours=1)
            )
        )
    queue = RecordingQueue()
    assert reap(settings, queue).requeued == [eid]
    assert queue.sent == [(EVALUATE_TASK, (eid,))]
    assert reap(settings, queue).requeued == []


def test_lost_build_task_is_sent_again(settings: Settings) -> None:
    sid = scored(settings, "alpha", None, phase=None, track=None, status=SubmissionStatus.queued)
    queue = RecordingQueue()
    assert reap(settings, queue).rebuilt == []
    with session_scope(settings.database_url) as session:
        session.execute(update(Submission).values(updated_at=utcnow() - timedelta(hours=1)))
    assert reap(settings, queue).rebuilt == [sid]
    assert queue.sent == [(BUILD_TASK, (sid,))]
