"""Submissions inside a competition: routing to track and phase, closed phases, quotas (also
under parallel uploads), on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from app.competitions.config import CompetitionConfig
from app.competitions.models import Phase, Track
from app.competitions.service import apply_competition
from app.config import Settings
from app.kit.db import session_scope, utcnow
from app.submissions.models import FailureReason, Submission, SubmissionStatus
from tests.helpers import MINIMAL_DOCKERFILE, make_tar

CONTEXT = make_tar({"Dockerfile": MINIMAL_DOCKERFILE})


def _apply(
    settings: Settings, tracks: list[str], quotas: dict[str, int], closed: bool = False
) -> None:
    now = utcnow()
    window = (
        (now - timedelta(days=10), now - timedelta(days=1))
        if closed
        else (now - timedelta(days=1), now + timedelta(days=1))
    )
    config = CompetitionConfig.model_validate(
        {
            "slug": "comp",
            "tracks": [{"slug": t} for t in tracks],
            "phases": [
                {
                    "slug": "open",
                    "suite": "smoke",
                    "opens_at": window[0],
                    "closes_at": window[1],
                    "quotas": quotas,
                }
            ],
        }
    )
    with session_scope(settings.database_url) as session:
        apply_competition(session, config)


def _post(
    client: TestClient, headers: dict[str, str], **fields: str
) -> tuple[int, dict[str, object]]:
    resp = client.post(
        "/api/v1/submissions", headers=headers, files={"context": ("c.tgz", CONTEXT)}, data=fields
    )
    return resp.status_code, resp.json()


def _set_status(
    settings: Settings, sid: str, status: SubmissionStatus, reason: FailureReason | None = None
) -> None:
    with session_scope(settings.database_url) as session:
        session.execute(
            update(Submission)
            .where(Submission.id == sid)
            .values(status=status, failure_reason=reason)
        )


def test_routes_to_the_only_track_and_the_open_phase(
    settings: Settings, client: TestClient, team_a: dict[str, str]
) -> None:
    _apply(settings, ["main"], {})
    code, body = _post(client, team_a)
    assert code == 201, body
    with session_scope(settings.database_url) as session:
        sub = session.get(Submission, body["id"])
        assert sub is not None and sub.phase_id and sub.track_id
        assert session.get(Phase, sub.phase_id).slug == "open"  # type: ignore[union-attr]
        assert session.get(Track, sub.track_id).slug == "main"  # type: ignore[union-attr]


def test_two_tracks_need_a_name(
    settings: Settings, client: TestClient, team_a: dict[str, str]
) -> None:
    _apply(settings, ["a100", "4090"], {})
    code, body = _post(client, team_a)
    assert code == 400 and "a100, 4090" in str(body["detail"])
    code, body = _post(client, team_a, track="h100")
    assert code == 400 and "no track 'h100'" in str(body["detail"])
    assert _post(client, team_a, track="4090")[0] == 201


def test_closed_phase_refuses(
    settings: Settings, client: TestClient, team_a: dict[str, str]
) -> None:
    _apply(settings, ["main"], {}, closed=True)
    code, body = _post(client, team_a)
    assert code == 409 and "ended" in str(body["detail"])
    resp = client.post(
        "/api/v1/submissions?phase=open", headers=team_a, files={"context": ("c.tgz", CONTEXT)}
    )
    assert resp.status_code == 409 and "closed at" in resp.json()["detail"]
    assert (
        not list((settings.data_dir / "contexts").glob("*"))
        if (settings.data_dir / "contexts").exists()
        else True
    )


def test_daily_quota_says_when_it_resets_and_cancelled_do_not_count(
    settings: Settings, client: TestClient, team_a: dict[str, str], team_b: dict[str, str]
) -> None:
    _apply(settings, ["main"], {"per_day": 2})
    first = _post(client, team_a)[1]
    assert _post(client, team_a)[0] == 201
    code, body = _post(client, team_a)
    assert code == 429
    assert "daily limit of 2" in str(body["detail"]) and "resets at" in str(body["detail"])
    assert _post(client, team_b)[0] == 201  # quotas are per team
    _set_status(settings, str(first["id"]), SubmissionStatus.cancelled)
    assert _post(client, team_a)[0] == 201


def test_failed_runs_have_their_own_cap(
    settings: Settings, client: TestClient, team_a: dict[str, str]
) -> None:
    _apply(settings, ["main"], {"per_day": 10, "failed_per_day": 1})
    first = _post(client, team_a)[1]
    _set_status(settings, str(first["id"]), SubmissionStatus.failed, FailureReason.crashed)
    code, body = _post(client, team_a)
    assert code == 429 and "failed" in str(body["detail"])
    # Podium's own failures are not the team's: they count nowhere.
    _set_status(settings, str(first["id"]), SubmissionStatus.failed, FailureReason.internal_error)
    assert _post(client, team_a)[0] == 201


def test_concurrent_limit(settings: Settings, client: TestClient, team_a: dict[str, str]) -> None:
    _apply(settings, ["main"], {"concurrent": 1})
    first = _post(client, team_a)[1]
    code, body = _post(client, team_a)
    assert code == 429 and "still queued or running" in str(body["detail"])
    _set_status(settings, str(first["id"]), SubmissionStatus.scored)
    assert _post(client, team_a)[0] == 201


@pytest.mark.parametrize("parallel", [8])
def test_parallel_uploads_cannot_pass_the_quota(
    settings: Settings, client: TestClient, team_a: dict[str, str], parallel: int
) -> None:
    _apply(settings, ["main"], {"total": 3})
    with ThreadPoolExecutor(parallel) as pool:
        codes = list(pool.map(lambda _: _post(client, team_a)[0], range(parallel)))
    assert sorted(codes) == [201] * 3 + [429] * (parallel - 3)
    with session_scope(settings.database_url) as session:
        assert session.query(Submission).count() == 3
    stored = list((settings.data_dir / "contexts").iterdir())
    assert len(stored) == 3
    assert not any(Path(settings.data_dir / "staging").iterdir())
