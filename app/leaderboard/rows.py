"""The leaderboard's read model: what a board shows, kept beside the evaluations it comes from.

A board request used to load every scored evaluation with its per-instance results and
container log and rank them on the spot: seconds per request at a few hundred submissions, and
every other route slowed with it. Now:

- `board_rows`: one small row per ranked submission (its counted evaluation's scores and
  efficiency, its team, phase, track, baseline and disqualified flags). `refresh_board_rows` is
  called in the same transaction by whoever changes what counts (`app.evaluations.service.finish`,
  and the admin's rescore, rerun, baseline and disqualify), so the rows never lag the truth.
- `board_views`: per board (competition, track, phase or `overall`, and public or organizer
  view) the finished ranking, in display order. Ranks under `winrate` and `neurips2023` depend
  on the whole pool, so they are computed once when a row of the board changes, not per
  request. A view remembers the settings it was computed under (mode, entry rule, hidden
  scenarios, weights): a request whose settings differ (an organizer edited the phase) recomputes
  it once and stores it again.

Which evaluation counts is `app.evaluations.counting`'s rule; entry rules, baselines and hidden
scenarios are applied here exactly as the board always did.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    String,
    delete,
    event,
    inspect,
    or_,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.auth.models import Team
from app.competitions.models import Competition, EntryRule, Phase, Track
from app.evaluations import counting
from app.kit.db import Base, utcnow
from app.submissions.models import Evaluation, Submission, SubmissionStatus
from evaluator.scoring import Entry, Mode, Stage, rank_stages

DEFAULT_KEY = "default"


class BoardRow(Base):
    """One ranked submission as the board shows it: no per-instance results, no logs."""

    __tablename__ = "board_rows"
    __table_args__ = (Index("ix_board_rows_phase_track", "phase_id", "track_id"),)

    submission_id: Mapped[str] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True
    )
    evaluation_id: Mapped[str] = mapped_column(String(32))
    # Removing a competition, phase or track moves its submissions to the default board, in
    # these rows as in `submissions` (the same ON DELETE rule).
    competition_id: Mapped[str | None] = mapped_column(
        ForeignKey("competitions.id", ondelete="SET NULL"), default=None, index=True
    )
    phase_id: Mapped[str | None] = mapped_column(
        ForeignKey("phases.id", ondelete="SET NULL"), default=None
    )
    track_id: Mapped[str | None] = mapped_column(
        ForeignKey("tracks.id", ondelete="SET NULL"), default=None
    )
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    scores: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    overall: Mapped[float | None] = mapped_column(Float, default=None)
    latency_p50_s: Mapped[float | None] = mapped_column(Float, default=None)
    tokens_per_s: Mapped[float | None] = mapped_column(Float, default=None)
    is_baseline: Mapped[bool] = mapped_column(Boolean, default=False)
    disqualified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column()
    """The submission's creation time (the `latest` entry rule)."""


class BoardView(Base):
    """One board's ranking, in display order, and the settings it was computed under."""

    __tablename__ = "board_views"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    """`BoardSpec` as JSON: what a refresh needs to compute this view again."""
    scenarios: Mapped[list[str]] = mapped_column(JSON, default=list)
    entries: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- which boards, under which settings -------------------------------------------------------


@dataclass(frozen=True)
class StageSpec:
    phase_id: str | None
    """None: the default board (submissions outside any competition)."""
    name: str
    weight: float
    entry_rule: str
    hidden: tuple[str, ...]


