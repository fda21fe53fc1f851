"""Faults on the production shape (issue 9's recovery target): the API (`podium serve`) and a
worker with `--beat` as processes, on a PostgreSQL cluster and a Redis server of the test's own,
building and running containers on the real Docker engine.

Each test kills or stops one part in the middle of real work, brings it back, and checks that
every submission reaches the same terminal state and score as an undisturbed run within 60 s of
the fault ending, that none is lost or scored twice (the `evaluations` rows), and that the model
servers were asked again at most what was in flight when the fault struck (every `/process`
request a model container answered, counted from the `ASKED` lines of every container of the
submission, whichever attempt started it).

The machine's shared PostgreSQL and Redis are never touched: other people's tests use them.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from app.kit.migrate import upgrade
from app.queue import BUILD_TASK, EVALUATE_TASK
from tests.conftest import SCENARIO_DATA, require
from tests.e2e.conftest import (
    BASE_IMAGE,
    REPO,
    Stack,
    _remove_images,
    _wait_http,
    docker_ready,
    free_port,
)
from tests.e2e.test_golden_path import context_tar

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.postgres, pytest.mark.redis]

RECOVERY_S = 60.0
"""The target: every submission finished this long after the fault ended."""
EVAL_CONCURRENCY = 2
"""Requests a model server has in flight at once: the most a fault may make it answer twice."""
FAST = {
    "PODIUM_HEARTBEAT_S": "1",
    "PODIUM_REAP_EVERY_S": "2",
    "PODIUM_LOST_AFTER_S": "5",
    "PODIUM_TASK_RETRY_BACKOFF_MAX_S": "2",
    "PODIUM_EVAL_CONCURRENCY": str(EVAL_CONCURRENCY),
}
SLOW_ANSWER_S = "0.3"
"""`slow` answers ' A' like `always`, in this long: the smoke suite's 40 requests take ~6 s."""
TERMINAL = ("scored", "failed", "cancelled")


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _as_postgres(argv: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root.
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@dataclass
class PrivatePostgres:
    """A throw-away PostgreSQL cluster on its own port and socket directory."""

    bin: Path
    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/podium"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), *args]),
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        )
        self._ctl("-l", str(self.root / "postgres.log"), "-w", "-t", "30", "-o", options, "start")

    def stop(self) -> None:
        # `fast`: open connections are cut at once, as a crash or a failover cuts them.
        self._ctl("-m", "fast", "-w", "-t", "30", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    pg_bin = _pg_bin()
    require(pg_bin is not None, "PostgreSQL's server binaries (initdb, pg_ctl)")
    assert pg_bin is not None
    # Not under pytest's tmp_path: its parents are private to root, and the server runs as
    # `postgres`.
    root = Path(tempfile.mkdtemp(prefix="podium-faults-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    pg = PrivatePostgres(pg_bin, root, free_port())
    try:
        subprocess.run(
            _as_postgres(
                [str(pg_bin / "initdb"), "-D", str(pg.data), "-A", "trust", "-U", "postgres"]
                + ["-E", "UTF8", "--no-sync"]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        pg.start()
        admin = create_engine(pg.url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE podium"))
        admin.dispose()
        upgrade(pg.url)
        yield pg
    finally:
        if pg.running():
            subprocess.run(
                _as_postgres([str(pg_bin / "pg_ctl"), "-D", str(pg.data), "-m", "immediate"])
                + ["-w", "stop"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class PrivateRedis:
    """A Redis server of the test's own, without persistence: killing it loses every task."""

    root: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(self.root)]
        self.proc = subprocess.Popen(
            argv,
            stdout=(self.root / "redis.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        import redis

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_connect_timeout=1).ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError(f"redis-server on port {self.port} did not answer within 20 s")

    def waiting_tasks(self) -> int:
        """Build and evaluate tasks waiting in the broker (kombu keeps each queue in a list;
        the reaper's own tasks ride on the build queue and are not counted)."""
        import redis

        client = redis.Redis(port=self.port)
        try:
            raw = [m for queue in ("build", "evaluate") for m in client.lrange(queue, 0, -1)]
        finally:
            client.close()
        tasks = [json.loads(m)["headers"]["task"] for m in raw]
        return sum(1 for task in tasks if task in (BUILD_TASK, EVALUATE_TASK))

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()  # SIGKILL: nothing saved, every waiting task gone
            self.proc.wait()
            self.proc = None


@contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    require(shutil.which("redis-server") is not None, "redis-server")
    root = Path(tempfile.mkdtemp(prefix="podium-faults-redis-"))
    server = PrivateRedis(root, free_port())
    try:
        server.start()
        yield server
    finally:
        server.kill()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class FaultStack(Stack):
    """A Stack whose API process can be killed and started again."""

    api: subprocess.Popen[bytes] | None = None
    port: int = 0
    api_starts: int = 0
    pg: PrivatePostgres | None = None
    broker: PrivateRedis | None = None

    @property
    def postgres(self) -> PrivatePostgres:
        assert self.pg is not None
        return self.pg

    @property
    def redis(self) -> PrivateRedis:
        assert self.broker is not None
        return self.broker

    def scalar(self, sql: str, **params: Any) -> Any:
        engine = create_engine(self.env["PODIUM_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                return conn.execute(text(sql), params).scalar_one()
        finally:
            engine.dispose()

    def start_api(self) -> None:
        self.api_starts += 1
        log = self.data_dir / "logs" / f"api-{self.api_starts}.log"
        self.api = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1"]
            + ["--port", str(self.port)],
            env=self.env,
            cwd=REPO,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        _wait_http(f"{self.url}/healthz", self.api)

    def stop_api(self, kill: bool = False) -> None:
        if self.api is None:
            return
        if kill:
            self.api.kill()
        else:
            self.api.terminate()
        try:
            self.api.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.api.kill()
            self.api.wait()
        self.api = None

    def api_log(self) -> str:
        return "".join(
            p.read_text(errors="replace") for p in sorted(self.data_dir.glob("logs/api-*.log"))
        )

    def status(self, team: str, sid: str) -> dict[str, Any]:
        resp = httpx.get(f"{self.url}/api/v1/submissions/{sid}", headers=self.team(team))
        resp.raise_for_status()
        return dict(resp.json())

    def wait_for(self, team: str, sid: str, done: int, timeout_s: float = 300) -> dict[str, Any]:
        """Until the submission is evaluating with at least `done` instances answered."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            body = self.status(team, sid)
            assert body["status"] not in TERMINAL, body
            if body["status"] == "evaluating" and body["progress"]["done"] >= done:
                return body
            time.sleep(0.2)
        raise AssertionError(f"{sid} never had {done} instances done: {body}")


@contextmanager
def fault_stack(data_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[FaultStack]:
    """The production shape on a private PostgreSQL and Redis, with fast recovery settings."""
    require(docker_ready(), f"a Docker engine with the local base image {BASE_IMAGE}")
    with private_postgres() as pg, private_redis() as broker:
        env = dict(
            os.environ,
            PODIUM_ENVIRONMENT="test",
            PODIUM_DATA_DIR=str(data_dir),
            PODIUM_DATABASE_URL=pg.url,
            PODIUM_BROKER_URL=broker.url,
            PODIUM_SCENARIO_DATA=str(SCENARIO_DATA),
            PODIUM_START_TIMEOUT_S="120",
            PODIUM_BUILD_TIMEOUT_S="300",
            PODIUM_REQUEST_TIMEOUT_S="60",
            PODIUM_CONTAINER_MEMORY_BYTES=str(1024**3),
            PODIUM_CONTAINER_CPUS="1",
            PODIUM_CONTAINER_TMPFS_BYTES=str(64 * 1024**2),
            **FAST,
        )
        env.update(extra_env or {})
        (data_dir / "logs").mkdir(parents=True, exist_ok=True)
        port = free_port()
        stack = FaultStack(
            f"http://127.0.0.1:{port}", env, data_dir, "", {}, beat=True, port=port, pg=pg
        )
        stack.broker = broker
        try:
            stack.start_api()
            stack.start_worker()
            stack.admin_token = stack.podium("admin", "bootstrap").strip().splitlines()[-1]
            yield stack
        finally:
            if not pg.running():
                pg.start()  # the worker's shutdown and the image clean-up read the database
            stack.stop_worker()
            stack.stop_api()
            _remove_images(data_dir)
            for log in sorted((data_dir / "logs").glob("*.log")):
                tail = log.read_text(errors="replace")[-3000:]
                sys.stderr.write(f"\n--- {log.name} (tail) ---\n{tail}\n")


class ModelRequests:
    """Every `/process` request the model containers of this stack answered, per submission:
    each evaluation container of a submission under `data_dir` is followed from its start (so a
    container killed or removed later still counts) and its `ASKED` lines counted."""

    def __init__(self, data_dir: Path) -> None:
        import docker

        self._contexts = data_dir / "contexts"
        self._client = docker.from_env()
        self.asked: Counter[str] = Counter()
        self._followed: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                containers = self._client.containers.list(
                    all=True, filters={"label": "podium.evaluation"}
                )
            except Exception:
                containers = []
            for container in containers:
                sid = container.labels.get("podium.submission", "")
                # Other stacks on this engine run containers too: only this stack's count.
                if not sid or not (self._contexts / sid).exists():
                    continue
                if container.id is None or container.id in self._followed:
                    continue
                self._followed.add(container.id)
                thread = threading.Thread(
                    target=self._follow, args=(container.id, sid), daemon=True
                )
                thread.start()
                self._threads.append(thread)
            self._stop.wait(0.1)

    def _follow(self, container_id: str, sid: str) -> None:
        import docker

        # A client per container: a followed log holds its connection, and may be quiet for
        # long (no read timeout).
        client = docker.APIClient(timeout=24 * 3600)
        buffer = b""
        try:
            for chunk in client.logs(container_id, stream=True, follow=True):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                with self._lock:
                    self.asked[sid] += sum(1 for line in lines if line.startswith(b"ASKED "))
        except docker.errors.NotFound:
            pass  # removed while followed: what it printed was counted
        finally:
            client.close()

    def close(self) -> None:
        self._stop.set()
        self._watcher.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=10)
        self._client.close()


@contextmanager
def model_requests(stack: FaultStack) -> Iterator[ModelRequests]:
    counter = ModelRequests(stack.data_dir)
    try:
        yield counter
    finally:
        counter.close()


def slow_context() -> bytes:
    return context_tar(["slow", SLOW_ANSWER_S])


def slow_build_context(build_s: int) -> bytes:
    """A build that takes `build_s` seconds (a fresh layer each time: never cached)."""
    dockerfile = (
        f"FROM {BASE_IMAGE}\nCOPY . /app\nRUN sleep {build_s}\n"
        f'CMD ["python3", "/app/server.py", "slow", "{SLOW_ANSWER_S}"]\n'
    )
    return context_tar([], {"nonce": uuid.uuid4().hex.encode()}, dockerfile=dockerfile)


_REFERENCE: dict[str, Any] = {}


def undisturbed(stack: FaultStack, requests: ModelRequests) -> dict[str, Any]:
    """The terminal state, scores and model request count of the same model run with nothing
    going wrong (on this stack, before its fault; computed once per session)."""
    if not _REFERENCE:
        resp = stack.submit("reference", slow_context())
        assert resp.status_code == 201, resp.text
        final = stack.wait("reference", resp.json()["id"], timeout_s=300)
        assert final["status"] == "scored", (final["failure_reason"], final["failure_message"])
        _REFERENCE.update(
            status=final["status"],
            scores=final["scores"],
            overall=final["overall"],
            total=final["progress"]["total"],
        )
        time.sleep(0.5)  # the last log lines of its container
        assert requests.asked[final["id"]] == final["progress"]["total"] > 0
    return _REFERENCE


def evaluation_rows(stack: FaultStack, sid: str) -> list[tuple[str, int]]:
    engine = create_engine(stack.env["PODIUM_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("select status, attempts from evaluations where submission_id = :sid"),
                {"sid": sid},
            ).all()
    finally:
        engine.dispose()
    return [(str(status), int(attempts)) for status, attempts in rows]


def assert_recovered(
    stack: FaultStack,
    requests: ModelRequests,
    reference: dict[str, Any],
    team: str,
    sid: str,
    fault_ended: float,
    resent_at_most: int,
) -> dict[str, Any]:
    """The target: the same terminal state and score as `reference` within RECOVERY_S of
    `fault_ended` (a monotonic time), scored once, at most `resent_at_most` requests asked twice."""
    left = RECOVERY_S - (time.monotonic() - fault_ended)
    final = stack.wait(team, sid, timeout_s=max(left, 1))
    took = time.monotonic() - fault_ended
    assert final["status"] == reference["status"], (
        final["failure_reason"],
        final["failure_message"],
        f"{took:.1f}s after the fault",
        stack.logs(team, sid)["container_log"][-2000:],
    )
    assert final["scores"] == reference["scores"], final
    assert final["overall"] == reference["overall"], final
    assert final["progress"] == {"done": reference["total"], "total": reference["total"]}
    rows = evaluation_rows(stack, sid)
    assert [status for status, _ in rows].count("done") == 1, rows  # scored once
    time.sleep(0.5)  # the last log lines of its container
    asked = requests.asked[sid]
    assert reference["total"] <= asked <= reference["total"] + resent_at_most, (
        f"{sid}: the model was asked {asked} times for {reference['total']} requests"
    )
    sys.stderr.write(
        f"{sid}: {final['status']} {took:.1f}s after the fault, asked {asked}/"
        f"{reference['total']}, evaluations {rows}\n"
    )
    return final


def test_worker_sigkilled_mid_build(tmp_path: Path) -> None:
    with fault_stack(tmp_path / "data") as stack, model_requests(stack) as requests:
        reference = undisturbed(stack, requests)
        resp = stack.submit("builder", slow_build_context(20))
        assert resp.status_code == 201, resp.text
        sid = resp.json()["id"]
        deadline = time.monotonic() + 120
        while stack.status("builder", sid)["status"] != "building":
            assert time.monotonic() < deadline, stack.status("builder", sid)
            time.sleep(0.2)
        time.sleep(3)  # well into `RUN sleep`
        stack.stop_worker(kill=True)
        stack.start_worker()
        fault_ended = time.monotonic()
        assert_recovered(stack, requests, reference, "builder", sid, fault_ended, 0)
        build_attempts = stack.scalar(
            "select build_attempts from submissions where id = :sid", sid=sid
        )
        assert build_attempts == 2  # the killed build, then the reaper's requeue


def test_redis_killed_without_persistence(tmp_path: Path) -> None:
    """Mid-run, Redis dies and comes back empty: the tasks waiting in it are gone, and a POST
    is accepted while it is down (201: the submission is durable in the database; the broker
    failure is logged). The reaper's "queued, not in the broker, untouched for
    PODIUM_LOST_AFTER_S" rule sends every lost task again: the outbox is the submissions and
    evaluations tables themselves."""
    with fault_stack(tmp_path / "data") as stack, model_requests(stack) as requests:
        reference = undisturbed(stack, requests)
        first = [stack.submit(f"team-{i}", slow_context()) for i in range(3)]
        assert all(r.status_code == 201 for r in first), [r.text for r in first]
        sids = [r.json()["id"] for r in first]
        stack.wait_for("team-0", sids[0], done=5)
        fault_began = time.monotonic()
        # Now one evaluation runs (two threads), the other work is building or queued in Redis.
        waiting = stack.redis.waiting_tasks()
        stack.redis.kill()
        assert waiting >= 1, "no task was waiting in Redis when it died: this proves little"
        during = stack.submit("team-3", slow_context())
        assert during.status_code == 201, during.text
        assert during.json()["status"] == "queued"
        sids.append(during.json()["id"])
        ready = httpx.get(f"{stack.url}/healthz/ready")
        assert ready.status_code == 503, ready.text
        assert ready.json()["components"]["broker"]["status"] == "down", ready.text
        time.sleep(max(0.0, 3 - (time.monotonic() - fault_began)))
        stack.redis.start()
        fault_ended = time.monotonic()
        assert "could not enqueue podium.build_submission" in stack.api_log()
        for i, sid in enumerate(sids):
            # A task held by the worker when Redis died runs on; none is asked twice.
            assert_recovered(stack, requests, reference, f"team-{i}", sid, fault_ended, 0)


def test_postgres_stopped_mid_evaluation(tmp_path: Path) -> None:
    with fault_stack(tmp_path / "data") as stack, model_requests(stack) as requests:
        reference = undisturbed(stack, requests)
        resp = stack.submit("pg", slow_context())
        assert resp.status_code == 201, resp.text
        sid = resp.json()["id"]
        stack.wait_for("pg", sid, done=8)
        pg = stack.postgres
        stopped = time.monotonic()
        pg.stop()
        during = httpx.get(f"{stack.url}/api/v1/submissions/{sid}", headers=stack.team("pg"))
        assert during.status_code == 503, during.text
        assert during.headers["content-type"].startswith("application/json")
        assert during.headers["retry-after"].isdigit()
        assert "database is unavailable" in during.json()["detail"]
        ready = httpx.get(f"{stack.url}/healthz/ready")
        assert ready.status_code == 503, ready.text
        assert ready.json()["components"]["database"]["status"] == "down", ready.text
        assert ready.json()["components"]["broker"]["status"] == "ok", ready.text
        time.sleep(max(0.0, 5 - (time.monotonic() - stopped)))
        pg.start()
        fault_ended = time.monotonic()
        assert_recovered(stack, requests, reference, "pg", sid, fault_ended, EVAL_CONCURRENCY)


def _slow_multipart(boundary: str, size: int, stop: threading.Event) -> Iterator[bytes]:
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="context"; '
        f'filename="context.tar.gz"\r\nContent-Type: application/gzip\r\n\r\n'
    ).encode()
    chunk = os.urandom(256 * 1024)
    sent = 0
    while sent < size and not stop.is_set():
        yield chunk
        sent += len(chunk)
        time.sleep(0.02)
    yield f"\r\n--{boundary}--\r\n".encode()


def test_api_sigkilled_mid_multipart_upload(tmp_path: Path) -> None:
    with fault_stack(tmp_path / "data") as stack, model_requests(stack) as requests:
        reference = undisturbed(stack, requests)
        staging = stack.data_dir / "staging"
        boundary = uuid.uuid4().hex
        size = 200 * 1024**2
        stop = threading.Event()
        outcome: list[BaseException | httpx.Response] = []

        def upload() -> None:
            try:
                outcome.append(
                    httpx.post(
                        f"{stack.url}/api/v1/submissions",
                        headers={
                            **stack.team("uploader"),
                            "Content-Type": f"multipart/form-data; boundary={boundary}",
                        },
                        content=_slow_multipart(boundary, size, stop),
                        timeout=60,
                    )
                )
            except BaseException as exc:
                outcome.append(exc)

        stack.team("uploader")  # its token made before the upload starts
        thread = threading.Thread(target=upload)
        thread.start()
        try:
            deadline = time.monotonic() + 60
            while sum(p.stat().st_size for p in staging.rglob("*") if p.is_file()) < 8 * 1024**2:
                assert time.monotonic() < deadline, "the upload never reached staging"
                time.sleep(0.1)
            stack.stop_api(kill=True)
        finally:
            stop.set()
            thread.join(timeout=30)
        assert outcome and not isinstance(outcome[0], httpx.Response), outcome
        left = [p for p in staging.iterdir()]
        assert left, "the killed upload left nothing in staging: this test proves nothing"
        stack.start_api()
        fault_ended = time.monotonic()
        assert list(staging.iterdir()) == [], "staging of the killed upload is still there"
        stored = stack.scalar(
            "select count(*) from submissions s join teams t on t.id = s.team_id "
            "where t.name = 'uploader'"
        )
        assert stored == 0, "a killed upload must not leave a submission"
        # The API takes uploads again, and they score as before.
        resp = stack.submit("uploader", slow_context())
        assert resp.status_code == 201, resp.text
        assert_recovered(stack, requests, reference, "uploader", resp.json()["id"], fault_ended, 0)
