"""`/metrics`: who may read it, and that each figure matches the state it was built from (rows
written as the service writes them, tasks sent through the real broker client)."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app import presence
from app.auth.models import Role
from app.auth.service import create_team, create_token
from app.config import Settings
from app.kit.db import session_scope, utcnow
from app.main import create_app
from app.presence import WorkerBeat
from app.queue import BUILD_TASK, EVALUATE_TASK, CeleryQueue, RecordingQueue
from app.submissions.models import RESCORE, Evaluation, EvaluationStatus, SubmissionStatus
from tests.app.factories import competition, scored
from tests.conftest import REDIS_URL, SCENARIO_DATA, require

METRICS_TOKEN = "scrape-" + "x" * 30


def _samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _value(body: str, name: str, **labels: str) -> float:
    return _samples(body)[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def metrics_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"metrics_token": METRICS_TOKEN})


def _scrape(client: TestClient, token: str = METRICS_TOKEN) -> str:
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return answer.text


def test_who_may_scrape(metrics_settings: Settings) -> None:
    with session_scope(metrics_settings.database_url) as session:
        _, team = create_team(session, "alpha")
        organizer = create_token(session, Role.organizer)
        admin = create_token(session, Role.admin)
        worker = create_token(session, Role.worker)
    client = TestClient(create_app(metrics_settings, RecordingQueue()))
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    wrong = METRICS_TOKEN[:-1] + "y"
    assert client.get("/metrics", headers={"Authorization": f"Bearer {wrong}"}).status_code == 401
    for token in (team, worker):
        got = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert got.status_code == 403, got.text
    for token in (METRICS_TOKEN, organizer, admin):
        assert "podium_up" in _scrape(client, token)


def test_work_per_status_durations_and_model_requests(metrics_settings: Settings) -> None:
    settings = metrics_settings
    competition(settings, [{"slug": "open", "title": "Open"}])
    now = utcnow()
    done = scored(settings, "team-secret-name", {"mmlu": 0.5})
    scored(settings, "beta", None, status=SubmissionStatus.failed)
    running = scored(settings, "gamma", None, status=SubmissionStatus.evaluating)
    scored(settings, "delta", None, status=SubmissionStatus.queued)
    with session_scope(settings.database_url) as session:
        evaluation = session.query(Evaluation).filter_by(submission_id=done).one()
        evaluation.started_at, evaluation.finished_at = now - timedelta(seconds=90), now
        evaluation.progress_done = 40
        session.add(
            Evaluation(
                submission_id=running,
                suite_name="smoke",
                status=EvaluationStatus.running,
                progress_done=30,
                progress_total=100,
                started_at=now - timedelta(seconds=10),
                heartbeat_at=now - timedelta(seconds=7),
            )
        )
        # A rescore asks no model: its progress is no model traffic.
        session.add(
            Evaluation(
                submission_id=done,
                suite_name="smoke",
                status=EvaluationStatus.done,
                kind=RESCORE,
                progress_done=1000,
                started_at=now - timedelta(seconds=2000),
                finished_at=now,
            )
        )
    client = TestClient(create_app(settings, RecordingQueue()))
    body = _scrape(client)
    assert "team-secret-name" not in body and done not in body and running not in body
    for status, count in (("scored", 1), ("failed", 1), ("evaluating", 1), ("queued", 1)):
        assert _value(body, "podium_submissions", status=status) == count
    assert _value(body, "podium_submissions", status="building") == 0
    assert _value(body, "podium_evaluations", status="done") == 2
    assert _value(body, "podium_evaluations", status="running") == 1
    name = "podium_evaluation_duration_seconds"
    assert _value(body, name + "_count") == 2
    assert _value(body, name + "_sum") == pytest.approx(2090, abs=1)
    assert _value(body, name + "_bucket", le="60.0") == 0
    assert _value(body, name + "_bucket", le="300.0") == 1
    assert _value(body, name + "_bucket", le="3600.0") == 2
    assert _value(body, "podium_model_requests_total") == 70
    assert _value(body, "podium_model_requests_per_second") == pytest.approx(3.0, rel=0.2)
    age = _value(body, "podium_running_evaluation_heartbeat_age_seconds")
    assert 6 <= age < 60
    assert _value(body, "podium_up", component="database") == 1


def test_api_latency_per_route_template(metrics_settings: Settings) -> None:
    competition(metrics_settings, [{"slug": "open", "title": "Open"}])
    submission = scored(metrics_settings, "alpha", {"mmlu": 0.5})
    with session_scope(metrics_settings.database_url) as session:
        admin = {"Authorization": f"Bearer {create_token(session, Role.admin)}"}
    client = TestClient(create_app(metrics_settings, RecordingQueue()))
    for _ in range(3):
        assert client.get(f"/api/v1/submissions/{submission}", headers=admin).status_code == 200
    assert client.get(f"/api/v1/submissions/{'0' * 32}", headers=admin).status_code == 404
    client.get("/no/such/page/" + uuid.uuid4().hex)
    body = _scrape(client)
    assert submission not in body
    name = "podium_http_request_duration_seconds_count"
    route = "/api/v1/submissions/{submission_id}"
    assert _value(body, name, method="GET", route=route, status="2xx") == 3
    assert _value(body, name, method="GET", route=route, status="4xx") == 1
    assert _value(body, name, method="GET", route="unmatched", status="4xx") == 1


def test_queue_depth_on_the_filesystem_broker(tmp_path: Path, sqlite_url: str) -> None:
    settings = Settings(
        environment="test",
        data_dir=tmp_path / "data",
        database_url=sqlite_url,
        broker_url="",
        scenario_data=SCENARIO_DATA,
        metrics_token=METRICS_TOKEN,
    )
    queue = CeleryQueue(settings)
    for _ in range(3):
        queue.send(BUILD_TASK, ["s"])
    queue.send(EVALUATE_TASK, ["e"])
    body = _scrape(TestClient(create_app(settings, RecordingQueue())))
    assert _value(body, "podium_queue_depth", queue="build") == 3
    assert _value(body, "podium_queue_depth", queue="evaluate") == 1
    assert _value(body, "podium_up", component="broker") == 1


def _redis_up(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.mark.redis
def test_queue_depth_and_workers_on_redis(tmp_path: Path, sqlite_url: str) -> None:
    # A db no other test uses (e2e tests take 11-15): these counts are absolute, and it is flushed.
    url = REDIS_URL.rsplit("/", 1)[0] + "/9"
    require(_redis_up(url), f"Redis at {url}")
    client_redis = redis.Redis.from_url(url)
    client_redis.flushdb()
    settings = Settings(
        environment="test",
        data_dir=tmp_path / "data",
        database_url=sqlite_url,
        broker_url=url,
        scenario_data=SCENARIO_DATA,
        metrics_token=METRICS_TOKEN,
        heartbeat_s=2,
    )
    try:
        queue = CeleryQueue(settings)
        for _ in range(2):
            queue.send(EVALUATE_TASK, ["e"])
        beat = WorkerBeat(
            name="celery@gpu-host",
            host="gpu-host",
            pid=42,
            queues=["evaluate"],
            gpus=["0", "1", "2"],
            gpus_leased=["1"],
            engine="ok",
            images_bytes=5 * 1024**3,
            at=time.time() - 1,
        )
        presence.publish(settings, beat)
        lost = WorkerBeat(name="celery@gone", host="gone", pid=1, queues=[], at=time.time() - 60)
        presence.publish(settings, lost)
        body = _scrape(TestClient(create_app(settings, RecordingQueue())))
        assert _value(body, "podium_queue_depth", queue="evaluate") == 2
        assert _value(body, "podium_queue_depth", queue="build") == 0
        assert _value(body, "podium_workers_alive") == 1
        assert _value(body, "podium_worker_gpus", worker="celery@gpu-host") == 3
        assert _value(body, "podium_gpu_leases", worker="celery@gpu-host") == 1
        assert _value(body, "podium_worker_engine_up", worker="celery@gpu-host") == 1
        assert _value(body, "podium_worker_image_bytes", worker="celery@gpu-host") == 5 * 1024**3
        assert 1 <= _value(body, "podium_worker_heartbeat_age_seconds", worker="celery@gpu-host")
        assert _value(body, "podium_worker_heartbeat_age_seconds", worker="celery@gone") >= 60
        assert ("podium_gpu_leases", (("worker", "celery@gone"),)) not in _samples(body)
        # The beat expires in Redis by itself: a worker that stops beating needs no cleanup.
        assert 0 < client_redis.ttl(presence.KEY_PREFIX + "celery@gpu-host") <= 20
    finally:
        client_redis.flushdb()


def test_database_down_still_serves_the_rest(tmp_path: Path) -> None:
    """A scrape during an outage says so (podium_up 0) instead of failing whole."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(
        environment="test",
        data_dir=tmp_path / "data",
        database_url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/podium",
        broker_url="",
        scenario_data=SCENARIO_DATA,
        metrics_token=METRICS_TOKEN,
    )
    body = _scrape(TestClient(create_app(settings, RecordingQueue())))
    assert _value(body, "podium_up", component="database") == 0
    assert _value(body, "podium_up", component="broker") == 1
    assert _value(body, "podium_queue_depth", queue="build") == 0
