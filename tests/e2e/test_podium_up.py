"""`podium up` on embedded defaults (SQLite + filesystem queue): the README's start command runs a
submission from upload to the leaderboard with no external service but the Docker engine."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SCENARIO_DATA, require
from tests.e2e.conftest import REPO, docker_ready, free_port
from tests.e2e.test_golden_path import context_tar

pytestmark = [pytest.mark.e2e, pytest.mark.docker]


class Embedded:
    """One data directory, and `podium` commands run against it as a user would."""

    def __init__(self, tmp_path: Path) -> None:
        require(docker_ready(), "a Docker engine with the local base image")
        self.tmp_path = tmp_path
        self.data_dir = tmp_path / "podium-data"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
        self.env.update(PODIUM_SCENARIO_DATA=str(SCENARIO_DATA), PODIUM_START_TIMEOUT_S="120")
        self.log_path = tmp_path / "up.log"

    def podium(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "app.cli", "--data-dir", str(self.data_dir), *args],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout

    @contextmanager
    def up(self) -> Iterator[str]:
        """`podium up`, running until the block ends; yields what it printed at start."""
        cmd = [
            sys.executable,
            "-m",
            "app.cli",
            "up",
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
        ]
        with self.log_path.open("ab") as log:
            proc = subprocess.Popen(
                cmd, env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.3)
            yield self.log_path.read_text()
        finally:
            proc.terminate()
            proc.wait(timeout=60)

    def submit_and_wait(self, token: str, context: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
        headers = {"Authorization": f"Bearer {token}"}
        resp = httpx.post(
            f"{self.url}/api/v1/submissions",
            headers=headers,
            files={"context": ("c.tgz", io.BytesIO(context))},
        )
        assert resp.status_code == 201, resp.text
        created = resp.json()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            body: dict[str, Any] = httpx.get(
                f"{self.url}/api/v1/submissions/{created['id']}", headers=headers
            ).json()
            if body["status"] in ("scored", "failed"):
                break
            time.sleep(1)
        assert body["status"] == "scored", (
            body["failure_message"],
            self.log_path.read_text()[-3000:],
        )
        return created, body


def test_podium_up_runs_a_submission_end_to_end(tmp_path: Path) -> None:
    podium = Embedded(tmp_path)
    with podium.up() as started:
        assert f"Podium is up: {podium.url}" in started, started
        lines = started.splitlines()
        admin_token = lines[lines.index("Admin token (shown once, keep it):") + 1]
        assert admin_token.startswith("pdm_")
        assert (podium.data_dir / "podium.db").exists()
        token = podium.podium("admin", "create-team", "embedded").strip().splitlines()[-1]
        _, final = podium.submit_and_wait(token, context_tar(["always", " B"]))
        board = httpx.get(f"{podium.url}/api/v1/leaderboard").json()["entries"]
        assert [(e["team"], e["submission_id"], e["rank"]) for e in board] == [
            ("embedded", final["id"], 1)
        ]
    # A second start reuses the data directory and does not mint another admin token.
    podium.log_path.write_text("")
    with podium.up() as again:
        pass
    assert "Podium is up" in again and "Admin token" not in again


def test_phase_protocol_and_port_reach_the_worker(tmp_path: Path) -> None:
    """A competition whose phase says `protocol = "openai"`, `port = 8000` (a `vllm serve`
    style server): the worker speaks that protocol on that port, through the real sandbox."""
    podium = Embedded(tmp_path)
    toml = tmp_path / "competition.toml"
    toml.write_text(
        'slug = "vllm-cup"\n[[tracks]]\nslug = "main"\n[[phases]]\nslug = "open"\n'
        'suite = "smoke"\nprotocol = "openai"\nport = 8000\n'
    )
    assert "competition 'vllm-cup' created" in podium.podium("admin", "apply", str(toml))
    token = podium.podium("admin", "create-team", "vllm-team").strip().splitlines()[-1]
    with podium.up():
        created, final = podium.submit_and_wait(token, context_tar(["openai"]))
        assert created["competition"] == "vllm-cup" and created["phase"] == "open"
        assert 0 < final["scores"]["mmlu"] < 1  # always " A": the share of gold A
        logs = httpx.get(
            f"{podium.url}/api/v1/submissions/{final['id']}/logs",
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        assert "serving mode=openai on :8000" in logs["container_log"]
