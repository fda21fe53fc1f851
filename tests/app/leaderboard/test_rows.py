"""The board read model (app/leaderboard/rows.py), on SQLite and PostgreSQL: rows follow every
event that changes what counts, boards and lists never read the large columns, and the stored
ranks are the ranking functions' own."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, event, select

from app.auth.models import Role
from app.auth.service import Principal
from app.config import Settings
from app.kit.db import get_engine, session_scope
from app.leaderboard import service
from app.leaderboard.rows import BACKFILL_MARKER, BoardRow, BoardView
from app.leaderboard.service import leaderboard
from app.submissions import admin
from app.submissions.models import Evaluation, Submission
from app.web import pages
from evaluator.scoring import Entry, Stage, rank_stages
from tests.app.factories import competition, scored
from tests.workers.test_flows import Harness, harness  # noqa: F401  (fixture)
from workers import flows

ADMIN = Principal(token_id="t", role=Role.admin, team_id=None, team_name=None)
BLOBS = re.compile(r"\b(result|container_log|startup_log|build_log)\b")


def _row(settings: Settings, sid: str) -> BoardRow | None:
    with session_scope(settings.database_url) as session:
        row = session.get(BoardRow, sid)
        if row is not None:
            session.expunge(row)
        return row


def _board_ids(settings: Settings) -> list[tuple[str, int | None]]:
    with session_scope(settings.database_url) as session:
        return [(e.submission_id, e.rank) for e in leaderboard(session).entries]


def _counted_id(settings: Settings, sid: str) -> str:
    with session_scope(settings.database_url) as session:
        stmt = (
            select(Evaluation.id)
            .where(Evaluation.submission_id == sid, Evaluation.status == "done")
            .order_by(Evaluation.created_at.desc())
        )
        return str(session.scalars(stmt).first())


def test_rows_follow_score_rescore_disqualify_baseline_and_rerun(
    harness: Harness,  # noqa: F811
) -> None:
    settings = harness.settings
    sid = harness.submission()
    harness.build(sid)
    assert _row(settings, sid) is None  # evaluating: on no board
    flows.evaluate(harness.ctx, harness.evaluation_id())  # the worker's finish
    row = _row(settings, sid)
    assert row is not None and row.evaluation_id == _counted_id(settings, sid)
    with session_scope(settings.database_url) as session:
        evaluation = session.get(Evaluation, row.evaluation_id)
        assert evaluation is not None and evaluation.efficiency is not None
        assert row.scores == evaluation.scores and row.overall == evaluation.overall
        assert row.latency_p50_s == evaluation.efficiency["latency_p50_s"]
    assert _board_ids(settings) == [(sid, 1)]  # stores the default board's view

    with session_scope(settings.database_url) as session:
        rescore_id = admin.rescore(session, settings, ADMIN, sid).id
    row = _row(settings, sid)
    assert row is not None and row.evaluation_id == rescore_id

    with session_scope(settings.database_url) as session:
        admin.disqualify(session, ADMIN, sid, "copied another team's weights")
    row = _row(settings, sid)
    assert row is not None and row.disqualified
    assert _board_ids(settings) == []  # the stored view was recomputed, not served stale
    with session_scope(settings.database_url) as session:
        admin.disqualify(session, ADMIN, sid, None)
    assert _board_ids(settings) == [(sid, 1)]

    with session_scope(settings.database_url) as session:
        admin.set_baseline(session, ADMIN, sid, True)
    row = _row(settings, sid)
    assert row is not None and row.is_baseline
    assert _board_ids(settings) == [(sid, None)]  # listed, unranked
    with session_scope(settings.database_url) as session:
        admin.set_baseline(session, ADMIN, sid, False)

    with session_scope(settings.database_url) as session:
        admin.rerun(session, settings, harness.queue, ADMIN, sid)
    assert _row(settings, sid) is None  # re-running: off the board until it finishes
    assert _board_ids(settings) == []
    flows.evaluate(harness.ctx, harness.evaluation_id())
    row = _row(settings, sid)
    assert row is not None and row.evaluation_id not in (rescore_id, None)
    assert row.evaluation_id == _counted_id(settings, sid)
    assert _board_ids(settings) == [(sid, 1)]


@contextmanager
def _statements(settings: Settings) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    engine = get_engine(settings.database_url)
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_boards_and_lists_never_read_the_large_columns(
    settings: Settings, client: TestClient, organizer: dict[str, str]
) -> None:
    competition(settings, [{"slug": "open", "leaderboard": {"mode": "winrate"}}])
    blob = {"instances": [{"prediction": "x" * 1000}] * 50}
    for team in ("alpha", "beta", "gamma"):
        scored(settings, team, {"mmlu": random.random()}, result=blob)
    outside = scored(settings, "alpha", {"mmlu": 0.5}, phase=None, track=None, result=blob)
    with session_scope(settings.database_url) as session:
        for evaluation in session.scalars(select(Evaluation)):
            evaluation.container_log = "log line\n" * 1000
        for submission in session.scalars(select(Submission)):
            submission.build_log = "build line\n" * 1000

    with _statements(settings) as seen:
        for params in (
            {},
            {"format": "csv"},
            {"competition": "comp", "phase": "open"},
            {"competition": "default"},
        ):
            assert client.get("/api/v1/leaderboard", params=params).status_code == 200
        assert client.get("/api/v1/leaderboard", headers=organizer).status_code == 200
    assert seen, "the listener saw no SQL: the check below would prove nothing"
    assert not [s for s in seen if "evaluations" in s], "a board read the evaluations table"
    assert not [s for s in seen if BLOBS.search(s)]

    with _statements(settings) as seen:
        listed = client.get("/api/v1/submissions", headers=organizer)
        assert listed.status_code == 200 and len(listed.json()["items"]) == 4
        with session_scope(settings.database_url) as session:
            principal = Principal(token_id="t", role=Role.organizer, team_id=None, team_name=None)
            assert outside in [s.id for s in pages.submission_list(session, principal)]
    selects = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    assert any("FROM evaluations" in s for s in selects)
    assert not [s for s in selects if BLOBS.search(s.split("FROM", 1)[0])]


@pytest.mark.parametrize("mode", ["mean", "winrate", "neurips2023"])
def test_stored_ranks_are_the_ranking_functions_own(settings: Settings, mode: str) -> None:
    rng = random.Random(f"board-{mode}")
    competition(
        settings,
        [{"slug": "open", "hidden_scenarios": ["mmlu"], "leaderboard": {"mode": mode}}],
    )
    scenarios = ["mmlu", "gsm", "bbq"]
    best: dict[str, dict[str, float]] = {}
    for t in range(12):
        team = f"team-{t:02d}"
        for _ in range(3):
            # Coarse scores: ties on purpose, which is where rank rules differ.
            scores = {s: rng.choice([0.1, 0.3, 0.5, 0.7, 0.9]) for s in scenarios}
            scored(settings, team, scores)
            public = {k: v for k, v in scores.items() if k != "mmlu"}
            mean = sum(public.values()) / len(public)
            current = best.get(team)
            if current is None or mean > sum(current.values()) / len(current):
                best[team] = public
    expected = rank_stages(
        [Stage("open", 1.0, [Entry(team, scores) for team, scores in best.items()])],
        mode,  # type: ignore[arg-type]
    )
    with session_scope(settings.database_url) as session:
        board = leaderboard(session, per_page=500)
    got = {(e.team, e.rank, round(e.overall or -1, 12)) for e in board.entries}
    assert got == {(e.id, e.rank, round(e.score or -1, 12)) for e in expected.entries}
    assert board.scenarios == ["bbq", "gsm"]  # the hidden one is not shown to the public

    # A new entry changes everyone's win rate: the stored view is recomputed when it lands.
    with session_scope(settings.database_url) as session:
        before = {v.key: v.computed_at for v in session.scalars(select(BoardView))}
    assert before
    newcomer = scored(settings, "newcomer", {"mmlu": 1.0, "gsm": 1.0, "bbq": 1.0})
    with session_scope(settings.database_url) as session:
        after = {v.key: v.computed_at for v in session.scalars(select(BoardView))}
        assert all(after[k] > before[k] for k in before)
        first = leaderboard(session, per_page=500).entries[0]
    assert (first.team, first.submission_id, first.rank) == ("newcomer", newcomer, 1)


def test_the_first_read_after_migration_0008_builds_the_rows(settings: Settings) -> None:
    competition(settings, [{"slug": "open"}])
    sid = scored(settings, "alpha", {"mmlu": 0.5})
    with session_scope(settings.database_url) as session:
        # As migration 0008 leaves a database that already had scored submissions.
        session.execute(delete(BoardRow))
        session.execute(delete(BoardView))
        session.add(
            BoardView(key=BACKFILL_MARKER, fingerprint="", spec={}, scenarios=[], entries=[])
        )
    service._structure_cache.clear()  # as in a process started after the migration
    assert _board_ids(settings) == [(sid, 1)]
    with session_scope(settings.database_url) as session:
        assert session.get(BoardView, BACKFILL_MARKER) is None
        assert session.get(BoardRow, sid) is not None
