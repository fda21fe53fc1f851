"""`podium up` on embedded defaults (SQLite + filesystem queue): the README's start command runs a
submission from upload to the leaderboard with no external service but the Docker engine."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import SCENARIO_DATA, require
from tests.e2e.conftest import REPO, docker_ready, free_port
from tests.e2e.test_golden_path import context_tar

pytestmark = [pytest.mark.e2e, pytest.mark.docker]


def test_podium_up_runs_a_submission_end_to_end(tmp_path: Path) -> None:
    require(docker_ready(), "a Docker engine with the local base image")
    port = free_port()
    data_dir = tmp_path / "podium-data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    env.update(PODIUM_SCENARIO_DATA=str(SCENARIO_DATA), PODIUM_START_TIMEOUT_S="120")
    log_path = tmp_path / "up.log"
    cmd = [sys.executable, "-m", "app.cli", "up", "--data-dir", str(data_dir), "--port", str(port)]
    proc = subprocess.Popen(
        cmd, env=env, cwd=REPO, stdout=log_path.open("wb"), stderr=subprocess.STDOUT
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        output = log_path.read_text()
        assert f"Podium is up: {url}" in output, output
        lines = output.splitlines()
        admin_token = lines[lines.index("Admin token (shown once, keep it):") + 1]
        assert admin_token.startswith("pdm_")
        assert (data_dir / "podium.db").exists()

        created = subprocess.run(
            [
                sys.executable,
                "-m",
                "app.cli",
                "--data-dir",
                str(data_dir),
                "admin",
                "create-team",
                "embedded",
            ],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        token = created.stdout.strip().splitlines()[-1]
        headers = {"Authorization": f"Bearer {token}"}
        resp = httpx.post(
            f"{url}/api/v1/submissions",
            headers=headers,
            files={"context": ("c.tgz", io.BytesIO(context_tar(["always", " B"])))},
        )
        assert resp.status_code == 201, resp.text
        sid = resp.json()["id"]
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            body = httpx.get(f"{url}/api/v1/submissions/{sid}", headers=headers).json()
            if body["status"] in ("scored", "failed"):
                break
            time.sleep(1)
        assert body["status"] == "scored", (body["failure_message"], log_path.read_text()[-3000:])
        board = httpx.get(f"{url}/api/v1/leaderboard").json()["entries"]
        assert [(e["team"], e["submission_id"], e["rank"]) for e in board] == [("embedded", sid, 1)]
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    # A second start reuses the data directory and does not mint another admin token.
    again = subprocess.Popen(
        cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
    finally:
        again.terminate()
        out, _ = again.communicate(timeout=60)
    assert "Podium is up" in out and "Admin token" not in out


def test_phase_protocol_and_port_reach_the_worker(tmp_path: Path) -> None:
    """A competition whose phase says `protocol = "openai"`, `port = 8000` (a `vllm serve`
    style server): the worker speaks that protocol on that port, through the real sandbox."""
    require(docker_ready(), "a Docker engine with the local base image")
    port = free_port()
    data_dir = tmp_path / "podium-data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    env.update(PODIUM_SCENARIO_DATA=str(SCENARIO_DATA), PODIUM_START_TIMEOUT_S="120")
    toml = tmp_path / "competition.toml"
    toml.write_text(
        'slug = "vllm-cup"\n[[tracks]]\nslug = "main"\n[[phases]]\nslug = "open"\n'
        'suite = "smoke"\nprotocol = "openai"\nport = 8000\n'
    )

    def podium(*args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "app.cli", "--data-dir", str(data_dir), *args],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout

    assert "competition 'vllm-cup' created" in podium("admin", "apply", str(toml))
    token = podium("admin", "create-team", "vllm-team").strip().splitlines()[-1]
    log_path = tmp_path / "up.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "up", "--data-dir", str(data_dir), "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        headers = {"Authorization": f"Bearer {token}"}
        resp = httpx.post(
            f"{url}/api/v1/submissions",
            headers=headers,
            files={"context": ("c.tgz", io.BytesIO(context_tar(["openai"])))},
        )
        assert resp.status_code == 201, resp.text
        assert resp.json()["competition"] == "vllm-cup" and resp.json()["phase"] == "open"
        sid = resp.json()["id"]
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            body = httpx.get(f"{url}/api/v1/submissions/{sid}", headers=headers).json()
            if body["status"] in ("scored", "failed"):
                break
            time.sleep(1)
        assert body["status"] == "scored", (body["failure_message"], log_path.read_text()[-3000:])
        assert 0 < body["scores"]["mmlu"] < 1  # always " A": the share of gold A
        logs = httpx.get(f"{url}/api/v1/submissions/{sid}/logs", headers=headers).json()
        assert "serving mode=openai on :8000" in logs["container_log"]
    finally:
        proc.terminate()
        proc.wait(timeout=60)
