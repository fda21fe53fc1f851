"""Admin actions on submissions. Each one is written to the audit log. What they do to an
evaluation (cancel it, add one, pick the run to rescore) is `app.evaluations`' rule."""

from __future__ import annotations

from sqlalchemy.orm import Session

import evaluator
from app.audit.service import record
from app.auth.service import Principal
from app.competitions.models import Phase
from app.competitions.service import suite_for
from app.config import Settings
from app.evaluations import counting
from app.evaluations import service as evaluations
from app.kit.db import utcnow
from app.kit.errors import Conflict, NotFound
from app.leaderboard.rows import refresh_board_rows
from app.notifications import notify_if_finished
from app.queue import BUILD_TASK, TaskQueue, enqueue_after_commit
from app.scenario_data import scenario_source
from app.submissions.lifecycle import TERMINAL, reopen, transition
from app.submissions.models import (
    FRESH_RERUN,
    RERUN,
    RESCORE,
    Evaluation,
    EvaluationStatus,
    Submission,
    SubmissionStatus,
)
from app.submissions.replay import ReplayOnlyClient
from app.submissions.repository import SubmissionRepository
from app.submissions.response_cache import DbResponseCache, cache_scope

S = SubmissionStatus


def _get(session: Session, submission_id: str) -> Submission:
    submission = SubmissionRepository(session).get(submission_id, for_update=True)
    if submission is None:
        raise NotFound(f"no submission {submission_id}")
    return submission


def cancel(
    session: Session,
    actor: Principal,
    submission_id: str,
    reason: str = "",
    queue: TaskQueue | None = None,
) -> Submission:
    """Stop a submission wherever it is; a running container is killed by its worker's next
    heartbeat, which also frees its GPU. Cancelled submissions do not count toward quotas."""
    submission = _get(session, submission_id)
    if submission.status in TERMINAL:
        raise Conflict(f"submission {submission_id} is already {submission.status.value}")
    transition(submission, S.cancelled)
    submission.failure_message = reason or "cancelled by an organizer"
    evaluations.cancel(counting.current(session, submission_id))
    record(session, actor, "cancel", "submission", submission_id, reason=reason)
    if queue is not None:
        notify_if_finished(session, queue, submission)
    return submission


def rerun(
    session: Session,
    settings: Settings,
    queue: TaskQueue,
    actor: Principal,
    submission_id: str,
    suite_name: str | None = None,
    fresh: bool = False,
) -> Submission:
    """Evaluate again with the same image and weights: a new evaluation row, history kept.

    The suite is the one of the last evaluation, at the same version; when its content has
    changed since, the admin must name the suite explicitly to accept the new version.
    """
    submission = _get(session, submission_id)
    last = counting.current(session, submission_id)
    if submission.image_id is None or last is None:
        reopen(submission, S.queued)
        submission.build_attempts = 0
        enqueue_after_commit(session, queue, BUILD_TASK, submission.id)
        record(session, actor, "rerun", "submission", submission_id, rebuild=True)
        refresh_board_rows(session, submission_id)
        return submission
    name = suite_name or last.suite_name
    phase = session.get(Phase, submission.phase_id) if submission.phase_id else None
    try:
        suite = suite_for(name, phase)
    except evaluator.SuiteNotFound as exc:
        raise NotFound(str(exc)) from exc
    if suite_name is None and last.suite_hash and suite.content_hash != last.suite_hash:
        raise Conflict(
            f"suite {name!r} has changed since the last evaluation (content hash "
            f"{last.suite_hash[:12]} -> {suite.content_hash[:12]}); to re-run on the new version, "
            f"name it explicitly (suite={name})"
        )
    reopen(submission, S.evaluating)
    evaluation = evaluations.new_evaluation(
        session, submission, name, queue, FRESH_RERUN if fresh else RERUN
    )
    record(
        session,
        actor,
        "rerun",
        "submission",
        submission_id,
        evaluation=evaluation.id,
        suite=name,
        suite_hash=suite.content_hash,
        fresh=fresh,
    )
    refresh_board_rows(session, submission_id)
    return submission


def rescore(
    session: Session, settings: Settings, actor: Principal, submission_id: str
) -> Evaluation:
    """Recompute scores from the stored responses with the current evaluator (no model call).
    Refused when the stored responses do not cover the current suite: re-run instead."""
    submission = _get(session, submission_id)
    source = counting.rescore_source(session, submission_id)
    if source is None or source.image_id is None:
        raise Conflict(f"submission {submission_id} has no finished evaluation to rescore")
    phase = session.get(Phase, submission.phase_id) if submission.phase_id else None
    suite = suite_for(source.suite_name, phase)
    client = ReplayOnlyClient(phase.protocol if phase else "neurips2023")
    salt = source.id if source.kind == FRESH_RERUN else ""
    cache = DbResponseCache(
        settings.database_url, cache_scope(source.image_id, source.weights_sha256, salt)
    )
    try:
        result = evaluator.run_suite_sync(
            suite,
            client,
            cache,
            scenario_source(settings),
            max_failure_fraction=0.0,
        )
    except evaluator.EvaluationError as exc:
        raise Conflict(
            f"the stored responses do not cover suite {suite.name!r} as it is now "
            f"({client.missing} missing); re-run the submission instead ({exc})"
        ) from exc
    if client.missing or result.errors:
        raise Conflict(
            f"the stored responses do not cover suite {suite.name!r} as it is now "
            f"({client.missing} missing); re-run the submission instead"
        )
    now = utcnow()
    payload = result.to_json()
    evaluation = Evaluation(
        submission_id=submission.id,
        kind=RESCORE,
        status=EvaluationStatus.done,
        suite_name=suite.name,
        suite_hash=result.suite_hash,
        evaluator_version=result.evaluator_version,
        image_id=source.image_id,
        weights_sha256=source.weights_sha256,
        progress_done=source.progress_done,
        progress_total=source.progress_total,
        scores=dict(result.scores),
        overall=result.overall,
        efficiency=source.efficiency,
        result=payload,
        container_log=source.container_log,
        started_at=now,
        finished_at=now,
    )
    session.add(evaluation)
    session.flush()
    record(
        session,
        actor,
        "rescore",
        "submission",
        submission_id,
        evaluation=evaluation.id,
        source=source.id,
        evaluator_version=result.evaluator_version,
        scores=dict(result.scores),
    )
    refresh_board_rows(session, submission_id)
    return evaluation


def set_baseline(
    session: Session, actor: Principal, submission_id: str, baseline: bool
) -> Submission:
    submission = _get(session, submission_id)
    submission.is_baseline = baseline
    record(session, actor, "baseline", "submission", submission_id, baseline=baseline)
    refresh_board_rows(session, submission_id)
    return submission


def disqualify(
    session: Session, actor: Principal, submission_id: str, reason: str | None
) -> Submission:
    """Remove a submission from the leaderboards with a reason its team sees; no reason
    reinstates it."""
    submission = _get(session, submission_id)
    submission.disqualified_reason = reason.strip() if reason and reason.strip() else None
    record(session, actor, "disqualify", "submission", submission_id, reason=reason)
    refresh_board_rows(session, submission_id)
    return submission
