"""Issue 7 item 7: image builds are limited like runs, and leave nothing uncounted behind.

Each attack runs for real on the Docker engine: a RUN step that forks 2,000 processes, a RUN
step that spins the CPU, a build cancelled while its step had written 50 MB, and the untagged
layers and step containers a build leaves. They fail if the limit or the clean-up goes away.
"""

from __future__ import annotations

import os
import re
import subprocess
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from app.config import Settings
from app.queue import RecordingQueue
from app.submissions.models import SubmissionStatus
from evaluator.testing.fake_server import FakeServerConfig
from tests.workers.test_flows import Harness
from workers import flows
from workers.reaper import BUILD_LEFTOVER_MARGIN, reap
from workers.sandbox import build_cgroup, docker_build, docker_gc
from workers.sandbox.docker_runtime import DockerRuntime
from workers.sandbox.fake_runtime import FakeRuntime
from workers.sandbox.runtime import BuildResult, BuildSpec

BASE_IMAGE = "podium-test/python:bookworm"
LABEL = "podium.test"
_RUNNING_IN = re.compile(r"Running in ([0-9a-f]{12})")


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    if os.geteuid() != 0:
        pytest.skip("build cgroups need root")
    try:
        engine = docker.from_env()
        engine.ping()
        engine.images.get(BASE_IMAGE)
    except Exception as exc:  # no engine, or no base image
        pytest.skip(f"needs a Docker engine with {BASE_IMAGE}: {exc}")
    if engine.info().get("CgroupDriver") != "cgroupfs":
        pytest.skip("build process limits need the engine's cgroupfs driver")
    yield engine
    for image in engine.images.list(filters={"label": f"{LABEL}=build-limits"}):
        try:
            engine.images.remove(str(image.id), force=True)
        except docker.errors.APIError:
            pass
    engine.close()


def _spec(tmp_path: Path, dockerfile: str, **overrides: object) -> BuildSpec:
    context = tmp_path / f"ctx-{uuid.uuid4().hex[:8]}"
    context.mkdir()
    (context / "Dockerfile").write_text(textwrap.dedent(dockerfile).lstrip())
    fields: dict[str, object] = {
        "context_dir": context,
        "tag": f"podium-test/build-limits:{uuid.uuid4().hex[:12]}",
        "labels": {LABEL: "build-limits"},
        "timeout_s": 120,
        "memory_bytes": 512 * 1024**2,
        "pids_limit": 1024,
        "nano_cpus": 1_000_000_000,
    }
    fields.update(overrides)
    return BuildSpec(**fields)  # type: ignore[arg-type]


@pytest.fixture
def made_cgroups(monkeypatch: pytest.MonkeyPatch) -> list[build_cgroup.BuildCgroup]:
    """The build cgroups the builder makes during the test."""
    made: list[build_cgroup.BuildCgroup] = []
    create = build_cgroup.create

    def recording(*args: object, **kwargs: object) -> build_cgroup.BuildCgroup:
        cgroup = create(*args, **kwargs)  # type: ignore[arg-type]
        made.append(cgroup)
        return cgroup

    monkeypatch.setattr(build_cgroup, "create", recording)
    return made


def _host_processes(marker: str) -> int:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    return sum(marker in line for line in out.stdout.splitlines())


def test_a_run_step_forking_2000_processes_hits_the_build_process_limit(
    client: docker.DockerClient, tmp_path: Path, made_cgroups: list[build_cgroup.BuildCgroup]
) -> None:
    # A bounded fork loop: 2,000 sleepers, far past the limit of 200, none of them a bomb.
    seconds = 3000 + uuid.uuid4().int % 600  # a marker to find them on the host
    spec = _spec(
        tmp_path,
        f"""
        FROM {BASE_IMAGE}
        RUN for i in $(seq 1 2000); do sleep {seconds} & done; echo "all $((1000 * 2)) started"
        """,
        pids_limit=200,
    )
    result = docker_build.build_image(client, spec)
    assert not result.ok and not result.worker_fault, result.error
    assert "all 2000 started" not in result.log
    assert "Cannot fork" in result.log  # the step saw its forks refused
    assert result.error is not None
    assert "hit its process limit of 200 processes" in result.error
    # The host is fine: none of the sleepers survived the step, and nothing is left.
    time.sleep(1)
    assert _host_processes(f"sleep {seconds}") == 0
    assert len(made_cgroups) == 1
    assert not build_cgroup.exists(made_cgroups[0].leaf)  # removed from every hierarchy
    for step in _RUNNING_IN.findall(result.log):
        with pytest.raises(docker.errors.NotFound):
            client.api.inspect_container(step)


def test_a_build_within_its_process_limit_succeeds(
    client: docker.DockerClient, tmp_path: Path
) -> None:
    spec = _spec(
        tmp_path,
        f"""
        FROM {BASE_IMAGE}
        RUN for i in $(seq 1 50); do sleep 1 & done; wait; echo fifty ok
        """,
        pids_limit=200,
    )
    result = docker_build.build_image(client, spec)
    assert result.ok, result.error
    assert "fifty ok" in result.log
    client.api.remove_image(spec.tag, force=True)


