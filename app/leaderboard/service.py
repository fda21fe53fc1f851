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

A request reads only the board read model (`app/leaderboard/rows.py`: the stored ranking of the
board it names, computed when a row of it changed) and a cached snapshot of the competitions,
never the evaluations: the CSV too.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.competitions.models import Competition, EntryRule, LeaderboardMode, Phase, Track
from app.competitions.repository import CompetitionRepository, PhaseRepository, TrackRepository
from app.competitions.service import is_open
from app.kit.db import get_engine, session_scope, utcnow
from app.kit.errors import NotFound
from app.leaderboard import rows
from app.leaderboard.rows import BoardRow
from app.leaderboard.schemas import Leaderboard, LeaderboardEntry

OVERALL = "overall"
DEFAULT_BOARD = "default"
"""The board of submissions outside any competition. A competition with this slug shadows it."""


# Every competition has a track, so a submission without its phase or its track is on no
# competition's board: the default board takes it.
_OUTSIDE = or_(BoardRow.phase_id.is_(None), BoardRow.track_id.is_(None))


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


@dataclass(frozen=True)
class _Structure:
    """The competitions, their tracks and phases (detached, read-only), as a board request
    needs them: loaded once per `STRUCTURE_TTL_S`, not with every request."""

    competitions: list[Competition]
    tracks: dict[str, list[Track]]
    phases: dict[str, list[Phase]]
    hidden_anywhere: frozenset[str]
    has_outside: bool
    generation: int
    loaded: float


STRUCTURE_TTL_S = 2.0
"""How long another process's edit of a competition (or a first submission outside any) may
take to show on boards. This process's own edits show at once (`rows.generation`)."""

_structure_cache: dict[str, _Structure] = {}
"""Per database (tests use several in one process)."""


def _structure(session: Session) -> _Structure:
    now = time.monotonic()
    database = str(session.get_bind().engine.url)
    cached = _structure_cache.get(database)
    if (
        cached is not None
        and cached.generation == rows.generation()
        and now - cached.loaded < STRUCTURE_TTL_S
    ):
        return cached
    rows.backfill_if_needed(session)
    generation = rows.generation()
    # Its own session, so that what it loads outlives the request, detached and fully loaded;
    # on the request's connection, not a second one: a thread that held one connection while
    # it waited for another could wait forever once the pool was taken by threads doing so.
    with Session(bind=session.connection(), expire_on_commit=False) as own:
        competitions = list(CompetitionRepository(own).all_by_slug())
        tracks = {c.id: list(TrackRepository(own).for_competition(c.id)) for c in competitions}
        phases = {c.id: list(PhaseRepository(own).for_competition(c.id)) for c in competitions}
        hidden = frozenset(n for p in own.scalars(select(Phase)) for n in p.hidden_scenarios)
        outside = _has_outside(own)
        own.expunge_all()
    fresh = _Structure(competitions, tracks, phases, hidden, outside, generation, now)
    _structure_cache[database] = fresh
    return fresh


def _has_outside(session: Session) -> bool:
    stmt = select(BoardRow.submission_id).where(BoardRow.disqualified.is_(False), _OUTSIDE).limit(1)
    return session.scalars(stmt).first() is not None


def _most_recently_opened(
    structure: _Structure, competitions: list[Competition], now: datetime
) -> Competition:
    """A phase open now beats one that has closed, which beats one still to come; among equals,
    the latest opened (or, with nothing started, the latest created) wins."""

    def key(competition: Competition) -> tuple[int, datetime]:
        phases = structure.phases[competition.id]
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
    structure = _structure(session)
    competitions = structure.competitions
    slugs = [c.slug for c in competitions]
    boards = slugs + (
        [DEFAULT_BOARD]
        if DEFAULT_BOARD not in slugs and (not competitions or structure.has_outside)
        else []
    )
    picked: list[str] = []
    competition: Competition | None
    if competition_slug and competition_slug in slugs:
        competition = next(c for c in competitions if c.slug == competition_slug)
    elif competition_slug == DEFAULT_BOARD or (not competition_slug and not competitions):
        competition = None
    elif competition_slug:
        raise NotFound(f"no competition {competition_slug!r}; the boards are: {', '.join(boards)}")
    else:
        competition = _most_recently_opened(structure, competitions, now)
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

    tracks = list(structure.tracks[competition.id])
    phases = list(structure.phases[competition.id])
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


BOARD_TTL_S = 1.0
"""How long this process answers a board from memory before it looks at the stored view again.
A change made by another process (a worker finishing an evaluation) shows within this; one made
by this process (an admin action) shows at once (`rows.generation`)."""


@dataclass(frozen=True)
class BoardQuery:
    """What a board request names: the key of its cached answer."""

    competition: str | None = None
    track: str | None = None
    phase: str | None = None
    show_hidden: bool = False
    page: int = 1
    per_page: int = 50


