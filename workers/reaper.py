"""The reaper: finds work whose worker died or whose task got lost, and puts it right.

- A running evaluation whose heartbeat is stale lost its worker: it is re-queued (the new task
  resumes from the stored responses), unless it is past its phase's time budget (then it fails
  with `eval_timeout`) or was already started `max_attempts` times (`internal_error`).
- A submission still `queued` long after upload, or an evaluation still `queued` long after it
  was queued, lost its task (e.g. the broker was down at that moment): the task is sent again;
  builds and evaluations are idempotent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from app.audit.service import record
from app.competitions.models import Phase
from app.config import Settings
from app.kit.db import session_scope, utcnow
from app.notifications import notify_if_finished
from app.queue import BUILD_TASK, EVALUATE_TASK, TaskQueue, enqueue_after_commit
from app.submissions.lifecycle import transition
from app.submissions.models import (
    Evaluation,
    EvaluationStatus,
    FailureReason,
    Submission,
    SubmissionStatus,
)
from workers.flows import effective_settings
from workers.sandbox.runtime import ContainerRuntime

log = logging.getLogger(__name__)

# Queued work nobody took for this long lost its task (e.g. the broker was down); evaluations
# may wait for a free GPU far longer than this, and a duplicate task is harmless.
LOST_TASK_AFTER = timedelta(minutes=30)


@dataclass
class ReapReport:
    requeued: list[str] = field(default_factory=list)
    timed_out: list[str] = field(default_factory=list)
    gave_up: list[str] = field(default_factory=list)
    rebuilt: list[str] = field(default_factory=list)
    pruned_images: list[str] = field(default_factory=list)
    reclaimed_build_leftovers: list[str] = field(default_factory=list)


IMAGE_LABEL = "podium.submission"
# Build leftovers younger than the longest build plus this may belong to a running build (the
# builder's cancel grace, a slow commit of a big layer, clock skew between worker and engine).
BUILD_LEFTOVER_MARGIN = timedelta(minutes=10)


def reap(
    settings: Settings,
    queue: TaskQueue,
    now: datetime | None = None,
    runtime: ContainerRuntime | None = None,
) -> ReapReport:
    now = now or utcnow()
    report = ReapReport()
    if runtime is not None:
        # What builds left behind (untagged layers, step containers) goes once no build can
        # still be using it; then submission images beyond the disk budget go, oldest first
        # (never one in use), counting the leftovers still there. A re-run of a pruned
        # submission rebuilds it.
        report.reclaimed_build_leftovers = runtime.reclaim_build_leftovers(
            _longest_build_s(settings) + BUILD_LEFTOVER_MARGIN.total_seconds()
        )
        report.pruned_images = runtime.prune_images(IMAGE_LABEL, settings.image_disk_budget_bytes)
    stale = now - timedelta(seconds=settings.stale_after_s)
    with session_scope(settings.database_url) as session:
        running = session.scalars(
            select(Evaluation)
            .where(Evaluation.status == EvaluationStatus.running, Evaluation.heartbeat_at < stale)
            .with_for_update(skip_locked=True)
        ).all()
        for evaluation in running:
            submission = session.get(Submission, evaluation.submission_id, with_for_update=True)
            if submission is None or submission.status is not SubmissionStatus.evaluating:
                evaluation.status = EvaluationStatus.cancelled
                continue
            phase = session.get(Phase, submission.phase_id) if submission.phase_id else None
            budget = effective_settings(settings, phase).eval_timeout_s
            started = evaluation.started_at or evaluation.created_at
            if (now - started).total_seconds() > budget:
                _fail(
                    evaluation,
                    submission,
                    FailureReason.eval_timeout,
                    f"the evaluation did not finish within its budget of {budget:.0f}s "
                    "(its worker also stopped responding)",
                )
                report.timed_out.append(evaluation.id)
            elif evaluation.attempts >= settings.max_attempts:
                _fail(
                    evaluation,
                    submission,
                    FailureReason.internal_error,
                    f"the evaluation's worker stopped {evaluation.attempts} times; the "
                    "organizers have been told. This is not your submission's fault.",
                )
                report.gave_up.append(evaluation.id)
            else:
                # Back to queued: the next task claims it at once, and this reaper no longer
                # sees it as running with a stale heartbeat.
                evaluation.status = EvaluationStatus.queued
                evaluation.updated_at = now
                enqueue_after_commit(session, queue, EVALUATE_TASK, evaluation.id)
                report.requeued.append(evaluation.id)
                record(
                    session,
                    None,
                    "requeue",
                    "evaluation",
                    evaluation.id,
                    attempts=evaluation.attempts,
                )
                continue
            record(
                session,
                None,
                "reap",
                "evaluation",
                evaluation.id,
                reason=submission.failure_reason.value if submission.failure_reason else None,
            )
            notify_if_finished(session, queue, submission)
        waiting = session.scalars(
            select(Evaluation).where(
                Evaluation.status == EvaluationStatus.queued,
                Evaluation.updated_at < now - LOST_TASK_AFTER,
            )
        ).all()
        for evaluation in waiting:
            # Queued this long with no worker taking it: its task was lost; send it again.
            evaluation.updated_at = now
            enqueue_after_commit(session, queue, EVALUATE_TASK, evaluation.id)
            report.requeued.append(evaluation.id)
        lost = session.scalars(
            select(Submission).where(
                Submission.status == SubmissionStatus.queued,
                Submission.updated_at < now - LOST_TASK_AFTER,
            )
        ).all()
        for submission in lost:
            submission.updated_at = now
            enqueue_after_commit(session, queue, BUILD_TASK, submission.id)
            report.rebuilt.append(submission.id)
    if any(
        (
            report.requeued,
            report.timed_out,
            report.gave_up,
            report.rebuilt,
            report.pruned_images,
            report.reclaimed_build_leftovers,
        )
    ):
        log.info("reaper: %s", report)
    return report


def _longest_build_s(settings: Settings) -> float:
    """The longest any build may run, over the worker's default and every phase's override."""
    with session_scope(settings.database_url) as session:
        phases = session.scalars(select(Phase)).all()
        timeouts = [effective_settings(settings, phase).build_timeout_s for phase in phases]
    return max([settings.build_timeout_s, *timeouts])


def _fail(
    evaluation: Evaluation, submission: Submission, reason: FailureReason, message: str
) -> None:
    evaluation.status = EvaluationStatus.failed
    evaluation.finished_at = utcnow()
    evaluation.error = f"{reason.value}: {message}"
    transition(submission, SubmissionStatus.failed, reason=reason, message=message)