@dataclass(frozen=True)
class BoardSpec:
    key: str
    track_id: str | None
    mode: str
    stages: tuple[StageSpec, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "track_id": self.track_id,
            "mode": self.mode,
            "stages": [
                [s.phase_id, s.name, s.weight, s.entry_rule, list(s.hidden)] for s in self.stages
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BoardSpec:
        return cls(
            data["key"],
            data["track_id"],
            data["mode"],
            tuple(StageSpec(p, n, float(w), r, tuple(h)) for p, n, w, r, h in data["stages"]),
        )

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()


def board_key(
    competition_id: str | None, track_id: str | None, phase_id: str | None, show_hidden: bool
) -> str:
    """`phase_id` None with a competition: its `overall` board."""
    view = "all" if show_hidden else "public"
    if competition_id is None:
        return f"{DEFAULT_KEY}:{view}"
    return f"{competition_id}:{track_id or '*'}:{phase_id or 'overall'}:{view}"


# --- keeping rows up to date ------------------------------------------------------------------


def _row_values(session: Session, submission_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """What each submission's board row should hold; missing: it is on no board (not scored,
    or nothing counted)."""
    if not submission_ids:
        return {}
    submissions = list(
        session.scalars(
            select(Submission).where(
                Submission.id.in_(submission_ids),
                Submission.status == SubmissionStatus.scored,
            )
        )
    )
    counted = counting.counted_for(session, [s.id for s in submissions])
    phases = {
        p.id: p.competition_id
        for p in session.scalars(
            select(Phase).where(Phase.id.in_({s.phase_id for s in submissions if s.phase_id}))
        )
    }
    out: dict[str, dict[str, Any]] = {}
    for s in submissions:
        evaluation = counted.get(s.id)
        if evaluation is None or evaluation.scores is None:
            continue
        efficiency = evaluation.efficiency or {}
        out[s.id] = {
            "submission_id": s.id,
            "evaluation_id": evaluation.id,
            "competition_id": phases.get(s.phase_id) if s.phase_id else None,
            "phase_id": s.phase_id,
            "track_id": s.track_id,
            "team_id": s.team_id,
            "scores": {k: float(v) for k, v in evaluation.scores.items()},
            "overall": evaluation.overall,
            "latency_p50_s": efficiency.get("latency_p50_s"),
            "tokens_per_s": efficiency.get("generated_tokens_per_s"),
            "is_baseline": s.is_baseline,
            "disqualified": s.disqualified_reason is not None,
            "created_at": s.created_at,
        }
    return out


def _prefixes(row: BoardRow | dict[str, Any]) -> set[str]:
    """Which stored views a row may appear on (as key prefixes)."""
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    prefixes = set()
    if get("competition_id"):
        prefixes.add(f"{get('competition_id')}:")
    if get("phase_id") is None or get("track_id") is None:
        prefixes.add(f"{DEFAULT_KEY}:")
    return prefixes


def refresh_board_rows(session: Session, submission_ids: str | Iterable[str]) -> None:
    """Bring the board rows of these submissions in line with what counts now, and recompute
    every stored view they were or now are on. Call it, in the same transaction, wherever a
    submission's counted evaluation, status, baseline or disqualified flag changes."""
    ids = (
        [submission_ids] if isinstance(submission_ids, str) else list(dict.fromkeys(submission_ids))
    )
    if not ids:
        return
    session.flush()
    old = {
        r.submission_id: r
        for r in session.scalars(select(BoardRow).where(BoardRow.submission_id.in_(ids)))
    }
    new = _row_values(session, ids)
    touched: set[str] = set()
    for sid in ids:
        before, after = old.get(sid), new.get(sid)
        if before is not None:
            touched |= _prefixes(before)
        if after is not None:
            touched |= _prefixes(after)
        if before is None and after is not None:
            session.add(BoardRow(**after))
        elif before is not None and after is None:
            session.delete(before)
        elif before is not None and after is not None:
            for name, value in after.items():
                setattr(before, name, value)
    session.flush()
    session.info["boards_changed"] = True
    _recompute_views(session, touched)


BACKFILL_MARKER = "rows:backfill"
"""A `board_views` key: present while the rows of data older than this read model are still to
be built (migration 0008 leaves it; the first board read after it builds them)."""


def backfill_if_needed(session: Session) -> None:
    """Build every board row if migration 0008 asked for it; the row lock makes concurrent first
    reads wait for one another instead of building twice."""
    if session.get(BoardView, BACKFILL_MARKER, with_for_update=True) is not None:
        backfill(session)


def backfill(session: Session) -> int:
    """Rebuild every board row from the evaluations (existing data, or a repair); returns how
    many submissions are on a board."""
    session.execute(delete(BoardRow))
    session.execute(delete(BoardView))
    ids = list(
        session.scalars(select(Submission.id).where(Submission.status == SubmissionStatus.scored))
    )
    built = 0
    for first in range(0, len(ids), 500):  # the counted evaluations load whole: in batches
        values = _row_values(session, ids[first : first + 500])
        session.add_all(BoardRow(**v) for v in values.values())
        session.flush()
        for loaded in list(session.identity_map.values()):
            if isinstance(loaded, (Submission, Evaluation)):
                session.expunge(loaded)
        built += len(values)
    session.info["boards_changed"] = True
    return built


_generation = [0]


def generation() -> int:
    """Bumped when this process commits a change to what boards are made of (competitions,
    phases, tracks, board rows): the leaderboard's in-process caches start over."""
    return _generation[0]


_STRUCTURE = (Competition, Phase, Track)


@event.listens_for(Session, "after_flush")
def _forget_views_on_structure_change(session: Session, _context: object) -> None:
    """A removed competition, phase or track moves rows between boards (by ON DELETE, which no
    refresh sees), and a renamed team changes names and tie order: every stored view is
    dropped, and each is computed again on its next read."""
    changed = any(isinstance(o, _STRUCTURE) for o in session.deleted) or any(
        isinstance(o, Team) and inspect(o).attrs.name.history.has_changes() for o in session.dirty
    )
    if changed:
        session.connection().execute(delete(BoardView))
    if changed or any(isinstance(o, _STRUCTURE) for o in (*session.new, *session.dirty)):
        session.info["boards_changed"] = True


@event.listens_for(Session, "after_commit")
def _bump_generation(session: Session) -> None:
    if session.info.pop("boards_changed", False):
        _generation[0] += 1


def _recompute_views(session: Session, prefixes: set[str]) -> None:
    if not prefixes:
        return
    views = session.scalars(
        select(BoardView).where(or_(*(BoardView.key.startswith(p) for p in prefixes)))
    )
    for view in list(views):
        scenarios, entries = compute(session, BoardSpec.from_json(view.spec))
        view.scenarios, view.entries, view.computed_at = scenarios, entries, utcnow()


# --- ranking ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    row: BoardRow
    scores: dict[str, float]

    @property
    def entry_id(self) -> str:
        return f"baseline:{self.row.submission_id}" if self.row.is_baseline else self.row.team_id

    @property
    def mean(self) -> float:
        return sum(self.scores.values()) / len(self.scores) if self.scores else float("-inf")


def _candidates(session: Session, stage: StageSpec, track_id: str | None) -> list[_Candidate]:
    stmt = select(BoardRow).where(BoardRow.disqualified.is_(False))
    if stage.phase_id is None:
        stmt = stmt.where(or_(BoardRow.phase_id.is_(None), BoardRow.track_id.is_(None)))
    else:
        stmt = stmt.where(BoardRow.phase_id == stage.phase_id)
        if track_id is not None:
            stmt = stmt.where(BoardRow.track_id == track_id)
    # Oldest first: between equal bests, the one submitted first stays the team's entry.
    stmt = stmt.order_by(BoardRow.created_at, BoardRow.submission_id)
    hidden = set(stage.hidden)
    return [
        _Candidate(row, {k: v for k, v in row.scores.items() if k not in hidden})
        for row in session.scalars(stmt)
    ]


def _pick(candidates: list[_Candidate], rule: EntryRule) -> list[_Candidate]:
    """One per team (and each baseline on its own)."""
    chosen: dict[str, _Candidate] = {}
    for c in candidates:
        current = chosen.get(c.entry_id)
        if current is None:
            chosen[c.entry_id] = c
        elif rule is EntryRule.latest:
            if c.row.created_at > current.row.created_at:
                chosen[c.entry_id] = c
        elif c.mean > current.mean:
            chosen[c.entry_id] = c
    return list(chosen.values())


def compute(session: Session, spec: BoardSpec) -> tuple[list[str], list[dict[str, Any]]]:
    """The board's scenarios and its entries in display order: teams by rank (ties by name),
    then the baselines, unranked."""
    stages: list[Stage] = []
    picked_by_id: dict[str, _Candidate] = {}
    scenarios: set[str] = set()
    for stage in spec.stages:
        picked = _pick(_candidates(session, stage, spec.track_id), EntryRule(stage.entry_rule))
        for c in picked:
            picked_by_id.setdefault(c.entry_id, c)
            scenarios.update(c.scores)
        stages.append(
            Stage(
                name=stage.name,
                weight=stage.weight,
                entries=[Entry(c.entry_id, dict(c.scores), c.row.is_baseline) for c in picked],
            )
        )
    teams = {
        t.id: t.name
        for t in session.execute(
            select(Team.id, Team.name).where(
                Team.id.in_({c.row.team_id for c in picked_by_id.values()})
            )
        )
    }
    mode = cast(Mode, spec.mode)
    teams_only = rank_stages(stages, mode, include_baselines=False)
    with_baselines = rank_stages(stages, mode, include_baselines=True)

    def entry(c: _Candidate, rank: int | None, score: float | None) -> dict[str, Any]:
        return {
            "rank": rank,
            "team": teams.get(c.row.team_id, "?"),
            "submission_id": c.row.submission_id,
            "overall": score,
            "scores": dict(c.scores),
            "is_baseline": c.row.is_baseline,
            "latency_p50_s": c.row.latency_p50_s,
            "tokens_per_s": c.row.tokens_per_s,
        }

    ranked = [entry(picked_by_id[e.id], e.rank, e.score) for e in teams_only.entries]
    # Ties share a rank; within one, teams are listed by name (ids mean nothing to people).
    ranked.sort(key=lambda r: (r["rank"], r["team"]))
    ranked += [
        entry(picked_by_id[e.id], None, e.score)
        for e in with_baselines.entries
        if e.id.startswith("baseline:")
    ]
    return sorted(scenarios), ranked


@dataclass(frozen=True)
class StoredView:
    scenarios: list[str]
    entries: list[dict[str, Any]]


_decoded: dict[tuple[str, str, datetime], StoredView] = {}
"""(key, fingerprint, computed_at) -> the view's decoded entries: a request reads only the view's
stamp unless the view changed since this process last decoded it."""


def view(session: Session, spec: BoardSpec) -> StoredView:
    """The stored view of this board, computed (and stored) first if it is missing or was
    computed under other settings."""
    fingerprint = spec.fingerprint
    stamp = session.execute(
        select(BoardView.fingerprint, BoardView.computed_at).where(BoardView.key == spec.key)
    ).first()
    if stamp is not None and stamp.fingerprint == fingerprint:
        cached = _decoded.get((spec.key, fingerprint, stamp.computed_at))
        if cached is not None:
            return cached
        stored = session.get(BoardView, spec.key)
        if stored is not None and stored.fingerprint == fingerprint:
            found = StoredView(list(stored.scenarios), list(stored.entries))
            if len(_decoded) > 512:
                _decoded.clear()
            _decoded[(spec.key, fingerprint, stored.computed_at)] = found
            return found
    scenarios, entries = compute(session, spec)
    now = utcnow()
    stored = session.get(BoardView, spec.key)
    if stored is not None:
        stored.fingerprint, stored.spec = fingerprint, spec.to_json()
        stored.scenarios, stored.entries, stored.computed_at = scenarios, entries, now
        return StoredView(scenarios, entries)
    fresh = BoardView(
        key=spec.key,
        fingerprint=fingerprint,
        spec=spec.to_json(),
        scenarios=scenarios,
        entries=entries,
        computed_at=now,
    )
    try:
        with session.begin_nested():
            session.add(fresh)
    except IntegrityError:
        # Another request stored it meanwhile: theirs is as good as ours.
        pass
    return StoredView(scenarios, entries)
