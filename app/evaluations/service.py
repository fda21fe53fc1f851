"""Claim, heartbeat, finish, fail, cancel and requeue an evaluation.

Every function takes the caller's session and only flushes; the caller's `session_scope` (or the
request's session) commits. Rows are locked (`with_for_update`) where two workers, a reaper and
an admin may race for the same evaluation.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.evaluations.lifecycle import ACTIVE, transition
from app.kit.db import utcnow
from app.leaderboard.rows import refresh_board_rows
from app.notifications import notify_if_finished
from app.queue import EVALUATE_TASK, TaskQueue, enqueue_after_commit
from app.submissions import lifecycle as submission_lifecycle
from app.submissions.models import (
    Evaluation,
    EvaluationStatus,
    FailureReason,
    Submission,
    SubmissionStatus,
)

log = logging.getLogger(__name__)

E = EvaluationStatus
S = SubmissionStatus


def new_evaluation(
    session: Session, submission: Submission, suite_name: str, queue: TaskQueue, kind: str
) -> Evaluation:
    """A queued evaluation of the submission's image, its task sent once this commits."""
    assert submission.image_id is not None
    evaluation = Evaluation(
        submission_id=submission.id,
        suite_name=suite_name,
        image_id=submission.image_id,
        weights_sha256=submission.weights_sha256,
        kind=kind,
    )
    session.add(evaluation)
    session.flush()
    enqueue_after_commit(session, queue, EVALUATE_TASK, evaluation.id)
    return evaluation


def is_alive(evaluation: Evaluation, stale_after_s: float, now: datetime | None = None) -> bool:
    """Whether a worker showed signs of life for this evaluation within `stale_after_s`."""
    beat = evaluation.heartbeat_at
    return beat is not None and ((now or utcnow()) - beat).total_seconds() < stale_after_s


def claim(
    session: Session, evaluation_id: str, stale_after_s: float
) -> tuple[Evaluation, Submission] | None:
    """Take the evaluation for this worker: `queued` (or `running` on a dead worker) becomes
    `running`, with one more attempt and a fresh heartbeat. None when there is nothing to run:
    it is gone or finished, its submission no longer evaluates (then it is cancelled), or a
    live worker already runs it (a duplicate delivery).

    Database errors propagate: the task must be retried, never acked as if it had run.
    """
    evaluation = session.get(Evaluation, evaluation_id, with_for_update=True)
    if evaluation is None:
        log.warning("evaluate: evaluation %s does not exist", evaluation_id)
        return None
    if evaluation.status not in ACTIVE:
        log.info("evaluate: evaluation %s is already %s", evaluation_id, evaluation.status)
        return None
    submission = session.get(Submission, evaluation.submission_id)
    if submission is None or submission.status is not S.evaluating:
        transition(evaluation, E.cancelled)
        return None
    if evaluation.status is E.running and is_alive(evaluation, stale_after_s):
        # Should that worker die, the reaper re-queues the evaluation once its heartbeat is stale.
        log.info("evaluate: evaluation %s is running elsewhere", evaluation_id)
        return None
    if evaluation.status is E.queued:
        transition(evaluation, E.running)
    now = utcnow()
    evaluation.attempts += 1
    evaluation.started_at = evaluation.started_at or now
    evaluation.heartbeat_at = now
    return evaluation, submission


def heartbeat(session: Session, evaluation_id: str, done: int, total: int) -> bool:
    """Record a running evaluation's progress and its worker's sign of life. True when it, or
    its submission, has been cancelled: the worker must stop."""
    evaluation = session.get(Evaluation, evaluation_id)
    if evaluation is None:
        return False
    evaluation.heartbeat_at = utcnow()
    evaluation.progress_done = done
    evaluation.progress_total = total
    submission = session.get(Submission, evaluation.submission_id)
    return evaluation.status is E.cancelled or (
        submission is not None and submission.status is S.cancelled
    )