def test_run_steps_are_cpu_throttled(client: docker.DockerClient, tmp_path: Path) -> None:
    # A fifth of a CPU: a step spinning for 2 s is throttled by the kernel, which counts it.
    spec = _spec(
        tmp_path,
        f"""
        FROM {BASE_IMAGE}
        RUN if [ -f /sys/fs/cgroup/cpu.max ]; then d=/sys/fs/cgroup; q=$(cat $d/cpu.max); \\
            else d=/sys/fs/cgroup/cpu; q=$(cat $d/cpu.cfs_quota_us); fi; \\
            timeout 2 sh -c 'while :; do :; done'; \\
            echo "quota=$q $(grep nr_throttled $d/cpu.stat)"
        """,
        nano_cpus=200_000_000,
    )
    result = docker_build.build_image(client, spec)
    assert result.ok, result.error
    client.api.remove_image(spec.tag, force=True)
    match = re.search(r"quota=(\S+)(?: \d+)? nr_throttled (\d+)", result.log)
    assert match, result.log
    assert match.group(1) == "20000"
    assert int(match.group(2)) > 0


def test_build_is_refused_when_its_process_limit_cannot_be_set(
    client: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A worker that cannot make the build cgroup must not build unlimited.
    not_a_cgroup_tree = tmp_path / "cgroup"
    not_a_cgroup_tree.write_text("")
    monkeypatch.setattr(build_cgroup, "CGROUP_ROOT", not_a_cgroup_tree)
    spec = _spec(tmp_path, f"FROM {BASE_IMAGE}\nRUN echo never\n")
    result = docker_build.build_image(client, spec)
    assert not result.ok and result.worker_fault
    assert result.error is not None and "not your submission's fault" in result.error
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(spec.tag)


def test_flow_gives_builds_the_configured_limits_and_blames_the_worker(settings: Settings) -> None:
    limited = settings.model_copy(update={"build_pids_limit": 321, "build_cpus": 1.5})
    harness = Harness(limited, FakeServerConfig())
    sid = harness.submission()
    harness.build(sid)
    spec = harness.runtime.builds[-1]
    assert spec.pids_limit == 321
    assert spec.nano_cpus == 1_500_000_000
    off = settings.model_copy(update={"build_pids_limit": 0})
    harness = Harness(off, FakeServerConfig())
    harness.build(harness.submission())
    assert harness.runtime.builds[-1].pids_limit is None


def test_a_worker_fault_build_fails_as_internal_error(settings: Settings) -> None:
    harness = Harness(settings, FakeServerConfig())
    sid = harness.submission()

    def refuse(spec: BuildSpec) -> BuildResult:
        return docker_build._worker_fault("", "this worker cannot limit the processes")

    harness.runtime.build = refuse  # type: ignore[method-assign]
    flows.build_submission(harness.ctx, sid)
    sub, _ = harness.get(sid)
    assert sub.status is SubmissionStatus.failed
    assert sub.failure_reason is not None and sub.failure_reason.value == "internal_error"


def test_a_cancelled_build_leaves_no_layer_or_container(
    client: docker.DockerClient, tmp_path: Path
) -> None:
    spec = _spec(
        tmp_path,
        f"""
        FROM {BASE_IMAGE}
        RUN echo first > /first
        RUN head -c 50000000 /dev/urandom > /big && sleep 600
        """,
        timeout_s=10,
    )
    result = docker_build.build_image(client, spec)
    assert result.timed_out
    steps = _RUNNING_IN.findall(result.log)
    assert len(steps) == 2, result.log
    for step in steps:
        with pytest.raises(docker.errors.NotFound):
            client.api.inspect_container(step)
    assert not docker_build._committed_from(client, steps)
    layers = re.findall(r"^ ---> ([0-9a-f]{12})$", result.log, re.MULTILINE)
    for layer in layers[1:]:  # the first is the base image
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get(layer)
    client.images.get(BASE_IMAGE)


def _leave_dangling_layer(client: docker.DockerClient, tmp_path: Path) -> tuple[str, str]:
    """Build through the engine's API directly (no clean-up) so that a 50 MB step is committed
    and the next step fails: an untagged layer nobody removes. Returns (layer, step container)."""
    context = tmp_path / "leftover"
    context.mkdir()
    (context / "Dockerfile").write_text(
        f"FROM {BASE_IMAGE}\nRUN head -c 50000000 /dev/urandom > /big-{uuid.uuid4().hex}\n"
        "RUN exit 3\n"
    )
    log = ""
    for message in client.api.build(path=str(context), rm=True, forcerm=True, decode=True):
        log += str(message.get("stream", ""))
    layers = re.findall(r"^ ---> ([0-9a-f]{12})$", log, re.MULTILINE)
    steps = _RUNNING_IN.findall(log)
    assert len(layers) == 2 and len(steps) == 2, log
    return str(client.images.get(layers[1]).id), steps[0]


def test_a_layer_the_log_never_named_is_found_from_its_step_container(
    client: docker.DockerClient, tmp_path: Path
) -> None:
    # After a cancel the engine may commit a step's layer once the stream is closed: the
    # builder finds it by the container it was committed from.
    layer, step = _leave_dangling_layer(client, tmp_path)
    progress = docker_build._Progress(log=docker_build.CappedLog(1000), containers=[step])
    docker_build._remove_leftovers(client, progress, wait_s=0)
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(layer)


def test_gc_counts_and_reclaims_dangling_layers_and_step_containers(
    client: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = DockerRuntime(client)
    # With a 1 s age the sweep would also take other builds' cgroups on this shared engine
    # (it is tested on its own below).
    monkeypatch.setattr(build_cgroup, "sweep", lambda older_than_s: [])
    layer, _ = _leave_dangling_layer(client, tmp_path)
    assert docker_gc.dangling_bytes(client) >= 50_000_000

    # Accounting: one small labelled image under a budget it fits alone; the 50 MB leftover
    # on the same disk pushes the total over, so the labelled image goes.
    gc_value = uuid.uuid4().hex
    small = _spec(
        tmp_path, f"FROM {BASE_IMAGE}\nRUN echo small > /small\n", labels={LABEL: gc_value}
    )
    built = docker_build.build_image(client, small)
    assert built.ok and built.image_id
    size = int(client.images.get(built.image_id).attrs["Size"])
    assert runtime.prune_images(f"{LABEL}={gc_value}", keep_bytes=size + 1) == [built.image_id]

    # Step containers: one whose build is over (its build cgroup is gone) and one whose build
    # cgroup still exists (a running build's step waiting for its commit).
    live_leaf = f"gc-test-{uuid.uuid4().hex}"
    live_dir = build_cgroup.CGROUP_ROOT / "pids" / build_cgroup.PARENT / live_leaf
    if (build_cgroup.CGROUP_ROOT / "cgroup.controllers").exists():
        live_dir = build_cgroup.CGROUP_ROOT / build_cgroup.PARENT / live_leaf
    live_dir.mkdir(parents=True)
    finished = client.api.create_container(
        BASE_IMAGE,
        "true",
        host_config=client.api.create_host_config(cgroup_parent="/podium-build/gone-build"),
    )["Id"]
    running = client.api.create_container(
        BASE_IMAGE,
        "true",
        host_config=client.api.create_host_config(cgroup_parent=f"/podium-build/{live_leaf}"),
    )["Id"]
    try:
        # Within the longest build: only the finished build's step container goes.
        removed = runtime.reclaim_build_leftovers(older_than_s=3600)
        assert finished in removed
        assert running not in removed and layer not in removed
        client.api.inspect_container(running)
        client.images.get(layer)
        # Past it: the layer goes, and so does the step container of a build whose worker
        # died (its build cgroup was never removed).
        time.sleep(2)  # the engine's image times have one-second resolution
        removed = runtime.reclaim_build_leftovers(older_than_s=1)
        assert layer in removed and running in removed
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get(layer)
        client.images.get(BASE_IMAGE)  # tagged base images are never touched
        client.images.get("podium-test/ml:bookworm")
    finally:
        for container in (finished, running):
            try:
                client.api.remove_container(container, force=True)
            except docker.errors.NotFound:
                pass
        live_dir.rmdir()


def test_sweep_removes_only_old_empty_build_cgroups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A worker that died mid-build leaves its cgroup; the kernel refuses to rmdir a cgroup with
    # children, as a plain directory with a file does here.
    monkeypatch.setattr(build_cgroup, "CGROUP_ROOT", tmp_path)
    parent = tmp_path / "pids" / build_cgroup.PARENT
    old, young, busy = parent / "old", parent / "young", parent / "busy"
    for directory in (old, young, busy):
        directory.mkdir(parents=True)
    (busy / "tasks").write_text("1\n")
    long_ago = time.time() - 7200
    os.utime(old, (long_ago, long_ago))
    os.utime(busy, (long_ago, long_ago))
    assert build_cgroup.sweep(older_than_s=3600) == [old]
    assert young.is_dir() and busy.is_dir()


def test_gc_leaves_young_leftovers_alone(client: docker.DockerClient, tmp_path: Path) -> None:
    # A layer younger than the longest build may be a running build's: kept, but counted.
    layer, _ = _leave_dangling_layer(client, tmp_path)
    try:
        removed = DockerRuntime(client).reclaim_build_leftovers(older_than_s=3600)
        assert layer not in removed
        client.images.get(layer)
        assert docker_gc.dangling_bytes(client) >= 50_000_000
    finally:
        client.api.remove_image(layer, force=True)


def test_reaper_reclaims_leftovers_only_past_the_longest_build(settings: Settings) -> None:
    runtime = FakeRuntime()
    reap(settings, RecordingQueue(), runtime=runtime)
    assert runtime.reclaim_calls == [
        settings.build_timeout_s + BUILD_LEFTOVER_MARGIN.total_seconds()
    ]
