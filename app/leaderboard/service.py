"""The leaderboard: each team's best scored submission, highest overall first."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.auth.models import Team
from app.leaderboard.schemas import LeaderboardEntry
from app.submissions.repository import EvaluationRepository, SubmissionRepository


def rank_entries(
    rows: list[tuple[str, str, float | None, dict[str, float]]],
) -> list[LeaderboardEntry]:
    """Rank (team, submission_id, overall, scores) rows: best per team, missing scores last,
    ties share a rank (1, 2, 2, 4)."""
    best: dict[str, tuple[str, str, float | None, dict[str, float]]] = {}
    for row in rows:
        team, _, overall, _ = row
        current = best.get(team)
        if current is None or _key(overall) > _key(current[2]):
            best[team] = row
    ordered = sorted(best.values(), key=lambda r: (-_key(r[2]), r[0]))
    entries: list[LeaderboardEntry] = []
    for position, (team, submission_id, overall, scores) in enumerate(ordered, start=1):
        rank = position
        if entries and entries[-1].overall == overall:
            rank = entries[-1].rank
        entries.append(
            LeaderboardEntry(
                rank=rank, team=team, submission_id=submission_id, overall=overall, scores=scores
            )
        )
    return entries


def _key(overall: float | None) -> float:
    return float("-inf") if overall is None else overall


def leaderboard(session: Session) -> list[LeaderboardEntry]:
    submissions = SubmissionRepository(session).scored()
    evaluations = EvaluationRepository(session).latest_for_many([s.id for s in submissions])
    team_names = {t.id: t.name for t in session.query(Team).all()}
    rows = []
    for submission in submissions:
        evaluation = evaluations.get(submission.id)
        if evaluation is None:
            continue
        rows.append(
            (
                team_names.get(submission.team_id, "?"),
                submission.id,
                evaluation.overall,
                dict(evaluation.scores or {}),
            )
        )
    return rank_entries(rows)
