"""DockerRuntime against the real engine: builds, the run policy, crashes, cleanup."""

from __future__ import annotations

import json
import re
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.errors
import httpx
import pytest

from workers.sandbox.docker_gc import dangling_bytes
from workers.sandbox.docker_runtime import DockerRuntime
from workers.sandbox.runtime import (
    BuildSpec,
    ContainerNotFound,
    ContainerNotRunning,
    ContainerSpec,
    SandboxError,
)

pytestmark = pytest.mark.docker

SERVER_DOCKERFILE = """
FROM podium-test/python:bookworm
RUN mkdir /site && echo hello > /site/hello.txt
CMD ["python3", "-m", "http.server", "80", "--directory", "/site"]
"""

# Reports what the sandbox allows, as JSON on stdout.
PROBE = textwrap.dedent(
    """
    import json, os, subprocess
    out = {}
    def attempt(name, fn):
        try:
            fn()
            out[name] = "ok"
        except OSError as exc:
            out[name] = exc.strerror or repr(exc)
    attempt("write_root", lambda: open("/etc/podium-probe", "w").close())
    attempt("write_tmp", lambda: open("/tmp/podium-probe", "w").close())
    attempt("write_weights", lambda: open("/weights/x", "w").close())
    with open("/tmp/probe.sh", "w") as script:
        script.write("#!/bin/sh\\necho exec-ok\\n")
    os.chmod("/tmp/probe.sh", 0o755)
    attempt("exec_tmp", lambda: subprocess.run(["/tmp/probe.sh"], check=True))
    lines = open("/proc/self/status").read().splitlines()
    status = dict(line.split(":\\t", 1) for line in lines if ":\\t" in line)
    out["cap_eff"] = status["CapEff"].strip()
    out["no_new_privs"] = status["NoNewPrivs"].strip()
    out["interfaces"] = sorted(os.listdir("/sys/class/net"))
    out["weights_env"] = os.environ.get("PODIUM_WEIGHTS_DIR")
    out["weights"] = open("/weights/model.txt").read()
    out["uid"] = os.getuid()
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def server_image(
    runtime: DockerRuntime, labels: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> str:
    context = tmp_path_factory.mktemp("server")
    (context / "Dockerfile").write_text(SERVER_DOCKERFILE)
    result = runtime.build(
        BuildSpec(context_dir=context, tag="podium-test/sandbox-server:latest", labels=labels)
    )
    assert result.ok, result.error
    assert result.image_id is not None
    return result.image_id


@pytest.fixture
def started(runtime: DockerRuntime) -> Iterator[Callable[[ContainerSpec], str]]:
    """Start containers that are removed after the test, whatever happens."""
    ids: list[str] = []

    def start(spec: ContainerSpec) -> str:
        ids.append(runtime.start(spec))
        return ids[-1]

    yield start
    for container_id in ids:
        runtime.remove(container_id)


def _poll(client: httpx.Client, path: str, timeout_s: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return client.get(path)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


# -- builds ---------------------------------------------------------------------------------


def test_build_produces_a_labelled_image(
    runtime: DockerRuntime,
    docker_client: docker.DockerClient,
    make_context: Callable[..., Path],
    build_spec: Callable[..., BuildSpec],
    labels: dict[str, str],
) -> None:
    spec = build_spec(make_context("FROM podium-test/python:bookworm\nRUN echo built > /b\n"))
    result = runtime.build(spec)
    assert result.ok and not result.timed_out and result.error is None
    image = docker_client.images.get(spec.tag)
    assert image.id == result.image_id
    assert labels.items() <= image.labels.items()
    assert "Step 2/" in result.log and "RUN echo built" in result.log


def test_failing_build_names_the_step_and_shows_the_log_tail(
    runtime: DockerRuntime,
    docker_client: docker.DockerClient,
    make_context: Callable[..., Path],
    build_spec: Callable[..., BuildSpec],
) -> None:
    context = make_context(
        """
        FROM podium-test/python:bookworm
        RUN echo first step
        RUN echo the-last-words >&2 && exit 7
        RUN echo never
        """
    )
    result = runtime.build(build_spec(context))
    assert not result.ok and not result.timed_out and result.image_id is None
    assert result.error is not None
    assert "Step 3/" in result.error and "RUN echo the-last-words >&2 && exit 7" in result.error
    assert "non-zero code: 7" in result.error
    assert "the-last-words" in result.error.split("--- last log lines ---")[1]
    assert "\x1b[" not in result.log  # the builder's colour codes are stripped
    # The step committed before the failure carries no label: it must not be left behind.
    base, *layers = re.findall(r"^ ---> ([0-9a-f]{12})$", result.log, re.MULTILINE)
    assert docker_client.images.get(base).tags  # the FROM image itself is kept
    assert layers
    for layer in layers:
        with pytest.raises(docker.errors.ImageNotFound):
            docker_client.images.get(layer)


def test_missing_dockerfile_is_reported(
    runtime: DockerRuntime, tmp_path: Path, build_spec: Callable[..., BuildSpec]
) -> None:
    result = runtime.build(build_spec(tmp_path, dockerfile="docker/Dockerfile"))
    assert not result.ok and "docker/Dockerfile" in (result.error or "")


def test_a_dockerfile_outside_the_context_is_refused(
    runtime: DockerRuntime, tmp_path: Path, build_spec: Callable[..., BuildSpec]
) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (tmp_path / "secret").write_text("FROM host-secret\n")
    (context / "Dockerfile").symlink_to(tmp_path / "secret")
    for dockerfile in ("../secret", "Dockerfile"):
        result = runtime.build(build_spec(context, dockerfile=dockerfile))
        assert not result.ok and "leaves the build context" in (result.error or "")
        assert "host-secret" not in result.log + (result.error or "")


def test_build_timeout_cancels_the_build_and_its_container(
    runtime: DockerRuntime,
    docker_client: docker.DockerClient,
    make_context: Callable[..., Path],
    build_spec: Callable[..., BuildSpec],
) -> None:
    context = make_context("FROM podium-test/python:bookworm\nRUN echo sleeping && sleep 600\n")
    spec = build_spec(context, timeout_s=3)
    started = time.monotonic()
    result = runtime.build(spec)
    assert time.monotonic() - started < 40
    assert result.timed_out and not result.ok and result.image_id is None
    assert "3s time limit" in (result.error or "") and "sleep 600" in (result.error or "")
    step_containers = re.findall(r"Running in ([0-9a-f]+)", result.log)
    assert step_containers
    for container_id in step_containers:
        with pytest.raises(docker.errors.NotFound):
            docker_client.containers.get(container_id)
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(spec.tag)


def test_build_memory_limit(
    runtime: DockerRuntime,
    make_context: Callable[..., Path],
    build_spec: Callable[..., BuildSpec],
) -> None:
    context = make_context(
        "FROM podium-test/python:bookworm\n"
        "RUN python3 -c \"x = 'x' * (512 * 1024 * 1024); print(len(x))\"\n"
    )
    result = runtime.build(build_spec(context, memory_bytes=64 * 1024 * 1024))
    assert not result.ok
    assert "137" in (result.error or "") and "memory limit" in (result.error or "")


def test_build_log_is_capped_keeping_head_and_tail(
    runtime: DockerRuntime,
    make_context: Callable[..., Path],
    build_spec: Callable[..., BuildSpec],
) -> None:
    context = make_context(
        "FROM podium-test/python:bookworm\n"
        "RUN python3 -c \"[print('line', i) for i in range(20000)]; print('THE-END')\"\n"
    )
    result = runtime.build(build_spec(context, log_limit_bytes=4000))
    assert result.ok
    assert len(result.log.encode()) < 4200
    assert result.log.startswith("Step 1/")
    assert "bytes truncated" in result.log
    assert "THE-END" in result.log and "Successfully" in result.log


# -- running under the policy -----------------------------------------------------------------


def test_endpoint_reaches_the_server_in_a_locked_down_container(
    runtime: DockerRuntime,
    docker_client: docker.DockerClient,
    server_image: str,
    make_spec: Callable[..., ContainerSpec],
    started: Callable[[ContainerSpec], str],
) -> None:
    container_id = started(make_spec(server_image))
    with runtime.endpoint(container_id, 80) as url, httpx.Client(base_url=url) as client:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        assert _poll(client, "/hello.txt").text == "hello\n"
    attrs = docker_client.api.inspect_container(container_id)
    assert attrs["HostConfig"]["NetworkMode"] == "none"
    assert not attrs["HostConfig"]["PortBindings"]
    assert attrs["NetworkSettings"]["Ports"] in ({}, None)


def test_readiness_poll_retries_until_a_slow_server_is_up(
    runtime: DockerRuntime,
    server_image: str,
    make_spec: Callable[..., ContainerSpec],
    started: Callable[[ContainerSpec], str],
) -> None:
    slow = ["sh", "-c", "sleep 3 && exec python3 -m http.server 8000 --directory /site"]
    container_id = started(make_spec(server_image, command=slow, port=8000))
    with runtime.endpoint(container_id, 8000) as url, httpx.Client(base_url=url) as client:
        with pytest.raises(httpx.TransportError):
            client.get("/hello.txt")
        assert _poll(client, "/hello.txt").status_code == 200


def test_many_concurrent_requests_through_the_endpoint(
    runtime: DockerRuntime,
    server_image: str,
    make_spec: Callable[..., ContainerSpec],
    started: Callable[[ContainerSpec], str],
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    container_id = started(make_spec(server_image))
    with runtime.endpoint(container_id, 80) as url, httpx.Client(base_url=url) as client:
        _poll(client, "/hello.txt")
        with ThreadPoolExecutor(64) as pool:
            codes = list(pool.map(lambda _: client.get("/hello.txt").status_code, range(128)))
    assert codes == [200] * 128


def test_the_policy_holds_inside_the_container(
    runtime: DockerRuntime,
    docker_client: docker.DockerClient,
    make_spec: Callable[..., ContainerSpec],
    started: Callable[[ContainerSpec], str],
    wait_exited: Callable[[str], None],
    tmp_path: Path,
) -> None:
    (tmp_path / "model.txt").write_text("weights!")
    spec = make_spec(
        "podium-test/python:bookworm",
        command=["python3", "-c", PROBE],
        weights_dir=tmp_path,
        pids_limit=64,
    )
    container_id = started(spec)
    wait_exited(container_id)
    state = runtime.state(container_id)
    logs = runtime.logs(container_id, 100_000)
    assert state.exit_code == 0, logs
    probe = json.loads(logs.strip().splitlines()[-1])
    assert probe["write_root"] == "Read-only file system"
    assert probe["write_tmp"] == "ok"
    assert probe["exec_tmp"] == "ok"
    assert probe["write_weights"] == "Read-only file system"
    assert probe["weights"] == "weights!" and probe["weights_env"] == "/weights"
    assert int(probe["cap_eff"], 16) == 0
    assert probe["no_new_privs"] == "1"
    assert probe["interfaces"] == ["lo"]
    host = docker_client.api.inspect_container(container_id)["HostConfig"]
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["PidsLimit"] == 64
    assert host["Memory"] == host["MemorySwap"] == spec.memory_bytes
    assert host["NanoCpus"] == spec.nano_cpus
    assert host["Privileged"] is False
    assert not host.get("DeviceRequests")


def test_tmpfs_is_size_capped(
    runtime: DockerRuntime,
    make_spec: Callable[..., ContainerSpec],
    started: Callable[[ContainerSpec], str],
    wait_exited: Callable[[str], None],
) -> None:
    fill = "open('/tmp/big', 'wb').write(b'x' * (8 * 1024 * 1024))"
    container_id = started(
        make_spec(
            "podium-test/python:bookworm",
            command=["python3", "-c", fill],
            tmpfs_bytes=4 * 1024 * 1024,
        )
    )
    wait_exited(container_id)
    assert runtime.state(container_id).exit_code != 0
    assert "No space left on device" in runtime.logs(container_id, 10_000)


def test_crash_reports_exit_code_and_logs(
    runtime: DockerRuntime,
    make_spec: Callable[..., ContainerSpec],
    started: Callable[[ContainerSpec], str],
    wait_exited: Callable[[str], None],
) -> None:
    crash = (
        "import sys; print('loading model'); sys.stderr.write('Traceback: boom\\n'); sys.exit(3)"
    )
    container_id = started(
        make_spec("podium-test/python:bookworm", command=["python3", "-c", crash])
    )
    wait_exited(container_id)
    state = runtime.state(container_id)
    assert (state.running, state.exit_code, state.oom_killed) == (False, 3, False)
    logs = runtime.logs(container_id, 10_000)
    assert "loading model" in logs and "Traceback: boom" in logs
    with pytest.raises(ContainerNotRunning):
        with runtime.endpoint(container_id, 80):
            pass


def test_logs_keep_the_tail(
    runtime: DockerRuntime,
    make_spec: Callable[..., ContainerSpec],
    started: Callable[[ContainerSpec], str],
    wait_exited: Callable[[str], None],
) -> None:
    chatty = "[print('noise', i) for i in range(5000)]; print('FINAL LINE')"
    container_id = started(
        make_spec("podium-test/python:bookworm", command=["python3", "-c", chatty])
    )
    wait_exited(container_id)
    logs = runtime.logs(container_id, 200)
    assert logs.startswith("[... ") and "bytes truncated" in logs.splitlines()[0]
    assert logs.endswith("FINAL LINE\n")
    assert len(logs.encode()) < 260


def test_memory_hog_is_oom_killed(
    runtime: DockerRuntime,
    make_spec: Callable[..., ContainerSpec],
    started: Callable[[ContainerSpec], str],
    wait_exited: Callable[[str], None],
) -> None:
    hog = "x = 'x' * (512 * 1024 * 1024); print('survived')"
    container_id = started(
        make_spec(
            "podium-test/python:bookworm",
            command=["python3", "-c", hog],
            memory_bytes=64 * 1024 * 1024,
        )
    )
    wait_exited(container_id)
    state = runtime.state(container_id)
    assert state.oom_killed and state.exit_code == 137
    assert "survived" not in runtime.logs(container_id, 10_000)


def test_remove_is_idempotent_and_leaves_nothing(
    runtime: DockerRuntime,
    docker_client: docker.DockerClient,
    server_image: str,
    make_spec: Callable[..., ContainerSpec],
) -> None:
    spec = make_spec(server_image)
    container_id = runtime.start(spec)
    runtime.remove(container_id)
    runtime.remove(container_id)
    runtime.remove(spec.name)
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(container_id)
    with pytest.raises(ContainerNotFound):
        runtime.state(container_id)
    with pytest.raises(ContainerNotFound):
        runtime.logs(container_id, 100)


def test_a_container_that_cannot_start_is_not_left_behind(
    runtime: DockerRuntime,
    docker_client: docker.DockerClient,
    server_image: str,
    make_spec: Callable[..., ContainerSpec],
) -> None:
    for spec in (
        make_spec(server_image, oci_runtime="podium-no-such-runtime"),
        make_spec(server_image, weights_dir=Path("/nonexistent/podium-weights")),
        make_spec("podium-test/no-such-image:never"),
    ):
        with pytest.raises(SandboxError):
            runtime.start(spec)
        with pytest.raises(docker.errors.NotFound):
            docker_client.containers.get(spec.name)


def test_gpus_requested_on_a_host_without_them_fail_cleanly(
    runtime: DockerRuntime,
    docker_client: docker.DockerClient,
    server_image: str,
    make_spec: Callable[..., ContainerSpec],
) -> None:
    spec = make_spec(server_image, gpus=("0",))
    try:
        container_id = runtime.start(spec)
    except SandboxError as exc:
        assert "gpu" in str(exc).lower()
        with pytest.raises(docker.errors.NotFound):
            docker_client.containers.get(spec.name)
        return
    # A GPU host: the request must name exactly the assigned device.
    try:
        requests = docker_client.api.inspect_container(container_id)["HostConfig"]["DeviceRequests"]
        assert requests[0]["DeviceIDs"] == ["0"]
    finally:
        runtime.remove(container_id)


def test_image_removal_and_pruning(
    runtime: DockerRuntime,
    docker_client: docker.DockerClient,
    make_context: Callable[..., Path],
    build_spec: Callable[..., BuildSpec],
    make_spec: Callable[..., ContainerSpec],
    started: Callable[[ContainerSpec], str],
    labels: dict[str, str],
) -> None:
    gc_label = {**labels, "podium.gc-test": time.strftime("%H%M%S") + str(time.monotonic_ns())}
    ids = []
    for n in range(4):
        context = make_context(f"FROM podium-test/python:bookworm\nRUN echo {n} > /n\n")
        result = runtime.build(build_spec(context, labels=gc_label))
        assert result.ok and result.image_id
        ids.append(result.image_id)
        time.sleep(1.1)  # the engine's image list has one-second creation times
    sizes = {i: docker_client.images.get(i).attrs["Size"] for i in ids}
    started(make_spec(ids[1], command=["sleep", "60"]))
    key, value = "podium.gc-test", gc_label["podium.gc-test"]
    # Untagged build leftovers on the engine count against the budget too.
    budget = sizes[ids[1]] + sizes[ids[3]] + dangling_bytes(docker_client)
    removed = runtime.prune_images(f"{key}={value}", keep_bytes=budget)
    assert removed == [ids[0], ids[2]]  # oldest first, skipping the one in use
    assert runtime.prune_images(f"{key}={value}", keep_bytes=budget) == []
    with pytest.raises(SandboxError):
        runtime.remove_image(ids[1])  # in use
    runtime.remove_image(ids[3])
    runtime.remove_image(ids[3])  # already gone: fine
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(ids[3])
