"""A plain production install (`pip install .`, no extras, as the compose image does) runs a
worker on Redis: the package is installed with its declared dependencies, from the package
index, into a virtualenv of its own, and `podium worker` is started against Redis until it is
ready (and, with PODIUM_LOG_FORMAT=json, logs JSON and publishes its beat).

The virtualenv is kept under ~/.cache keyed by pyproject.toml's hash: the dependencies are
installed once per change of what the project declares (a minute or so), and every run after
reinstalls only the package itself (seconds), so the check costs little in scripts/test."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from app import presence
from tests.conftest import REDIS_URL, require

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("app", "workers", "evaluator", "migrations", "pyproject.toml", "README.md")
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "podium-test"
# A db no other test uses (e2e tests take 11-15): this test flushes it.
REDIS_DB = REDIS_URL.rsplit("/", 1)[0] + "/8"
READY_S = 90


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_DB, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def _copy_sources(dest: Path) -> Path:
    """The package's own files alone: building in the checkout would write build/ into it."""
    for name in SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(
                source, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        else:
            shutil.copy2(source, dest / name)
    return dest


def _pip(venv: Path, *args: str) -> None:
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *args],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, f"pip install {' '.join(args)} failed:\n{done.stderr[-4000:]}"


def _venv(source: Path) -> Path:
    key = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()[:16]
    venv = CACHE / f"plain-install-{key}"
    if (venv / ".complete").exists():
        # Dependencies as declared are in place: only our code changed since.
        _pip(venv, "--no-deps", "--force-reinstall", str(source))
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    _pip(venv, str(source))  # no extras: exactly what production installs
    (venv / ".complete").touch()
    return venv


@pytest.mark.redis
def test_plain_install_runs_a_worker_on_redis(tmp_path: Path) -> None:
    require(_redis_up(), f"Redis at {REDIS_DB}")
    venv = _venv(_copy_sources(tmp_path / "src"))
    listed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    )
    installed = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert "pytest" not in installed and "torch" not in installed  # no extra came along

    client = redis.Redis.from_url(REDIS_DB)
    client.flushdb()
    log_path = tmp_path / "worker.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PODIUM_", "VIRTUAL_ENV"))}
    env.update(
        PATH=f"{venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
        PODIUM_BROKER_URL=REDIS_DB,
        PODIUM_DATA_DIR=str(tmp_path / "data"),
        PODIUM_LOG_FORMAT="json",
        PODIUM_HEARTBEAT_S="1",
    )
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [str(venv / "bin" / "podium"), "worker", "--queues", "build", "--pool", "solo"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env=env,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + READY_S
        lines: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            assert worker.poll() is None, f"the worker died:\n{log_path.read_text()[-4000:]}"
            lines = [
                json.loads(line)
                for line in log_path.read_text().splitlines()
                if line.startswith("{")
            ]
            if any(str(line.get("message", "")).endswith(" ready.") for line in lines):
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"no 'ready.' within {READY_S} s:\n{log_path.read_text()[-4000:]}")
        assert "ModuleNotFoundError" not in log_path.read_text()
        ready = next(line for line in lines if str(line["message"]).endswith(" ready."))
        assert {"time", "level", "logger", "message"} <= set(ready)
        # Its beat reaches Redis, where the API reads it.
        while time.monotonic() < deadline and not list(client.scan_iter(presence.KEY_PREFIX + "*")):
            time.sleep(0.2)
        [key] = list(client.scan_iter(presence.KEY_PREFIX + "*"))
        beat = presence.WorkerBeat.from_json(client.get(key) or b"")
        assert beat is not None and beat.queues == ["build"] and beat.pid == worker.pid
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
        client.flushdb()
    assert worker.returncode == 0, log_path.read_text()[-4000:]
