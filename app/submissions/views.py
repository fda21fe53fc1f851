"""How a submission is shown to a caller: hidden scenarios only for organizers."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.auth.models import Team
from app.auth.service import Principal
from app.competitions.models import Competition, Phase, Track
from app.submissions.models import Submission
from app.submissions.repository import EvaluationRepository
from app.submissions.schemas import SubmissionRead


def hidden_scenarios(session: Session, submission: Submission) -> frozenset[str]:
    phase = session.get(Phase, submission.phase_id) if submission.phase_id else None
    return frozenset(phase.hidden_scenarios) if phase else frozenset()


def where(session: Session, submission: Submission) -> tuple[str | None, str | None, str | None]:
    phase = session.get(Phase, submission.phase_id) if submission.phase_id else None
    track = session.get(Track, submission.track_id) if submission.track_id else None
    competition = session.get(Competition, phase.competition_id) if phase else None
    return (
        competition.slug if competition else None,
        track.slug if track else None,
        phase.slug if phase else None,
    )


def read_model(session: Session, principal: Principal, submission: Submission) -> SubmissionRead:
    team = session.get(Team, submission.team_id)
    evaluation = EvaluationRepository(session).latest_for(submission.id)
    return SubmissionRead.build(
        submission,
        team.name if team else "?",
        evaluation,
        hidden=hidden_scenarios(session, submission),
        show_hidden=principal.can_read_everything,
        where=where(session, submission),
    )
