"""Recovery: every non-terminal state has a way back when its worker or its task is lost.

- `running` evaluation, heartbeat stale: its worker died. Re-queued (the next worker resumes from
  the stored responses) unless past its time budget (`eval_timeout`) or started `max_attempts`
  times (`internal_error`).
- `building` submission, build heartbeat stale: its worker died. Back to `queued` with its task
  sent again, or failed with `internal_error` after `max_attempts` starts.
- `queued` evaluation or submission, untouched for `lost_after_s`, whose task is neither waiting
  in the broker (`KnownTasks`) nor held by a worker (an evaluation waiting for a GPU heart-beats):
  its task was lost (a broker restart without persistence, an enqueue while the broker was down).
  The task is sent again; builds and evaluations are idempotent, so a duplicate is harmless.

"Lost" is read from heartbeats and the broker, so recovery takes seconds, not a fixed delay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.audit.service import record
from app.competitions.models import Phase
from app.config import Settings
from app.evaluations import builds, service
from app.queue import TaskQueue
from app.submissions.models import (
    Evaluation,
    EvaluationStatus,
    FailureReason,
    Submission,
    SubmissionStatus,
)

E = EvaluationStatus
S = SubmissionStatus


@dataclass(frozen=True)
class KnownTasks:
    """The ids whose task is waiting in the broker right now."""

    builds: frozenset[str] = frozenset()
    evaluations: frozenset[str] = frozenset()


@dataclass
class Recovered:
    requeued: list[str] = field(default_factory=list)
    """Evaluations sent again (worker died, or task lost)."""
    timed_out: list[str] = field(default_factory=list)
    gave_up: list[str] = field(default_factory=list)
    rebuilt: list[str] = field(default_factory=list)
    """Submissions whose build task was sent again (worker died, or task lost)."""
    builds_gave_up: list[str] = field(default_factory=list)


BudgetFor = Callable[[Phase | None], float]
"""The evaluation time budget of a phase (the worker's settings with the phase's overrides)."""


def recover(
    session: Session,
    settings: Settings,
    queue: TaskQueue,
    now: datetime,
    budget_for: BudgetFor,
    known: KnownTasks | None = None,
) -> Recovered:
    """`known` None: the broker cannot be inspected; queued work untouched for `lost_after_s`
    is then sent again whatever the broker holds (a duplicate is harmless)."""
    report = Recovered()
    stale = now - timedelta(seconds=settings.stale_after_s)
    _dead_evaluations(session, settings, queue, now, stale, budget_for, report)
    _dead_builds(session, settings, queue, now, stale, report)
    _lost_tasks(session, settings, queue, now, known, report)
    return report


def _dead_evaluations(
    session: Session,
    settings: Settings,
    queue: TaskQueue,
    now: datetime,
    stale: datetime,
    budget_for: BudgetFor,
    report: Recovered,
) -> None:
    running = session.scalars(
        select(Evaluation)
        .where(Evaluation.status == E.running, Evaluation.heartbeat_at < stale)
        .with_for_update(skip_locked=True)
    ).all()
    for evaluation in running:
        submission = session.get(Submission, evaluation.submission_id, with_for_update=True)
        if submission is None or submission.status is not S.evaluating:
            service.cancel(evaluation)
            continue
        phase = session.get(Phase, submission.phase_id) if submission.phase_id else None
        budget = budget_for(phase)
        started = evaluation.started_at or evaluation.created_at
        if (now - started).total_seconds() > budget:
            reason, message = (
                FailureReason.eval_timeout,
                f"the evaluation did not finish within its budget of {budget:.0f}s "
                "(its worker also stopped responding)",
            )
            report.timed_out.append(evaluation.id)
        elif evaluation.attempts >= settings.max_attempts:
            reason, message = (
                FailureReason.internal_error,
                f"the evaluation's worker stopped {evaluation.attempts} times; the "
                "organizers have been told. This is not your submission's fault.",
            )
            report.gave_up.append(evaluation.id)
        else:
            service.requeue(session, evaluation, queue, now)
            report.requeued.append(evaluation.id)
            record(
                session, None, "requeue", "evaluation", evaluation.id, attempts=evaluation.attempts
            )
            continue
        service.fail(session, evaluation, submission, reason, message, queue)
        record(session, None, "reap", "evaluation", evaluation.id, reason=reason.value)


def _dead_builds(
    session: Session,
    settings: Settings,
    queue: TaskQueue,
    now: datetime,
    stale: datetime,
    report: Recovered,
) -> None:
    building = session.scalars(
        select(Submission)
        .where(
            Submission.status == S.building,
            or_(
                Submission.build_heartbeat_at < stale,
                # Claimed before builds heart-beat (an older worker): its last change is its age.
                Submission.build_heartbeat_at.is_(None) & (Submission.updated_at < stale),
            ),
        )
        .with_for_update(skip_locked=True)
    ).all()
    for submission in building:
        if submission.build_attempts >= settings.max_attempts:
            message = (
                f"the worker building this submission stopped {submission.build_attempts} "
                "times; the organizers have been told. This is not your submission's fault."
            )
            service.fail(session, None, submission, FailureReason.internal_error, message, queue)
            report.builds_gave_up.append(submission.id)
            record(session, None, "reap", "submission", submission.id, reason="internal_error")
            continue
        builds.requeue_build(session, submission, queue, now)
        report.rebuilt.append(submission.id)
        record(
            session,
            None,
            "requeue",
            "submission",
            submission.id,
            build_attempts=submission.build_attempts,
        )


def _lost_tasks(
    session: Session,
    settings: Settings,
    queue: TaskQueue,
    now: datetime,
    known: KnownTasks | None,
    report: Recovered,
) -> None:
    untouched = now - timedelta(seconds=settings.lost_after_s)
    waiting = session.scalars(
        select(Evaluation)
        .where(Evaluation.status == E.queued, Evaluation.updated_at < untouched)
        .with_for_update(skip_locked=True)
    ).all()
    for evaluation in waiting:
        # A worker holding the task while it waits for a GPU touches the row every heartbeat
        # (`service.waiting`), so its `updated_at` stays fresh and it is not selected here.
        if known is not None and evaluation.id in known.evaluations:
            continue  # waiting in the broker behind other work
        service.resend(session, evaluation, queue, now)
        report.requeued.append(evaluation.id)
    lost = session.scalars(
        select(Submission)
        .where(Submission.status == S.queued, Submission.updated_at < untouched)
        .with_for_update(skip_locked=True)
    ).all()
    for submission in lost:
        if known is not None and submission.id in known.builds:
            continue
        builds.resend_build(session, submission, queue, now)
        report.rebuilt.append(submission.id)
