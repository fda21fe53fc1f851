"""Leaderboards per competition, track and phase, ranked by the evaluator's scoring functions.

- One entry per team: its best (by mean of the shown scenario scores) or latest scored
  submission, per the phase's entry rule; disqualified submissions never appear.
- Baselines are listed, marked, and not ranked against teams (they are not in the pool).
- Hidden scenarios are left out unless the caller may see them.
- `phase="overall"` combines the phases, weighted by their `weight`, in the competition's last
  phase's mode (the challenge: win rates, open 1/3 + hidden 2/3).
- Every scored submission is on some board: those made outside any competition (before one
  existed, or whose phase or track was removed since) are on the `default` board.
- A request that names nothing gets a board anyway (the README's first `curl` must work with
  several competitions): the competition most recently opened with a phase open now, its first
  track, its current phase. The answer says what was picked and lists the other boards.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from app.auth.models import Team
from app.competitions.models import Competition, EntryRule, LeaderboardMode, Phase, Track
from app.competitions.repository import CompetitionRepository, PhaseRepository, TrackRepository
from app.competitions.service import is_open
from app.evaluations import counting
from app.kit.db import utcnow
from app.kit.errors import NotFound
from app.leaderboard.schemas import Leaderboard, LeaderboardEntry
from app.submissions.models import Evaluation, Submission, SubmissionStatus
from evaluator.scoring import Entry, Stage, rank_stages

OVERALL = "overall"
DEFAULT_BOARD = "default"
"""The board of submissions outside any competition. A competition with this slug shadows it."""


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


def _ranked_submissions() -> Select[Submission]:
    return select(Submission).where(
        Submission.status == SubmissionStatus.scored, Submission.disqualified_reason.is_(None)
    )


# Every competition has a track, so a submission without its phase or its track is on no
# competition's board: the default board takes it.
_OUTSIDE = or_(Submission.phase_id.is_(None), Submission.track_id.is_(None))


def _candidates(
    session: Session, phase_id: str | None, track_id: str | None, hidden: frozenset[str]
) -> list[_Candidate]:
    """`phase_id` None: the default board's submissions."""
    stmt = _ranked_submissions()
    if phase_id is None:
        stmt = stmt.where(_OUTSIDE)
    else:
        stmt = stmt.where(Submission.phase_id == phase_id)
        if track_id is not None:
            stmt = stmt.where(Submission.track_id == track_id)
    submissions = list(session.scalars(stmt))
    evaluations = counting.counted_for(session, [s.id for s in submissions])
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


@dataclass(frozen=True)
class _Choice:
    competition: Competition | None
    """None: the default board."""
    tracks: list[Track]
    track: Track | None
    phases: list[Phase]
    phase: Phase | None
    """None: the default board, or `overall`."""
    boards: list[str]
    picked: list[str]
    note: str | None


def _has_outside(session: Session) -> bool:
    stmt = _ranked_submissions().where(_OUTSIDE).limit(1)
    return session.scalars(stmt).first() is not None


def _most_recently_opened(
    session: Session, competitions: list[Competition], now: datetime
) -> Competition:
    """A phase open now beats one that has closed, which beats one still to come; among equals,
    the latest opened (or, with nothing started, the latest created) wins."""

    def key(competition: Competition) -> tuple[int, datetime]:
        phases = PhaseRepository(session).for_competition(competition.id)
        open_now = [p for p in phases if is_open(p, now)]
        started = [p for p in phases if p.opens_at is None or p.opens_at <= now]
        pool = open_now or started
        if not pool:
            return 0, competition.created_at
        return (2 if open_now else 1), max(p.opens_at or competition.created_at for p in pool)

    return max(competitions, key=key)


def _current_phase(phases: list[Phase], now: datetime) -> Phase | None:
    open_now = [p for p in phases if is_open(p, now)]
    started = [p for p in phases if p.opens_at is None or p.opens_at <= now]
    pool = open_now or started or phases
    return pool[-1] if pool else None