@dataclass
class _Answer:
    generation: int
    loaded: float
    board: Leaderboard
    rendered: dict[str, bytes]
    """format -> the response body, rendered on first use."""


_answers: dict[tuple[str, BoardQuery], _Answer] = {}


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
    query = BoardQuery(competition, track, phase, show_hidden, page, per_page)
    return _answer(session, query).board.model_copy(deep=True)


def _answer(session: Session, query: BoardQuery) -> _Answer:
    key = (str(session.get_bind().engine.url), query)
    cached = _fresh(key)
    if cached is not None:
        return cached
    generation, now = rows.generation(), time.monotonic()
    board = _leaderboard(
        session,
        query.competition,
        query.track,
        query.phase,
        query.show_hidden,
        query.page,
        query.per_page,
    )
    if len(_answers) > 1024:
        _answers.clear()  # many pages or misspelt boards: start over rather than grow
    answer = _answers[key] = _Answer(generation, now, board, {})
    return answer


def _fresh(key: tuple[str, BoardQuery]) -> _Answer | None:
    cached = _answers.get(key)
    if (
        cached is not None
        and cached.generation == rows.generation()
        and time.monotonic() - cached.loaded < BOARD_TTL_S
    ):
        return cached
    return None


def _render(answer: _Answer, format: str) -> bytes:
    body = answer.rendered.get(format)
    if body is None:
        body = (
            answer.board.model_dump_json().encode()
            if format == "json"
            else to_csv(answer.board).encode()
        )
        answer.rendered[format] = body
    return body


def cached_body(database_url: str, query: BoardQuery, format: str) -> bytes | None:
    """The answer's body from memory, or None: no database, no thread (the hot path)."""
    answer = _fresh((str(get_engine(database_url).url), query))
    return _render(answer, format) if answer is not None else None


def body(database_url: str, query: BoardQuery, format: str) -> bytes:
    """The answer's body, read from the board view (and cached) if not in memory."""
    with session_scope(database_url) as session:
        return _render(_answer(session, query), format)


_inflight: dict[tuple[str, BoardQuery, str], asyncio.Task[bytes]] = {}


async def answer_body(database_url: str, query: BoardQuery, format: str) -> bytes:
    """`body`, once per key at a time: when a cached answer expires under a crowd, one thread
    reads the view again and every request for it waits for that answer, instead of each
    taking a thread and a database connection for the same work. A caller that goes away
    does not cancel the read the others wait for."""
    hit = cached_body(database_url, query, format)
    if hit is not None:
        return hit
    key = (database_url, query, format)
    task = _inflight.get(key)
    if task is None:
        task = asyncio.ensure_future(run_in_threadpool(body, database_url, query, format))
        _inflight[key] = task
        task.add_done_callback(lambda done: _done(key, done))
    return await asyncio.shield(task)


def _done(key: tuple[str, BoardQuery, str], task: asyncio.Task[bytes]) -> None:
    _inflight.pop(key, None)
    if not task.cancelled():
        task.exception()  # retrieved: its waiters got it; none left is no warning either


def _leaderboard(
    session: Session,
    competition: str | None,
    track: str | None,
    phase: str | None,
    show_hidden: bool,
    page: int,
    per_page: int,
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

    stages: list[rows.StageSpec] = []
    for stage_phase in stage_phases:
        if show_hidden:
            hidden: frozenset[str] = frozenset()
        elif stage_phase is None:
            # The default board also holds submissions whose phase was removed: any scenario a
            # phase hides stays hidden here too.
            hidden = _structure(session).hidden_anywhere
        else:
            hidden = frozenset(stage_phase.hidden_scenarios)
        stages.append(
            rows.StageSpec(
                phase_id=stage_phase.id if stage_phase else None,
                name=stage_phase.slug if stage_phase else "main",
                weight=stage_phase.weight if stage_phase else 1.0,
                entry_rule=(stage_phase.entry_rule if stage_phase else rule).value,
                hidden=tuple(sorted(hidden)),
            )
        )
    track_id = trk.id if trk else None
    spec = rows.BoardSpec(
        key=rows.board_key(comp.id if comp else None, track_id, ph.id if ph else None, show_hidden),
        track_id=track_id,
        mode=mode.value,
        stages=tuple(stages),
    )
    stored = rows.view(session, spec)
    entries = stored.entries
    total = len(entries)
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
        scenarios=list(stored.scenarios),
        tracks=[t.slug for t in tracks],
        phases=[p.slug for p in phases] + ([OVERALL] if len(phases) > 1 else []),
        total=total,
        page=page,
        per_page=per_page,
        entries=[LeaderboardEntry(**e) for e in entries[start : start + per_page]],
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
