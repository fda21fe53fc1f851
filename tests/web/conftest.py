"""A competition as people see it: two tracks, two phases (one with a hidden scenario), six teams,
a baseline, and team alpha's submissions in every state a page shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from app.auth.models import Role
from app.auth.service import create_team, create_token
from app.config import Settings
from app.kit.db import session_scope, utcnow
from app.leaderboard.rows import refresh_board_rows
from app.main import create_app
from app.queue import RecordingQueue
from app.submissions.models import (
    Evaluation,
    EvaluationStatus,
    FailureReason,
    Submission,
    SubmissionStatus,
)
from tests.app.factories import competition, scored

SUITE = "neurips2023-open"
HIDDEN = "bbq"
# Public mean (mmlu, gsm) ranks alpha .75 > beta .65 > delta .55 > gamma .45 > epsilon .25 >
# zeta .10; with the hidden bbq the order stays the same, so both views can be checked by order.
A100_SCORES = {
    "alpha": {"mmlu": 0.8, "gsm": 0.7, HIDDEN: 0.9},
    "beta": {"mmlu": 0.7, "gsm": 0.6, HIDDEN: 0.2},
    "delta": {"mmlu": 0.9, "gsm": 0.2, HIDDEN: 0.3},
    "gamma": {"mmlu": 0.5, "gsm": 0.4, HIDDEN: 0.4},
    "epsilon": {"mmlu": 0.3, "gsm": 0.2, HIDDEN: 0.1},
    "zeta": {"mmlu": 0.1, "gsm": 0.1, HIDDEN: 0.1},
}
RANKED = list(A100_SCORES)
BASELINE = "reference"
BUILD_LOG = "\n".join(f"build line {i}" for i in range(1, 301)) + "\n<b>not bold</b>"
FAILURE = "pip install failed: the build has no network; vendor the wheels into the context"


@dataclass(frozen=True)
class World:
    tokens: dict[str, str]
    """Team name (or "organizer") -> API token."""
    failed: str
    running: str
    scored: str
    other_team: str
    """A submission of beta's, which alpha must not see."""


def fill(settings: Settings) -> World:
    now = utcnow()
    competition(
        settings,
        [
            {
                "slug": "open",
                "title": "Open evaluation",
                "suite": SUITE,
                "hidden_scenarios": [HIDDEN],
            },
            {
                "slug": "final",
                "title": "Final",
                "suite": SUITE,
                "opens_at": now + timedelta(days=5),
                "closes_at": now + timedelta(days=9),
            },
        ],
        tracks=("a100", "rtx4090"),
    )
    with session_scope(settings.database_url) as session:
        tokens = {name: create_team(session, name)[1] for name in ("alpha", "beta")}
        tokens["organizer"] = create_token(session, Role.organizer)
    ids = {}
    for i, (team, scores) in enumerate(A100_SCORES.items()):
        ids[team] = scored(
            settings, team, scores, track="a100", created_at=now - timedelta(hours=10 - i)
        )
    scored(settings, BASELINE, {"mmlu": 0.6, "gsm": 0.5, HIDDEN: 0.5}, track="a100", baseline=True)
    scored(settings, "eta", {"mmlu": 0.4, "gsm": 0.3, HIDDEN: 0.2}, track="rtx4090")
    failed = scored(
        settings,
        "alpha",
        None,
        track="a100",
        status=SubmissionStatus.failed,
        created_at=now - timedelta(hours=2),
    )
    running = scored(
        settings,
        "alpha",
        None,
        track="a100",
        status=SubmissionStatus.evaluating,
        created_at=now - timedelta(hours=1),
    )
    with session_scope(settings.database_url) as session:
        row = session.get(Submission, failed)
        assert row is not None
        row.failure_reason = FailureReason.build_failed
        row.failure_message = FAILURE
        row.build_log = BUILD_LOG
        row.name = "no-network build"
        session.add(
            Evaluation(
                submission_id=running,
                suite_name=SUITE,
                suite_hash="ab" * 32,
                status=EvaluationStatus.running,
                progress_done=3,
                progress_total=10,
                container_log="server: loading weights\nserver: ready",
                startup_log="server: loading weights\nserver: ready",
                started_at=now,
            )
        )
        running_row = session.get(Submission, running)
        assert running_row is not None
        running_row.name = "lora r=16"
    return World(tokens, failed, running, ids["alpha"], ids["beta"])


def finish(settings: Settings, submission_id: str, scores: dict[str, float]) -> None:
    """What the worker does at the end of an evaluation, as far as the page can tell."""
    with session_scope(settings.database_url) as session:
        evaluation = session.query(Evaluation).filter_by(submission_id=submission_id).one()
        evaluation.progress_done = evaluation.progress_total
        evaluation.status = EvaluationStatus.done
        evaluation.scores = scores
        evaluation.overall = sum(scores.values()) / len(scores)
        evaluation.finished_at = utcnow()
        submission = session.get(Submission, submission_id)
        assert submission is not None
        submission.status = SubmissionStatus.scored
        refresh_board_rows(session, submission_id)


def progress(settings: Settings, submission_id: str, done: int) -> None:
    with session_scope(settings.database_url) as session:
        session.query(Evaluation).filter_by(submission_id=submission_id).one().progress_done = done


@pytest.fixture
def world(settings: Settings) -> World:
    return fill(settings)


@pytest.fixture
def client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings, RecordingQueue()))