def _resolve(
    session: Session, competition_slug: str | None, track_slug: str | None, phase_slug: str | None
) -> _Choice:
    now = utcnow()
    repo = CompetitionRepository(session)
    competitions = list(repo.all_by_slug())
    slugs = [c.slug for c in competitions]
    boards = slugs + (
        [DEFAULT_BOARD]
        if DEFAULT_BOARD not in slugs and (not competitions or _has_outside(session))
        else []
    )
    picked: list[str] = []
    competition: Competition | None
    if competition_slug and competition_slug in slugs:
        competition = repo.by_slug(competition_slug)
    elif competition_slug == DEFAULT_BOARD or (not competition_slug and not competitions):
        competition = None
    elif competition_slug:
        raise NotFound(f"no competition {competition_slug!r}; the boards are: {', '.join(boards)}")
    else:
        competition = _most_recently_opened(session, competitions, now)
        picked.append("competition")
    if competition is None:
        if not competitions:
            picked.append("competition")
        for name, value in (("track", track_slug), ("phase", phase_slug)):
            if value:
                raise NotFound(
                    f"the {DEFAULT_BOARD!r} board (submissions outside any competition) has no "
                    f"{name} {value!r}; leave {name} out"
                )
        note = _note(None, None, None, picked, boards)
        return _Choice(None, [], None, [], None, boards, picked, note)

    tracks = list(TrackRepository(session).for_competition(competition.id))
    phases = list(PhaseRepository(session).for_competition(competition.id))
    track = tracks[0] if tracks else None
    if track_slug:
        track = next((t for t in tracks if t.slug == track_slug), None)
        if track is None:
            raise NotFound(
                f"{competition.slug!r} has no track {track_slug!r}; its tracks: "
                + ", ".join(t.slug for t in tracks)
            )
    else:
        picked.append("track")
    phase: Phase | None
    if phase_slug == OVERALL:
        phase = None
    elif phase_slug:
        phase = next((p for p in phases if p.slug == phase_slug), None)
        if phase is None:
            raise NotFound(
                f"{competition.slug!r} has no phase {phase_slug!r}; its phases: "
                + ", ".join([p.slug for p in phases] + ([OVERALL] if len(phases) > 1 else []))
            )
    else:
        phase = _current_phase(phases, now)
        picked.append("phase")
    note = _note(competition, track if len(tracks) > 1 else None, phase, picked, boards)
    return _Choice(competition, tracks, track, phases, phase, boards, picked, note)


def _note(
    competition: Competition | None,
    track: Track | None,
    phase: Phase | None,
    picked: list[str],
    boards: list[str],
) -> str | None:
    """What a caller who named nothing is shown, in words; None when there was no choice."""
    parts = []
    if "competition" in picked and len(boards) > 1:
        if competition is None:
            parts.append(f"board {DEFAULT_BOARD!r} (submissions outside any competition)")
        else:
            parts.append(f"competition {competition.slug!r} (the most recently opened)")
    if "track" in picked and track is not None:
        parts.append(f"track {track.slug!r} (its first)")
    if "phase" in picked and phase is not None and parts:
        parts.append(f"phase {phase.slug!r} (its current one)")
    if not parts:
        return None
    others = [b for b in boards if b != (competition.slug if competition else DEFAULT_BOARD)]
    text = "Showing " + ", ".join(parts) + "."
    if others:
        text += f" Other boards: {', '.join(others)}; name one with competition=<slug>."
    return text


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
    choice = _resolve(session, competition, track, phase)
    comp, tracks, trk, phases, ph = (
        choice.competition,
        choice.tracks,
        choice.track,
        choice.phases,
        choice.phase,
    )
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
        if show_hidden:
            hidden: frozenset[str] = frozenset()
        elif stage_phase is None:
            # The default board also holds submissions whose phase was removed: any scenario a
            # phase hides stays hidden here too.
            hidden = _hidden_anywhere(session)
        else:
            hidden = frozenset(stage_phase.hidden_scenarios)
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
        competition=comp.slug if comp else DEFAULT_BOARD,
        track=trk.slug if trk else None,
        phase=(ph.slug if ph else OVERALL) if comp else None,
        competitions=choice.boards,
        picked=choice.picked,
        note=choice.note,
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


def _hidden_anywhere(session: Session) -> frozenset[str]:
    return frozenset(name for p in session.scalars(select(Phase)) for name in p.hidden_scenarios)


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
