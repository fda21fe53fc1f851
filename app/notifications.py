"""Webhook notifications: on every terminal status, the competition's webhook (if any) is
called with the submission's id, team, status and scores. Delivery is a Celery task with retries,
enqueued after commit, so a slow or broken receiver never blocks a worker."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.auth.models import Team
from app.competitions.models import Competition, Phase, Track
from app.evaluations import counting
from app.queue import NOTIFY_TASK, TaskQueue, enqueue_after_commit
from app.submissions.lifecycle import TERMINAL
from app.submissions.models import Submission


def payload(session: Session, submission: Submission) -> dict[str, Any]:
    team = session.get(Team, submission.team_id)
    phase = session.get(Phase, submission.phase_id) if submission.phase_id else None
    track = session.get(Track, submission.track_id) if submission.track_id else None
    competition = session.get(Competition, phase.competition_id) if phase else None
    evaluation = counting.current(session, submission.id)
    return {
        "event": "submission.finished",
        "submission_id": submission.id,
        "team": team.name if team else None,
        "competition": competition.slug if competition else None,
        "track": track.slug if track else None,
        "phase": phase.slug if phase else None,
        "status": submission.status.value,
        "failure_reason": submission.failure_reason.value if submission.failure_reason else None,
        "failure_message": submission.failure_message,
        "scores": dict(evaluation.scores or {}) if evaluation else {},
        "overall": evaluation.overall if evaluation else None,
    }


def notify_if_finished(session: Session, queue: TaskQueue, submission: Submission) -> bool:
    """Queue the webhook call for a submission that just reached a terminal status."""
    if submission.status not in TERMINAL or submission.phase_id is None:
        return False
    phase = session.get(Phase, submission.phase_id)
    competition = session.get(Competition, phase.competition_id) if phase else None
    if competition is None or not competition.webhook_url:
        return False
    session.flush()
    enqueue_after_commit(
        session, queue, NOTIFY_TASK, competition.webhook_url, payload(session, submission)
    )
    return True
