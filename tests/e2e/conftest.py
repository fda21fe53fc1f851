"""A production-shaped stack for end-to-end tests: the API (uvicorn) and a Celery worker as real
processes, on PostgreSQL and Redis, building and running containers on the real Docker engine."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SCENARIO_DATA, fresh_postgres_database, require
from tests.leaks import remove_submission_artifacts

BASE_IMAGE = "podium-test/python:bookworm"
ML_IMAGE = "podium-test/ml:bookworm"
REDIS_E2E_URL = os.environ.get("PODIUM_TEST_REDIS_E2E_URL", "redis://127.0.0.1:6379/14")
REPO = Path(__file__).resolve().parents[2]


def docker_ready() -> bool:
    try:
        import docker

        client = docker.from_env()
        client.ping()
        client.images.get(BASE_IMAGE)
        return True
    except Exception:
        return False


def redis_ready(url: str) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url).ping())
    except Exception:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    url: str
    env: dict[str, str]
    data_dir: Path
    admin_token: str
    team_tokens: dict[str, str]
    beat: bool = False
    worker: subprocess.Popen[bytes] | None = None
    workers_started: int = 0

    def start_worker(self) -> None:
        self.workers_started += 1
        log = self.data_dir / "logs" / f"worker-{self.workers_started}.log"
        self.worker = subprocess.Popen(
            [*WORKER_ARGV, *(["--beat"] if self.beat else [])],
            env=self.env,
            cwd=REPO,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    def stop_worker(self, kill: bool = False) -> None:
        if self.worker is None:
            return
        if kill:
            self.worker.kill()  # SIGKILL: no warm shutdown, nothing acknowledged or cleaned up
        else:
            self.worker.terminate()
        try:
            self.worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.worker.kill()
            self.worker.wait()
        self.worker = None

    def podium(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "app.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
        return out.stdout

    def team(self, name: str) -> dict[str, str]:
        if name not in self.team_tokens:
            self.team_tokens[name] = (
                self.podium(
                    "admin", "create-team", name, "--server", self.url, "--token", self.admin_token
                )
                .strip()
                .splitlines()[-1]
            )
        return {"Authorization": f"Bearer {self.team_tokens[name]}"}

    def submit(
        self, team: str, context: bytes, weights: bytes | None = None, **fields: str
    ) -> httpx.Response:
        files: dict[str, Any] = {"context": ("context.tar.gz", context)}
        if weights is not None:
            files["weights"] = ("weights.tar.gz", weights)
        return httpx.post(
            f"{self.url}/api/v1/submissions",
            headers=self.team(team),
            files=files,
            data=fields,
            timeout=120,
        )

    def wait(self, team: str, submission_id: str, timeout_s: float = 600) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            body: dict[str, Any] = httpx.get(
                f"{self.url}/api/v1/submissions/{submission_id}", headers=self.team(team)
            ).json()
            if body["status"] in ("scored", "failed", "cancelled"):
                return body
            time.sleep(1)
        raise AssertionError(f"submission {submission_id} did not finish in {timeout_s}s: {body}")

    def logs(self, team: str, submission_id: str) -> dict[str, str]:
        resp = httpx.get(
            f"{self.url}/api/v1/submissions/{submission_id}/logs", headers=self.team(team)
        )
        resp.raise_for_status()
        return dict(resp.json())


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before answering {url}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout_s}s")


WORKER_ARGV = [
    sys.executable,
    "-m",
    "app.cli",
    "worker",
    "--queues",
    "build,evaluate",
    "--pool",
    "threads",
    "--concurrency",
    "2",
]


@contextmanager
def running_stack(
    data_dir: Path, redis_url: str, extra_env: dict[str, str] | None = None, beat: bool = False
) -> Iterator[Stack]:
    """API (uvicorn) + one Celery worker as processes, on a fresh PostgreSQL database and
    `redis_url` (flushed), with data under `data_dir`."""
    require(docker_ready(), f"a Docker engine with the local base image {BASE_IMAGE}")
    require(redis_ready(redis_url), f"Redis at {redis_url}")
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    with fresh_postgres_database() as database_url:
        env = dict(
            os.environ,
            PODIUM_ENVIRONMENT="test",
            PODIUM_DATA_DIR=str(data_dir),
            PODIUM_DATABASE_URL=database_url,
            PODIUM_BROKER_URL=redis_url,
            PODIUM_SCENARIO_DATA=str(SCENARIO_DATA),
            PODIUM_START_TIMEOUT_S="120",
            PODIUM_BUILD_TIMEOUT_S="900",
            PODIUM_REQUEST_TIMEOUT_S="120",
            PODIUM_CONTAINER_MEMORY_BYTES=str(3 * 1024**3),
            PODIUM_CONTAINER_CPUS="1.5",
            PODIUM_CONTAINER_TMPFS_BYTES=str(256 * 1024**2),
            PODIUM_HEARTBEAT_S="1",
            PODIUM_EVAL_CONCURRENCY="8",
        )
        env.update(extra_env or {})
        port = free_port()
        logs = data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        api = subprocess.Popen(
            # As docker-compose serves it: `podium serve` (migrations, then the API with the
            # request-head deadline).
            [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=REPO,
            stdout=(logs / "api.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        stack = Stack(f"http://127.0.0.1:{port}", env, data_dir, "", {}, beat=beat)
        stack.start_worker()
        try:
            _wait_http(f"http://127.0.0.1:{port}/healthz", api)
            # The first admin token is made on the database directly; everything after goes
            # through the running server's admin API, as an organizer would.
            stack.admin_token = stack.podium("admin", "bootstrap").strip().splitlines()[-1]
            yield stack
        finally:
            stack.stop_worker()
            api.terminate()
            try:
                api.wait(timeout=30)
            except subprocess.TimeoutExpired:
                api.kill()
            _remove_images(data_dir)
            for log in sorted(logs.glob("*.log")):
                tail = log.read_text(errors="replace")[-3000:]
                sys.stderr.write(f"\n--- {log.name} (tail) ---\n{tail}\n")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("e2e-data"), REDIS_E2E_URL) as s:
        yield s


def _remove_images(data_dir: Path) -> None:
    contexts = data_dir / "contexts"
    ids = {p.name for p in contexts.iterdir()} if contexts.exists() else set()
    remove_submission_artifacts(ids)


@pytest.fixture(autouse=True)
def _remove_submission_images(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test, the images and containers of the submissions in its data directories
    (`<tmp_path>/<data>/contexts/<id>`): tests that run `podium up` keep no stack to do it."""
    yield
    tmp_path = request.node.funcargs.get("tmp_path")
    if isinstance(tmp_path, Path):
        remove_submission_artifacts({p.name for p in tmp_path.glob("*/contexts/*")})


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())
