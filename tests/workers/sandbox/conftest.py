"""Fixtures for the sandbox tests.

Tests that need a Docker engine take `docker_client` (or a fixture built on it). Without an
engine they skip locally, with the reason, and FAIL when the CI environment variable is set: a
CI run that silently skipped the sandbox tests would prove nothing about isolation.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from tests.bridge_address import docker_bridge_address
from workers.sandbox.docker_runtime import DockerRuntime
from workers.sandbox.runtime import BuildSpec, ContainerSpec

BASE_IMAGE = "podium-test/python:bookworm"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # docker-py raises its own errors and raw requests ones here
        _unavailable(f"no Docker engine reachable: {exc}; start one (scripts/ensure-services.sh)")
    try:
        client.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        _unavailable(f"base image {BASE_IMAGE} missing: run scripts/build-base-images.sh")
    yield client
    client.close()


@pytest.fixture(scope="session")
def test_label() -> str:
    """A label unique to this test session; everything created carries it, for cleanup."""
    return f"podium.test=sandbox-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def runtime(docker_client: docker.DockerClient, test_label: str) -> Iterator[DockerRuntime]:
    if os.geteuid() != 0:
        _unavailable("entering a container's network namespace needs root")
    yield DockerRuntime(docker_client)
    # Leave nothing behind, whatever the tests did.
    for container in docker_client.containers.list(all=True, filters={"label": test_label}):
        container.remove(force=True)
    for image in docker_client.images.list(filters={"label": test_label}):
        try:
            docker_client.images.remove(str(image.id), force=True)
        except docker.errors.APIError:
            pass


@pytest.fixture(scope="session")
def labels(test_label: str) -> dict[str, str]:
    key, _, value = test_label.partition("=")
    return {key: value}


@pytest.fixture
def make_context(tmp_path: Path) -> Callable[..., Path]:
    """Write a build context whose Dockerfile is the given text (dedented), plus extra files."""

    def make(dockerfile: str, **files: str) -> Path:
        context = tmp_path / f"ctx-{uuid.uuid4().hex[:8]}"
        context.mkdir()
        (context / "Dockerfile").write_text(textwrap.dedent(dockerfile).lstrip())
        for name, content in files.items():
            (context / name).write_text(content)
        return context

    return make


@pytest.fixture
def make_spec(labels: dict[str, str]) -> Callable[..., ContainerSpec]:
    """A ContainerSpec under the policy, with small limits suited to tests and a unique name."""

    def make(image: str, **overrides: object) -> ContainerSpec:
        fields: dict[str, object] = {
            "image": image,
            "name": f"podium-test-{uuid.uuid4().hex[:12]}",
            "labels": labels,
            "memory_bytes": 256 * 1024 * 1024,
            "nano_cpus": 1_000_000_000,
            "tmpfs_bytes": 16 * 1024 * 1024,
        }
        fields.update(overrides)
        return ContainerSpec(**fields)  # type: ignore[arg-type]

    return make


@pytest.fixture
def build_spec(labels: dict[str, str]) -> Callable[..., BuildSpec]:
    """A BuildSpec with a unique tag and the session's cleanup label."""

    def make(context: Path, **overrides: object) -> BuildSpec:
        fields: dict[str, object] = {
            "context_dir": context,
            "tag": f"podium-test/sandbox:{uuid.uuid4().hex[:12]}",
            "labels": labels,
            "timeout_s": 120,
        }
        fields.update(overrides)
        return BuildSpec(**fields)  # type: ignore[arg-type]

    return make


@pytest.fixture
def wait_exited(runtime: DockerRuntime) -> Callable[[str], None]:
    def wait(container_id: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while runtime.state(container_id).running:
            if time.monotonic() > deadline:
                raise AssertionError(f"{container_id} still running after {timeout_s}s")
            time.sleep(0.1)

    return wait


@pytest.fixture(scope="session")
def bridge_gateway(docker_client: docker.DockerClient, labels: dict[str, str]) -> str:
    """The host's own address on the default docker bridge (docker0), on every engine."""
    return docker_bridge_address(docker_client, BASE_IMAGE, labels)


@pytest.fixture
def netns_server() -> Iterator[int]:
    """An HTTP server on 127.0.0.1:8080 inside a fresh network namespace; yields its PID.

    Lets the namespace code be tested without Docker: nothing in our namespace can reach it.
    """
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        _unavailable("needs root, unshare and ip to create a network namespace")
    script = (
        f"ip link set lo up && exec {sys.executable} -m http.server 8080 --bind 127.0.0.1 "
        f"--directory {Path(__file__).parent}"
    )
    proc = subprocess.Popen(
        ["unshare", "--net", "sh", "-c", script],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Popen returns before the child has called unshare(2): until then its namespace is
        # ours, and a factory opened on it would reach our own loopback.
        own = os.stat("/proc/self/ns/net").st_ino
        deadline = time.monotonic() + 10
        while os.stat(f"/proc/{proc.pid}/ns/net").st_ino == own:
            if time.monotonic() > deadline:
                raise AssertionError("the server never entered its own network namespace")
            time.sleep(0.01)
        yield proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)
