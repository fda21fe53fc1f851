"""A worker on another host: build contexts and weights come from the API, not a shared disk."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from app.auth.models import Role
from app.auth.service import create_team, create_token
from app.config import Settings
from app.kit.db import session_scope
from app.main import create_app
from app.queue import RecordingQueue
from evaluator.testing.fake_server import FakeServerConfig
from tests.helpers import make_tar
from tests.workers.test_flows import Harness
from workers import flows
from workers.artifacts import ArtifactUnavailable, ensure_context, ensure_weights

FILES = {"Dockerfile": b"FROM scratch\n", "app/server.py": b"print('hello')\n"}
WEIGHTS = b"\x07" * 300_000


@pytest.fixture
def api(settings: Settings) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, RecordingQueue()), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _uploaded(settings: Settings) -> tuple[str, str]:
    with session_scope(settings.database_url) as session:
        _, token = create_team(session, "remote")
    client = TestClient(create_app(settings, RecordingQueue()))
    resp = client.post(
        "/api/v1/submissions",
        headers={"Authorization": f"Bearer {token}"},
        files={"context": ("c.tgz", make_tar(FILES)), "weights": ("model.bin", WEIGHTS)},
    )
    assert resp.status_code == 201, resp.text
    weights = next((settings.data_dir / "weights").iterdir()).name
    return resp.json()["id"], weights


def _remote(settings: Settings, tmp_path: Path, api: str) -> Settings:
    with session_scope(settings.database_url) as session:
        token = create_token(session, Role.worker)
    return settings.model_copy(
        update={"data_dir": tmp_path / "remote-worker", "artifacts_url": api, "worker_token": token}
    )


def test_downloads_context_and_weights_once(settings: Settings, tmp_path: Path, api: str) -> None:
    sid, sha = _uploaded(settings)
    remote = _remote(settings, tmp_path, api)
    context = ensure_context(remote, sid)
    assert context.is_relative_to(remote.data_dir)
    assert {
        str(p.relative_to(context)): p.read_bytes() for p in context.rglob("*") if p.is_file()
    } == FILES
    weights = ensure_weights(remote, sha)
    assert (weights / "model.bin").read_bytes() == WEIGHTS
    # Already there: no second download (a worker without the URL still finds it).
    offline = remote.model_copy(update={"artifacts_url": "", "worker_token": ""})
    assert ensure_weights(offline, sha) == weights
    assert not any((remote.data_dir / "staging").iterdir())


def test_refusals_say_what_is_wrong(settings: Settings, tmp_path: Path, api: str) -> None:
    sid, _ = _uploaded(settings)
    remote = _remote(settings, tmp_path, api)
    with pytest.raises(ArtifactUnavailable, match="HTTP 401"):
        ensure_context(remote.model_copy(update={"worker_token": "pdm_wrong"}), sid)
    with pytest.raises(ArtifactUnavailable, match="HTTP 404"):
        ensure_weights(remote, "0" * 64)
    with pytest.raises(ArtifactUnavailable, match="PODIUM_ARTIFACTS_URL is not set"):
        ensure_context(remote.model_copy(update={"artifacts_url": "", "worker_token": ""}), sid)
    with pytest.raises(ValueError, match="PODIUM_WORKER_TOKEN"):
        Settings(artifacts_url=api, worker_token="")


def test_flows_on_a_worker_without_the_shared_disk(
    settings: Settings, tmp_path: Path, api: str
) -> None:
    sid, sha = _uploaded(settings)
    remote = _remote(settings, tmp_path, api)
    harness = Harness(remote, FakeServerConfig())
    harness.build(sid)
    assert harness.runtime.builds[0].context_dir == remote.data_dir / "contexts" / sid
    flows.evaluate(harness.ctx, harness.evaluation_id())
    sub, _ = harness.get(sid)
    assert sub.status.value == "scored", sub.failure_message
    assert harness.runtime.started[0].weights_dir == remote.data_dir / "weights" / sha
