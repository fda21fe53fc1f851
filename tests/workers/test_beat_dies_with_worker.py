"""`podium worker --beat` SIGKILLed (as the OOM killer does): its embedded beat dies with it.

Before the fix the beat child survived as an orphan (PPID 1) and published `podium.reap` every
few seconds forever. The test runs a real worker against real Redis, finds the beat process by
the `origin` header of the reap messages it publishes, kills the worker with SIGKILL and checks
that the beat is gone and publishes nothing more.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import SCENARIO_DATA, require

pytestmark = [pytest.mark.redis]

REDIS_URL = os.environ.get("PODIUM_TEST_REDIS_BEAT_URL", "redis://127.0.0.1:6379/12")
REPO = Path(__file__).resolve().parents[2]
REAP_QUEUE = "build"  # where podium.reap is routed (app.queue.TASK_QUEUES)


def _redis() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError:
        require(False, f"Redis at {REDIS_URL}")
    return client


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def _reaps_by_origin(client: redis.Redis) -> dict[int, list[bytes]]:
    """The reap messages waiting in the queue, grouped by the pid of the process that sent them
    (kombu's `origin` header, `gen<pid>@<host>`)."""
    found: dict[int, list[bytes]] = {}
    for raw in client.lrange(REAP_QUEUE, 0, -1):
        headers = json.loads(raw).get("headers", {})
        origin = str(headers.get("origin", ""))
        if headers.get("task") == "podium.reap" and origin.startswith("gen"):
            found.setdefault(int(origin[3:].split("@")[0]), []).append(raw)
    return found


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = dict(
        os.environ,
        PODIUM_ENVIRONMENT="test",
        PODIUM_DATA_DIR=str(tmp_path / "data"),
        PODIUM_BROKER_URL=REDIS_URL,
        PODIUM_SCENARIO_DATA=str(SCENARIO_DATA),
        PODIUM_REAP_EVERY_S="1",
    )
    (tmp_path / "data").mkdir()
    log = (tmp_path / "worker.log").open("wb")
    # Only the evaluate queue is consumed, so the reap messages (build queue) stay countable.
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker", "--beat", "--queues", "evaluate"]
        + ["--pool", "solo", "--concurrency", "1"],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        log.close()
        sys.stderr.write((tmp_path / "worker.log").read_text(errors="replace")[-3000:])


def test_a_sigkilled_worker_takes_its_beat_with_it(worker: subprocess.Popen[bytes]) -> None:
    client = _redis()
    beat_pid = None
    try:
        deadline = time.monotonic() + 60
        while beat_pid is None:
            assert worker.poll() is None, "the worker exited on its own; see its log below"
            assert time.monotonic() < deadline, "no podium.reap from the worker's beat in 60 s"
            children = [
                p for p in _reaps_by_origin(client) if _alive(p) and _parent(p) == worker.pid
            ]
            beat_pid = children[0] if children else None
            time.sleep(0.2)

        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        deadline = time.monotonic() + 5
        while _alive(beat_pid):
            assert time.monotonic() < deadline, (
                f"beat {beat_pid} still alive 5 s after its worker was SIGKILLed"
            )
            time.sleep(0.1)

        published = len(_reaps_by_origin(client).get(beat_pid, []))
        time.sleep(3.5)  # more than three reap intervals
        assert len(_reaps_by_origin(client).get(beat_pid, [])) == published
    finally:
        if beat_pid is not None and _alive(beat_pid):
            os.kill(beat_pid, signal.SIGKILL)  # ours: never leave it publishing
        # Only this beat's messages: another session may share the database.
        for raw in _reaps_by_origin(client).get(beat_pid or -1, []):
            client.lrem(REAP_QUEUE, 0, raw)


WATCHED_CHILD = """
import os, sys, time
import workers.celery_app as beat_hooks
beat_hooks._set_parent_death_signal = lambda sig: None  # the watchdog alone must suffice
beat_hooks.PARENT_POLL_S = 0.05
if os.fork() == 0:
    beat_hooks.watch_parent(os.getppid())
    print(os.getpid(), flush=True)
    time.sleep(60)
    sys.exit(3)
time.sleep(60)
"""


def test_the_parent_watchdog_alone_ends_an_orphan(tmp_path: Path) -> None:
    """Where PR_SET_PDEATHSIG is missing (or the parent died before it was set), the watchdog
    thread notices the new parent id and ends the process."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WATCHED_CHILD], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    child = None
    try:
        assert proc.stdout is not None
        child = int(proc.stdout.readline())
        time.sleep(0.3)
        assert _alive(child), "the watchdog ended a process whose parent is alive"
        proc.kill()
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while _alive(child):
            assert time.monotonic() < deadline, "the orphan outlived its parent by 5 s"
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if child is not None and _alive(child):
            os.kill(child, signal.SIGKILL)