def waiting(session: Session, evaluation_id: str) -> None:
    """A worker holds this queued evaluation's task and waits for a free GPU: the reaper must
    not take the task for lost."""
    evaluation = session.get(Evaluation, evaluation_id)
    if evaluation is not None and evaluation.status is E.queued:
        evaluation.heartbeat_at = utcnow()


def starting(session: Session, evaluation_id: str) -> None:
    """A worker holds this running evaluation and waits for the team's server to answer (a
    large model can take many minutes to load): the reaper must not take it for lost."""
    evaluation = session.get(Evaluation, evaluation_id)
    if evaluation is not None and evaluation.status is E.running:
        evaluation.heartbeat_at = utcnow()


def finish(
    session: Session, evaluation_id: str, result: Any, queue: TaskQueue
) -> Evaluation | None:
    """Store a finished run's scores and score its submission. `result` is the evaluator's
    `SuiteResult`. A no-op unless the evaluation is still running (cancelled meanwhile, or a
    twin finished it)."""
    evaluation = session.get(Evaluation, evaluation_id, with_for_update=True)
    if evaluation is None or evaluation.status is not E.running:
        return None
    submission = session.get(Submission, evaluation.submission_id, with_for_update=True)
    assert submission is not None
    transition(evaluation, E.done)
    evaluation.scores = dict(result.scores)
    evaluation.overall = result.overall
    evaluation.result = result.to_json()
    evaluation.efficiency = evaluation.result["efficiency"]
    evaluation.suite_hash = result.suite_hash
    if submission.status is S.evaluating:
        submission_lifecycle.transition(submission, S.scored)
        notify_if_finished(session, queue, submission)
    refresh_board_rows(session, submission.id)
    return evaluation


def fail(
    session: Session,
    evaluation: Evaluation | None,
    submission: Submission,
    reason: FailureReason,
    message: str,
    queue: TaskQueue | None,
) -> None:
    """The one way an evaluation (or a build, `evaluation=None`) fails: the evaluation is marked
    failed with `reason: message`, and its submission fails with the reason and the message the
    team sees. A submission cancelled meanwhile stays cancelled, and so does its evaluation."""
    if submission.status is S.cancelled:
        if evaluation is not None and evaluation.status in ACTIVE:
            transition(evaluation, E.cancelled)
        return
    if evaluation is not None and evaluation.status in ACTIVE:
        transition(evaluation, E.failed)
        evaluation.error = f"{reason.value}: {message}"
    if submission.status not in submission_lifecycle.TERMINAL:
        submission_lifecycle.transition(submission, S.failed, reason=reason, message=message)
        if queue is not None:
            notify_if_finished(session, queue, submission)


def fail_by_id(
    session: Session,
    evaluation_id: str,
    reason: FailureReason,
    message: str,
    queue: TaskQueue,
) -> None:
    evaluation = session.get(Evaluation, evaluation_id, with_for_update=True)
    if evaluation is None:
        return
    submission = session.get(Submission, evaluation.submission_id, with_for_update=True)
    assert submission is not None
    fail(session, evaluation, submission, reason, message, queue)


def cancel(evaluation: Evaluation | None) -> bool:
    """Cancel an evaluation that has not finished; its worker stops at its next heartbeat."""
    if evaluation is None or evaluation.status not in ACTIVE:
        return False
    transition(evaluation, E.cancelled)
    return True


def requeue(
    session: Session, evaluation: Evaluation, queue: TaskQueue, now: datetime | None = None
) -> None:
    """A running evaluation whose worker died goes back to `queued`, and its task is sent again;
    the next worker resumes from the responses stored so far."""
    transition(evaluation, E.queued)
    evaluation.heartbeat_at = None
    evaluation.updated_at = now or utcnow()
    enqueue_after_commit(session, queue, EVALUATE_TASK, evaluation.id)


def resend(
    session: Session, evaluation: Evaluation, queue: TaskQueue, now: datetime | None = None
) -> None:
    """Send a queued evaluation's task again (the first one was lost)."""
    evaluation.updated_at = now or utcnow()
    enqueue_after_commit(session, queue, EVALUATE_TASK, evaluation.id)
