"""Leaderboards on a real database: entry rules, modes, baselines, hidden scenarios, export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.kit.db import session_scope, utcnow
from app.leaderboard.service import leaderboard
from tests.app.factories import competition, scored


def board(settings: Settings, **kwargs: object):  # type: ignore[no-untyped-def]
    with session_scope(settings.database_url) as session:
        return leaderboard(session, **kwargs)  # type: ignore[arg-type]


def test_mean_best_per_team_ties_share_and_missing_last(settings: Settings) -> None:
    competition(settings, [{"slug": "open", "leaderboard": {"mode": "mean", "entry": "best"}}])
    scored(settings, "alpha", {"mmlu": 0.4, "gsm": 0.6})
    best = scored(settings, "alpha", {"mmlu": 0.8, "gsm": 0.6})
    scored(settings, "beta", {"mmlu": 0.7, "gsm": 0.7})
    scored(settings, "gamma", {"mmlu": 0.6, "gsm": 0.8})
    scored(settings, "delta", {"mmlu": 0.9})  # missing gsm: ranks last in mean mode
    rows = board(settings).entries
    assert [(r.team, r.rank) for r in rows] == [
        ("alpha", 1),
        ("beta", 1),
        ("gamma", 1),
        ("delta", 4),
    ]
    assert next(r for r in rows if r.team == "alpha").submission_id == best
    assert rows[0].overall == pytest.approx(0.7)
    assert rows[-1].overall is None
    assert rows[0].latency_p50_s == 0.5 and rows[0].tokens_per_s == 42.0


def test_latest_rule(settings: Settings) -> None:
    competition(settings, [{"slug": "open", "leaderboard": {"entry": "latest"}}])
    now = utcnow()
    scored(settings, "alpha", {"mmlu": 0.9}, created_at=now - timedelta(hours=2))
    latest = scored(settings, "alpha", {"mmlu": 0.1}, created_at=now - timedelta(hours=1))
    rows = board(settings).entries
    assert [(r.team, r.submission_id, r.overall) for r in rows] == [("alpha", latest, 0.1)]


def test_winrate_worked_example(settings: Settings) -> None:
    # Win rates per scenario (3 entries: each beats the others it exceeds, ties count half):
    #   mmlu: a=0.9 (2/2=1.0), b=0.5 (1/2=0.5), c=0.1 (0/2=0.0)
    #   gsm:  a=0.2 (0/2=0.0), b=0.5 (1/2=0.5), c=0.8 (2/2=1.0)
    # Stage score = geometric mean over scenarios: a=sqrt(1*0)=0, b=sqrt(.5*.5)=0.5, c=0.
    competition(settings, [{"slug": "open", "leaderboard": {"mode": "winrate"}}])
    scored(settings, "a", {"mmlu": 0.9, "gsm": 0.2})
    scored(settings, "b", {"mmlu": 0.5, "gsm": 0.5})
    scored(settings, "c", {"mmlu": 0.1, "gsm": 0.8})
    rows = board(settings).entries
    assert [(r.team, r.rank, r.overall) for r in rows] == [
        ("b", 1, pytest.approx(0.5)),
        ("a", 2, 0.0),
        ("c", 2, 0.0),
    ]


def test_neurips2023_worked_example(settings: Settings) -> None:
    # The same board under the 2023 organizers' arithmetic (n = 3, the entry itself counted):
    #   mmlu: a=0.9 beats 2 -> 2/3, b beats 1 -> 1/3, c -> 0/3
    #   gsm:  a -> 0/3, b -> 1/3, c -> 2/3
    # geometric mean, a zero replaced by the smallest float: b = 1/3, a = c = sqrt(2/3 * eps).
    competition(settings, [{"slug": "open", "leaderboard": {"mode": "neurips2023"}}])
    scored(settings, "a", {"mmlu": 0.9, "gsm": 0.2})
    scored(settings, "b", {"mmlu": 0.5, "gsm": 0.5})
    scored(settings, "c", {"mmlu": 0.1, "gsm": 0.8})
    result = board(settings)
    assert result.mode == "neurips2023"
    rows = result.entries
    assert [(r.team, r.rank) for r in rows] == [("b", 1), ("a", 2), ("c", 2)]
    assert rows[0].overall == pytest.approx(1 / 3)
    assert rows[1].overall is not None and 0 < rows[1].overall < 1e-100


def test_overall_weights_phases(settings: Settings) -> None:
    competition(
        settings,
        [
            {"slug": "open", "weight": 1, "leaderboard": {"mode": "mean"}},
            {"slug": "final", "weight": 3, "leaderboard": {"mode": "mean"}},
        ],
    )
    scored(settings, "a", {"mmlu": 1.0}, phase="open")
    scored(settings, "a", {"mmlu": 0.0}, phase="final")
    scored(settings, "b", {"mmlu": 0.0}, phase="open")
    scored(settings, "b", {"mmlu": 0.5}, phase="final")
    rows = board(settings, phase="overall").entries
    # a: (1*1.0 + 3*0.0)/4 = 0.25; b: (1*0 + 3*0.5)/4 = 0.375
    assert [(r.team, r.overall) for r in rows] == [
        ("b", pytest.approx(0.375)),
        ("a", pytest.approx(0.25)),
    ]


def test_baselines_marked_not_ranked_and_disqualified_gone(settings: Settings) -> None:
    competition(settings, [{"slug": "open"}])
    scored(settings, "alpha", {"mmlu": 0.5})
    scored(settings, "organizers", {"mmlu": 0.9}, baseline=True)
    scored(settings, "cheater", {"mmlu": 1.0}, disqualified="trained on the test set")
    rows = board(settings).entries
    assert [(r.team, r.rank, r.is_baseline) for r in rows] == [
        ("alpha", 1, False),
        ("organizers", None, True),
    ]


def test_hidden_scenarios_only_for_organizers(settings: Settings) -> None:
    competition(settings, [{"slug": "open", "hidden_scenarios": ["mmlu"]}])
    scored(settings, "alpha", {"mmlu": 0.9})
    public = board(settings)
    assert public.entries[0].scores == {} and public.scenarios == []
    full = board(settings, show_hidden=True)
    assert full.entries[0].scores == {"mmlu": 0.9} and full.scenarios == ["mmlu"]


def test_pagination_and_csv(
    settings: Settings, client: TestClient, organizer: dict[str, str]
) -> None:
    competition(settings, [{"slug": "open"}])
    for i in range(5):
        scored(settings, f"team{i}", {"mmlu": i / 10})
    page = client.get("/api/v1/leaderboard", params={"per_page": 2, "page": 2}).json()
    assert page["total"] == 5 and [e["team"] for e in page["entries"]] == ["team2", "team1"]
    assert [e["rank"] for e in page["entries"]] == [3, 4]
    resp = client.get("/api/v1/leaderboard", params={"format": "csv"})
    assert resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert [r["team"] for r in rows] == [f"team{i}" for i in range(4, -1, -1)]
    assert rows[0]["rank"] == "1" and rows[0]["mmlu"] == "0.400000"


def test_unknown_names_are_404(client: TestClient, settings: Settings) -> None:
    competition(settings, [{"slug": "open"}])
    assert client.get("/api/v1/leaderboard", params={"track": "x"}).status_code == 404
    assert client.get("/api/v1/leaderboard", params={"phase": "x"}).status_code == 404
    assert client.get("/api/v1/leaderboard", params={"competition": "x"}).status_code == 404
