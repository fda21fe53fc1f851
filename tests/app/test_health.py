"""Liveness, readiness per component, and a database outage answered as 503 JSON with
Retry-After, on a real PostgreSQL that stops taking connections (its own throwaway database:
the server itself stays up for everyone else) and on a port nothing listens on."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from app import presence
from app.auth.models import Role
from app.auth.service import create_team, create_token
from app.config import Settings
from app.health import DATABASE_UNAVAILABLE, RETRY_AFTER_S
from app.kit.db import dispose_engines, session_scope
from app.leaderboard.service import BOARD_TTL_S, STRUCTURE_TTL_S
from app.main import create_app
from app.presence import WorkerBeat
from app.queue import RecordingQueue
from tests.app.factories import competition, scored
from tests.conftest import POSTGRES_ADMIN_URL, SCENARIO_DATA, fresh_postgres_database


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: nothing listens


def _settings(tmp_path: Path, database_url: str, broker_url: str = "memory://") -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path / "data",
        database_url=database_url,
        broker_url=broker_url,
        scenario_data=SCENARIO_DATA,
    )


def test_liveness_looks_at_nothing_else(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/podium"
    client = TestClient(create_app(_settings(tmp_path, url), RecordingQueue()))
    assert client.get("/healthz").json() == {"status": "ok"}


def test_ready_when_database_and_broker_answer(settings: Settings) -> None:
    client = TestClient(create_app(settings, RecordingQueue()))
    answer = client.get("/healthz/ready")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "ready"
    assert body["components"]["database"]["status"] == "ok"
    assert body["components"]["database"]["required"] is True
    assert body["components"]["broker"]["status"] == "ok"
    # No worker has beaten: the engine is unknown, and the API is ready all the same.
    assert body["components"]["engine"] == {
        "status": "unknown",
        "required": False,
        "detail": "no worker is alive",
        "latency_ms": None,
    }


def test_engine_state_comes_from_the_workers_beats(settings: Settings) -> None:
    client = TestClient(create_app(settings, RecordingQueue()))
    beat = WorkerBeat(name="celery@gpu-1", host="gpu-1", pid=1, queues=["evaluate"])
    presence.publish(settings, replace(beat, engine="ok", at=time.time()))
    assert client.get("/healthz/ready").json()["components"]["engine"]["status"] == "ok"
    down = replace(beat, engine="down", engine_error="connection refused", at=time.time())
    presence.publish(settings, down)
    answer = client.get("/healthz/ready")
    engine = answer.json()["components"]["engine"]
    assert engine["status"] == "down" and "connection refused" in engine["detail"]
    assert answer.status_code == 200  # the API itself needs no engine


def test_unready_and_503_when_nothing_listens_for_the_database(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/podium"
    client = TestClient(create_app(_settings(tmp_path, url), RecordingQueue()))
    answer = client.get("/healthz/ready")
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == str(RETRY_AFTER_S)
    components = answer.json()["components"]
    assert components["database"]["status"] == "down"
    assert "OperationalError" in components["database"]["detail"]
    assert components["broker"]["status"] == "ok"
    for path in ("/api/v1/submissions", "/api/v1/leaderboard?competition=comp"):
        got = client.get(path, headers={"Authorization": "Bearer pdm_whatever"})
        assert got.status_code == 503, (path, got.text)
        assert got.json() == {"detail": DATABASE_UNAVAILABLE}
        assert got.headers["retry-after"] == str(RETRY_AFTER_S)


def test_unready_when_the_broker_is_down(tmp_path: Path, sqlite_url: str) -> None:
    broker = f"redis://127.0.0.1:{_closed_port()}/0"
    client = TestClient(create_app(_settings(tmp_path, sqlite_url, broker), RecordingQueue()))
    answer = client.get("/healthz/ready")
    assert answer.status_code == 503
    components = answer.json()["components"]
    assert components["database"]["status"] == "ok"
    assert components["broker"]["status"] == "down"
    assert "ConnectionError" in components["broker"]["detail"]


@pytest.fixture
def outage_db() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url
        _allow_connections(url, True)  # so the fixture can drop it


def _allow_connections(url: str, allow: bool) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allow).lower()}'))
        if not allow:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
    admin.dispose()


@pytest.mark.postgres
def test_postgres_outage_is_503_with_retry_after_and_recovers(
    tmp_path: Path, outage_db: str
) -> None:
    settings = _settings(tmp_path, outage_db)
    competition(settings, [{"slug": "open", "title": "Open"}])
    submission = scored(settings, "alpha", {"mmlu": 0.5})
    with session_scope(outage_db) as session:
        _, team_token = create_team(session, "beta")
        admin_token = create_token(session, Role.admin)
    client = TestClient(create_app(settings, RecordingQueue()))
    team = {"Authorization": f"Bearer {team_token}"}
    admin = {"Authorization": f"Bearer {admin_token}"}
    assert client.get("/api/v1/leaderboard?competition=comp").status_code == 200
    assert client.get("/healthz/ready").status_code == 200

    page_client = TestClient(client.app, cookies={"podium_token": team_token})
    _allow_connections(outage_db, False)
    try:
        # A board read just before may still be served from the API's short cache (a
        # feature); past the cache's lifetime the database is needed again.
        time.sleep(max(BOARD_TTL_S, STRUCTURE_TTL_S) + 0.2)
        requests = [
            client.get("/api/v1/leaderboard?competition=comp"),
            client.get(f"/api/v1/submissions/{submission}", headers=admin),
            client.get("/api/v1/submissions", headers=team),
            # A multipart submission: its token is checked by the route's dependency.
            client.post(
                "/api/v1/submissions",
                headers=team,
                files={"context": ("c.tar", b"x" * 10, "application/x-tar")},
            ),
            # A JSON body: its token is checked before routing (app/kit/body_limit.py).
            client.post("/api/v1/admin/teams", headers=admin, json={"name": "gamma"}),
            page_client.get("/submissions"),
        ]
        for answer in requests:
            where = f"{answer.request.method} {answer.request.url.path}"
            assert answer.status_code == 503, (where, answer.text)
            assert answer.json() == {"detail": DATABASE_UNAVAILABLE}, where
            assert answer.headers["retry-after"] == str(RETRY_AFTER_S), where
        ready = client.get("/healthz/ready")
        assert ready.status_code == 503
        database = ready.json()["components"]["database"]
        assert database["status"] == "down" and database["required"] is True
        assert "not currently accepting connections" in database["detail"]
        assert client.get("/healthz").status_code == 200
    finally:
        _allow_connections(outage_db, True)

    # The pool reconnects on the next request: no restart needed.
    assert client.get("/api/v1/leaderboard?competition=comp").status_code == 200
    assert client.get(f"/api/v1/submissions/{submission}", headers=admin).status_code == 200
    assert client.get("/healthz/ready").status_code == 200
    dispose_engines(outage_db)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_bug_in_sql_is_still_a_500_not_a_503(settings: Settings) -> None:
    """Only availability errors become 503: a constraint violation is a bug to see."""
    from sqlalchemy.exc import IntegrityError

    from app.health import is_database_unavailable

    with pytest.raises(IntegrityError) as caught, session_scope(settings.database_url) as session:
        session.execute(text("INSERT INTO teams (id) VALUES (NULL)"))
    assert not is_database_unavailable(caught.value)
