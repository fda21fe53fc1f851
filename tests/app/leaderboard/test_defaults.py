"""Which board a caller gets when naming nothing, and the `default` board that keeps every scored
submission on some board. Real database, real HTTP through the app."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from app.competitions.config import CompetitionConfig
from app.competitions.models import Track
from app.competitions.service import apply_competition
from app.config import Settings
from app.kit.db import session_scope, utcnow
from app.submissions.models import Submission
from tests.app.factories import scored


def _competition(
    settings: Settings,
    slug: str,
    opened_days_ago: float,
    *,
    tracks: tuple[str, ...] = ("main",),
    hidden: tuple[str, ...] = (),
) -> None:
    now = utcnow()
    phase: dict[str, Any] = {
        "slug": f"{slug}-open",
        "suite": "neurips2023-open" if hidden else "smoke",
        "opens_at": now - timedelta(days=opened_days_ago),
        "closes_at": now + timedelta(days=30),
        "hidden_scenarios": list(hidden),
    }
    config = CompetitionConfig.model_validate(
        {"slug": slug, "tracks": [{"slug": t} for t in tracks], "phases": [phase]}
    )
    with session_scope(settings.database_url) as session:
        apply_competition(session, config)


def test_two_competitions_the_bare_request_gets_the_latest_opened(
    settings: Settings, client: TestClient
) -> None:
    _competition(settings, "spring", opened_days_ago=40)
    _competition(settings, "autumn", opened_days_ago=2, tracks=("a100", "rtx4090"))
    scored(settings, "alpha", {"mmlu": 0.5}, phase="spring-open", track="main")
    scored(settings, "beta", {"mmlu": 0.7}, phase="autumn-open", track="a100")

    resp = client.get("/api/v1/leaderboard")
    assert resp.status_code == 200, resp.text
    board = resp.json()
    assert (board["competition"], board["track"], board["phase"]) == (
        "autumn",
        "a100",
        "autumn-open",
    )
    assert [e["team"] for e in board["entries"]] == ["beta"]
    assert board["picked"] == ["competition", "track", "phase"]
    assert board["competitions"] == ["autumn", "spring"]
    assert "'autumn'" in board["note"] and "spring" in board["note"]
    assert "track 'a100'" in board["note"]

    named = client.get("/api/v1/leaderboard", params={"competition": "spring"}).json()
    assert [e["team"] for e in named["entries"]] == ["alpha"]
    assert named["picked"] == ["track", "phase"] and named["note"] is None


def test_an_open_phase_beats_a_later_one_that_has_not_opened(
    settings: Settings, client: TestClient
) -> None:
    _competition(settings, "running", opened_days_ago=20)
    _competition(settings, "upcoming", opened_days_ago=-3)  # opens in three days
    assert client.get("/api/v1/leaderboard").json()["competition"] == "running"


def test_submissions_from_before_any_competition_stay_on_the_default_board(
    settings: Settings, client: TestClient
) -> None:
    early = scored(settings, "pioneer", {"mmlu": 0.4}, phase=None, track=None)
    alone = client.get("/api/v1/leaderboard").json()
    assert alone["competition"] == "default" and alone["competitions"] == ["default"]
    assert [e["submission_id"] for e in alone["entries"]] == [early]

    _competition(settings, "spring", opened_days_ago=1)
    scored(settings, "alpha", {"mmlu": 0.5}, phase="spring-open", track="main")
    bare = client.get("/api/v1/leaderboard").json()
    assert bare["competition"] == "spring" and bare["competitions"] == ["spring", "default"]
    assert "default" in bare["note"]
    board = client.get("/api/v1/leaderboard", params={"competition": "default"}).json()
    assert [e["submission_id"] for e in board["entries"]] == [early]
    assert board["phase"] is None and board["picked"] == []
    refused = client.get("/api/v1/leaderboard", params={"competition": "default", "track": "x"})
    assert refused.status_code == 404 and "leave track out" in refused.json()["detail"]
    missing = client.get("/api/v1/leaderboard", params={"competition": "nope"})
    assert missing.status_code == 404 and "spring, default" in missing.json()["detail"]


def test_a_removed_track_moves_its_submissions_to_the_default_board(
    settings: Settings, client: TestClient
) -> None:
    _competition(settings, "spring", opened_days_ago=1, tracks=("main", "gone"))
    orphan = scored(settings, "alpha", {"mmlu": 0.5}, phase="spring-open", track="gone")
    with session_scope(settings.database_url) as session:
        track = session.query(Track).filter_by(slug="gone").one()
        session.delete(track)
    with session_scope(settings.database_url) as session:
        row = session.get(Submission, orphan)
        assert row is not None and row.track_id is None
    board = client.get("/api/v1/leaderboard", params={"competition": "default"}).json()
    assert [e["submission_id"] for e in board["entries"]] == [orphan]
    assert "default" in client.get("/api/v1/leaderboard").json()["competitions"]


def test_the_default_board_hides_what_any_phase_hides(
    settings: Settings, client: TestClient, organizer: dict[str, str]
) -> None:
    scored(settings, "pioneer", {"mmlu": 0.4, "bbq": 0.9}, phase=None, track=None)
    _competition(settings, "spring", opened_days_ago=1, hidden=("bbq",))
    public = client.get("/api/v1/leaderboard", params={"competition": "default"}).json()
    assert public["scenarios"] == ["mmlu"] and public["entries"][0]["scores"] == {"mmlu": 0.4}
    full = client.get(
        "/api/v1/leaderboard", params={"competition": "default"}, headers=organizer
    ).json()
    assert full["scenarios"] == ["bbq", "mmlu"]
