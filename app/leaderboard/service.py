"""Leaderboards per competition, track and phase, ranked by the evaluator's scoring functions.

- One entry per team: its best (by mean of the shown scenario scores) or latest scored
  submission, per the phase's entry rule; disqualified submissions never appear.
- Baselines are listed, marked, and not ranked against teams (they are not in the pool).
- Hidden scenarios are left out unless the caller may see them.
- `phase="overall"` combines the phases, weighted by their `weight`, in the competition's last
  phase's mode (the challenge: win rates, open 1/3 + hidden 2/3).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import Team
from app.competitions.models import Competition, EntryRule, LeaderboardMode, Phase, Track
from app.competitions.repository import CompetitionRepository, PhaseRepository, TrackRepository
from app.kit.db import utcnow
from app.kit.errors import BadRequest, NotFound
from app.leaderboard.schemas import Leaderboard, LeaderboardEntry
from app.submissions.models import Evaluation, EvaluationStatus, Submission, SubmissionStatus
from evaluator.scoring import Entry, Stage, rank_stages

OVERALL = "overall"


@dataclass(frozen=True)
class _Candidate:
    team_id: str
    team: str
    submission: Submission
    evaluation: Evaluation
    scores: dict[str, float]

    @property
    def mean(self) -> float:
        return sum(self.scores.values()) / len(self.scores) if self.scores else float("-inf")


def _candidates(
    session: Session, phase_id: str | None, track_id: str | None, hidden: frozenset[str]
) -> list[_Candidate]:
    stmt = select(Submission).where(
        Submission.status == SubmissionStatus.scored, Submission.disqualified_reason.is_(None)
    )
    stmt = stmt.where(
        Submission.phase_id.is_(None) if phase_id is None else Submission.phase_id == phase_id
    )
    if track_id is not None:
        stmt = stmt.where(Submission.track_id == track_id)
    submissions = list(session.scalars(stmt))
    evaluations = _latest_done(session, [s.id for s in submissions])
    teams = {t.id: t.name for t in session.scalars(select(Team))}
    out = []
    for submission in submissions:
        evaluation = evaluations.get(submission.id)
        if evaluation is None or evaluation.scores is None:
            continue
        scores = {k: float(v) for k, v in evaluation.scores.items() if k not in hidden}
        out.append(
            _Candidate(
                submission.team_id,
                teams.get(submission.team_id, "?"),
                submission,
                evaluation,
                scores,
            )
        )
    return out


def _latest_done(session: Session, ids: Sequence[str]) -> dict[str, Evaluation]:
    latest: dict[str, Evaluation] = {}
    if not ids:
        return latest
    stmt = (
        select(Evaluation)
        .where(Evaluation.submission_id.in_(ids), Evaluation.status == EvaluationStatus.done)
        .order_by(Evaluation.created_at)
    )
    for evaluation in session.scalars(stmt):
        latest[evaluation.submission_id] = evaluation
    return latest


def _pick(candidates: list[_Candidate], rule: EntryRule) -> list[_Candidate]:
    """One per team (and each baseline on its own)."""
    chosen: dict[str, _Candidate] = {}
    for c in candidates:
        key = f"baseline:{c.submission.id}" if c.submission.is_baseline else c.team_id
        current = chosen.get(key)
        if current is None:
            chosen[key] = c
        elif rule is EntryRule.latest:
            if c.submission.created_at > current.submission.created_at:
                chosen[key] = c
        elif c.mean > current.mean:
            chosen[key] = c
    return list(chosen.values())


def _entry_id(c: _Candidate) -> str:
    return f"baseline:{c.submission.id}" if c.submission.is_baseline else c.team_id


def _resolve(
    session: Session, competition_slug: str | None, track_slug: str | None, phase_slug: str | None
) -> tuple[Competition | None, list[Track], Track | None, list[Phase], Phase | None]:
    repo = CompetitionRepository(session)
    competitions = list(repo.all_by_slug())
    if not competitions and not competition_slug:
        return None, [], None, [], None
    if competition_slug:
        competition = repo.by_slug(competition_slug)
        if competition is None:
            raise NotFound(f"no competition {competition_slug!r}")
    elif len(competitions) == 1:
        competition = competitions[0]
    else:
        raise BadRequest(
            "name the competition (?competition=...): " + ", ".join(c.slug for c in competitions)
        )
    tracks = list(TrackRepository(session).for_competition(competition.id))
    phases = list(PhaseRepository(session).for_competition(competition.id))
    track = tracks[0] if tracks else None
    if track_slug:
        track = next((t for t in tracks if t.slug == track_slug), None)
        if track is None:
            raise NotFound(f"{competition.slug!r} has no track {track_slug!r}")
    phase: Phase | None
    if phase_slug == OVERALL:
        phase = None
    elif phase_slug:
        phase = next((p for p in phases if p.slug == phase_slug), None)
        if phase is None:
            raise NotFound(f"{competition.slug!r} has no phase {phase_slug!r}")
    else:
        now = utcnow()
        started = [p for p in phases if p.opens_at is None or p.opens_at <= now]
        phase = started[-1] if started else (phases[0] if phases else None)
    return competition, tracks, track, phases, phase


def leaderboard(
    session: Session,
    *,
    competition: str | None = None,
    track: str | None = None,
    phase: str | None = None,
    show_hidden: bool = False,
    page: int = 1,
    per_page: int = 50,
) -> Leaderboard:
    comp, tracks, trk, phases, ph = _resolve(session, competition, track, phase)
    if comp is None:
        stage_phases: list[Phase | None] = [None]
        mode, rule = LeaderboardMode.mean, EntryRule.best
    elif ph is None:
        stage_phases = list(phases)
        mode, rule = (
            (phases[-1].leaderboard_mode, phases[-1].entry_rule)
            if phases
            else (LeaderboardMode.mean, EntryRule.best)
        )
    else:
        stage_phases = [ph]
        mode, rule = ph.leaderboard_mode, ph.entry_rule

    stages: list[Stage] = []
    picked_by_id: dict[str, _Candidate] = {}
    scenarios: set[str] = set()
    for stage_phase in stage_phases:
        hidden = (
            frozenset()
            if show_hidden or stage_phase is None
            else frozenset(stage_phase.hidden_scenarios)
        )
        picked = _pick(
            _candidates(
                session, stage_phase.id if stage_phase else None, trk.id if trk else None, hidden
            ),
            stage_phase.entry_rule if stage_phase else rule,
        )
        for c in picked:
            picked_by_id.setdefault(_entry_id(c), c)
            scenarios.update(c.scores)
        stages.append(
            Stage(
                name=stage_phase.slug if stage_phase else "main",
                weight=stage_phase.weight if stage_phase else 1.0,
                entries=[
                    Entry(_entry_id(c), dict(c.scores), c.submission.is_baseline) for c in picked
                ],
            )
        )
    teams_only = rank_stages(stages, mode.value, include_baselines=False)
    with_baselines = rank_stages(stages, mode.value, include_baselines=True)
    baseline_scores = {e.id: e for e in with_baselines.entries if e.id.startswith("baseline:")}

    rows: list[LeaderboardEntry] = []
    for ranked in teams_only.entries:
        rows.append(_row(picked_by_id[ranked.id], ranked.rank, ranked.score))
    # Ties share a rank; within one, teams are listed by name (ids mean nothing to people).
    rows.sort(key=lambda r: (r.rank, r.team))
    for entry_id, ranked in baseline_scores.items():
        rows.append(_row(picked_by_id[entry_id], None, ranked.score))
    total = len(rows)
    start = (page - 1) * per_page
    return Leaderboard(
        competition=comp.slug if comp else None,
        track=trk.slug if trk else None,
        phase=(ph.slug if ph else OVERALL) if comp else None,
        mode=mode.value,
        entry_rule=rule.value,
        scenarios=sorted(scenarios),
        tracks=[t.slug for t in tracks],
        phases=[p.slug for p in phases] + ([OVERALL] if len(phases) > 1 else []),
        total=total,
        page=page,
        per_page=per_page,
        entries=rows[start : start + per_page],
    )


def _row(c: _Candidate, rank: int | None, score: float | None) -> LeaderboardEntry:
    efficiency = c.evaluation.efficiency or {}
    return LeaderboardEntry(
        rank=rank,
        team=c.team,
        submission_id=c.submission.id,
        overall=score,
        scores=dict(c.scores),
        is_baseline=c.submission.is_baseline,
        latency_p50_s=efficiency.get("latency_p50_s"),
        tokens_per_s=efficiency.get("generated_tokens_per_s"),
    )


def to_csv(board: Leaderboard) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "rank",
            "team",
            "submission_id",
            "overall",
            *board.scenarios,
            "is_baseline",
            "latency_p50_s",
            "tokens_per_s",
        ]
    )
    for e in board.entries:
        writer.writerow(
            [
                "" if e.rank is None else e.rank,
                e.team,
                e.submission_id,
                "" if e.overall is None else f"{e.overall:.6f}",
                *["" if e.scores.get(s) is None else f"{e.scores[s]:.6f}" for s in board.scenarios],
                e.is_baseline,
                "" if e.latency_p50_s is None else f"{e.latency_p50_s:.4f}",
                "" if e.tokens_per_s is None else f"{e.tokens_per_s:.2f}",
            ]
        )
    return out.getvalue()
