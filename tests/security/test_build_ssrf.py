"""The worker never lets the engine fetch for a build, nor build on a submission's image.

Real Docker engine, real worker flow. A listener on this host (all addresses) counts every
connection: a context whose Dockerfile has `ADD http://127.0.0.1:PORT/` and `ADD` of the bridge
gateway is refused by the worker's own check, and the listener sees nothing. The control build
(the same ADD in a phase that allows build network) shows that the engine does reach the listener
when allowed, so "no connection" means the check held, not that the listener was unreachable. The
builder refuses a base image that carries the `podium.submission` label, and never pulls a
missing base.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import docker
import docker.errors
import pytest

from app.auth.service import create_team
from app.config import Settings
from app.kit.db import session_scope
from app.queue import RecordingQueue
from app.submissions.models import FailureReason, Submission, SubmissionStatus
from app.submissions.storage import Storage
from tests.app.factories import competition
from tests.workers.sandbox import conftest as sandbox
from workers import flows
from workers.context import WorkerContext
from workers.gpus import GpuPool
from workers.sandbox.docker_runtime import DockerRuntime
from workers.sandbox.runtime import BuildSpec

pytestmark = pytest.mark.docker
BASE_IMAGE = sandbox.BASE_IMAGE

# The sandbox tests' fixtures: a real DockerRuntime, cleaned up by the session's label.
docker_client = sandbox.docker_client
test_label = sandbox.test_label
labels = sandbox.labels
runtime = sandbox.runtime
make_context = sandbox.make_context
build_spec = sandbox.build_spec
bridge_gateway = sandbox.bridge_gateway


class _Listener:
    """An HTTP server on 0.0.0.0 that records every connection made to it."""

    def __init__(self) -> None:
        self.connections: list[str] = []
        self.paths: list[str] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def setup(self) -> None:
                listener.connections.append(self.client_address[0])
                super().setup()

            def do_GET(self) -> None:
                listener.paths.append(self.path)
                body = b"fetched by the engine\n"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_HEAD = do_GET

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("0.0.0.0", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Listener:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def listener() -> Iterator[_Listener]:
    with _Listener() as server:
        yield server


def _host_address() -> str | None:
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("10.255.255.255", 9))  # no packet is sent: this only picks the route
        address = str(s.getsockname()[0])
        return None if address.startswith("127.") else address
    return None


def _submission(settings: Settings, dockerfile: str, phase_id: str | None = None) -> str:
    with session_scope(settings.database_url) as session:
        team, _ = create_team(session, f"team-{uuid.uuid4().hex[:10]}")
        sub = Submission(team_id=team.id, context_sha256="0" * 64, phase_id=phase_id)
        session.add(sub)
        session.flush()
        sid = sub.id
    context = Storage(settings.data_dir).context_dir(sid)
    context.mkdir(parents=True)
    (context / "Dockerfile").write_text(dockerfile)
    return sid


def _worker(settings: Settings, runtime: DockerRuntime) -> WorkerContext:
    return WorkerContext(
        settings, runtime, GpuPool([], settings.data_dir / "gpu"), RecordingQueue()
    )


def _remove_submission_images(client: docker.DockerClient, sid: str) -> None:
    for image in client.images.list(filters={"label": f"podium.submission={sid}"}):
        with contextlib.suppress(docker.errors.APIError):
            client.images.remove(str(image.id), force=True)


def test_worker_refuses_remote_add_and_the_engine_fetches_nothing(
    settings: Settings,
    runtime: DockerRuntime,
    docker_client: docker.DockerClient,
    listener: _Listener,
    bridge_gateway: str,
) -> None:
    targets = ["127.0.0.1", bridge_gateway, *filter(None, [_host_address()])]
    adds = "".join(
        f"ADD http://{t}:{listener.port}/from-{i} /x{i}\n" for i, t in enumerate(targets)
    )
    # As if the API's check had been skipped (an upload from before the policy): the worker
    # checks again on what it is about to build.
    sid = _submission(settings, f"FROM {BASE_IMAGE}\n{adds}")
    try:
        flows.build_submission(_worker(settings, runtime), sid)
        with session_scope(settings.database_url) as session:
            sub = session.get(Submission, sid)
            assert sub is not None
            assert sub.status is SubmissionStatus.failed
            assert sub.failure_reason is FailureReason.invalid_upload
            assert sub.failure_message is not None
            assert sub.failure_message.startswith(
                f"Dockerfile line 2: ADD http://127.0.0.1:{listener.port}/from-0"
            ), sub.failure_message
            assert sub.image_id is None
        assert listener.connections == []
        assert not docker_client.images.list(filters={"label": f"podium.submission={sid}"})
    finally:
        _remove_submission_images(docker_client, sid)


def test_control_the_engine_does_reach_the_listener_when_the_phase_allows_network(
    settings: Settings,
    runtime: DockerRuntime,
    docker_client: docker.DockerClient,
    listener: _Listener,
) -> None:
    competition(settings, [{"slug": "open", "sandbox": {"build_network": "default"}}])
    from app.competitions.models import Phase

    with session_scope(settings.database_url) as session:
        phase_id = session.query(Phase).one().id
    sid = _submission(
        settings, f"FROM {BASE_IMAGE}\nADD http://127.0.0.1:{listener.port}/allowed /x\n", phase_id
    )
    try:
        flows.build_submission(_worker(settings, runtime), sid)
        with session_scope(settings.database_url) as session:
            sub = session.get(Submission, sid)
            assert sub is not None
            assert sub.failure_reason is not FailureReason.invalid_upload, sub.failure_message
            build_log = sub.build_log or ""
        # The engine fetched the URL itself: what the refusal above prevents.
        assert "/allowed" in listener.paths, build_log
        # The image's tag is not derived from the public submission id.
        tags = re.findall(r"Successfully tagged (\S+)", build_log)
        assert tags and all(tag.startswith("podium/submission:") for tag in tags), build_log
        assert all(sid not in tag for tag in tags), tags
    finally:
        _remove_submission_images(docker_client, sid)


def test_builder_refuses_a_base_image_that_is_a_submission_image(
    runtime: DockerRuntime,
    docker_client: docker.DockerClient,
    make_context: Callable[..., Path],
    build_spec: Callable[..., BuildSpec],
    labels: dict[str, str],
) -> None:
    victim_tag = f"podium-test/victim:{uuid.uuid4().hex[:10]}"
    victim = runtime.build(
        build_spec(
            make_context(f"FROM {BASE_IMAGE}\nCOPY secret /secret\n", secret="team A's code\n"),
            tag=victim_tag,
            labels={**labels, "podium.submission": "victim"},
        )
    )
    assert victim.ok, victim.error
    for dockerfile in (
        f"FROM {victim_tag}\nRUN cat /secret\n",
        f"FROM {BASE_IMAGE}\nCOPY --from={victim_tag} /secret /stolen\n",
        f"FROM {BASE_IMAGE}\nRUN --mount=type=bind,from={victim_tag},target=/m cat /m/secret\n",
    ):
        result = runtime.build(build_spec(make_context(dockerfile)))
        assert not result.ok, dockerfile
        assert not result.worker_fault
        assert "another submission's image" in (result.error or ""), result.error
        assert "team A's code" not in result.log
    # Built by id as well: the engine resolves ids, the label check sees the same image.
    by_id = runtime.build(build_spec(make_context(f"FROM {victim.image_id}\n")))
    assert not by_id.ok and "another submission's image" in (by_id.error or "")


def test_builder_never_pulls_a_missing_base(
    runtime: DockerRuntime,
    make_context: Callable[..., Path],
    build_spec: Callable[..., BuildSpec],
) -> None:
    missing = f"podium-test/not-here:{uuid.uuid4().hex[:10]}"
    result = runtime.build(build_spec(make_context(f"FROM {missing}\n")))
    assert not result.ok and result.worker_fault
    assert f"the base image {missing} is not on this worker" in (result.error or "")
    assert "Pulling" not in result.log
