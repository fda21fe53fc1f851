"""A worker set to an OCI runtime the engine lacks (e.g. gVisor's `runsc` not installed) refuses
to start, naming the runtime and the fix, instead of failing every submission one by one.

Against the real engine: `podium worker` and `podium up` are run as processes with a runtime
name no engine has, and must exit at once with the message.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

from app.auth.service import has_admin_token
from app.kit.db import session_scope
from tests.e2e.conftest import REPO, free_port
from workers.sandbox.docker_runtime import missing_oci_runtime

pytestmark = pytest.mark.docker

MISSING = "podium-nosuchruntime"


def test_the_engines_own_runtime_passes(docker_client: docker.DockerClient) -> None:
    assert missing_oci_runtime("runc", docker_client) is None


def test_a_missing_runtime_is_named_with_the_fix(docker_client: docker.DockerClient) -> None:
    problem = missing_oci_runtime(MISSING, docker_client)
    assert problem is not None
    assert f"PODIUM_OCI_RUNTIME is '{MISSING}'" in problem
    assert "runc" in problem  # what the engine does have
    assert "runsc install" in problem and "unset PODIUM_OCI_RUNTIME" in problem


def _podium(
    tmp_path: Path, *args: str, **env: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "--data-dir", str(tmp_path / "data"), *args],
        env={**clean, "PODIUM_ENVIRONMENT": "test", "PODIUM_OCI_RUNTIME": MISSING, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,  # a worker that did start would run until killed here
    )
    return done, time.monotonic() - started


@pytest.mark.usefixtures("docker_client")
def test_podium_worker_refuses_to_start(tmp_path: Path) -> None:
    done, seconds = _podium(tmp_path, "worker", "--queues", "evaluate", "--pool", "solo")
    assert done.returncode == 2, done
    assert f"PODIUM_OCI_RUNTIME is '{MISSING}'" in done.stderr
    assert seconds < 30


@pytest.mark.usefixtures("docker_client")
def test_podium_up_refuses_to_start_before_serving(tmp_path: Path) -> None:
    port = free_port()
    done, seconds = _podium(tmp_path, "up", "--port", str(port))
    assert done.returncode == 2, done
    assert f"PODIUM_OCI_RUNTIME is '{MISSING}'" in done.stderr
    assert "Podium is up" not in done.stdout and "Admin token" not in done.stdout
    assert seconds < 30
    # The admin token is made by the first start that succeeds, not swallowed by this one.
    database = tmp_path / "data" / "podium.db"
    if database.exists():
        with session_scope(f"sqlite:///{database}") as session:
            assert not has_admin_token(session)
