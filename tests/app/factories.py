"""Rows for tests, written the way the service writes them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from app.auth.models import Team
from app.competitions.config import CompetitionConfig
from app.competitions.models import Phase, Track
from app.competitions.service import apply_competition
from app.config import Settings
from app.kit.db import session_scope, utcnow
from app.leaderboard.rows import refresh_board_rows
from app.submissions.models import Evaluation, EvaluationStatus, Submission, SubmissionStatus


def competition(
    settings: Settings, phases: list[dict[str, Any]], tracks: tuple[str, ...] = ("main",)
) -> None:
    now = utcnow()
    for i, phase in enumerate(phases):
        phase.setdefault("suite", "smoke")
        phase.setdefault("opens_at", now - timedelta(days=10 - i))
        phase.setdefault("closes_at", now + timedelta(days=10 + i))
    config = CompetitionConfig.model_validate(
        {"slug": "comp", "tracks": [{"slug": t} for t in tracks], "phases": phases}
    )
    with session_scope(settings.database_url) as session:
        apply_competition(session, config)


def scored(
    settings: Settings,
    team: str,
    scores: dict[str, float] | None,
    *,
    phase: str | None = "open",
    track: str | None = "main",
    created_at: datetime | None = None,
    baseline: bool = False,
    disqualified: str | None = None,
    status: SubmissionStatus = SubmissionStatus.scored,
    result: dict[str, Any] | None = None,
) -> str:
    with session_scope(settings.database_url) as session:
        team_row = session.query(Team).filter_by(name=team).one_or_none()
        if team_row is None:
            team_row = Team(name=team)
            session.add(team_row)
            session.flush()
        phase_row = session.query(Phase).filter_by(slug=phase).one() if phase else None
        track_row = session.query(Track).filter_by(slug=track).one() if track else None
        sub = Submission(
            team_id=team_row.id,
            context_sha256="0" * 64,
            status=status,
            phase_id=phase_row.id if phase_row else None,
            track_id=track_row.id if track_row else None,
            is_baseline=baseline,
            disqualified_reason=disqualified,
            image_id="sha256:" + "1" * 64,
            created_at=created_at or utcnow(),
        )
        session.add(sub)
        session.flush()
        if scores is not None:
            values = list(scores.values())
            session.add(
                Evaluation(
                    submission_id=sub.id,
                    suite_name="smoke",
                    status=EvaluationStatus.done,
                    image_id=sub.image_id,
                    scores=scores,
                    overall=sum(values) / len(values) if values else None,
                    efficiency={"latency_p50_s": 0.5, "generated_tokens_per_s": 42.0},
                    result=result,
                    created_at=created_at or utcnow(),
                )
            )
        refresh_board_rows(session, sub.id)
        return sub.id
