"""What a team's server can do to the host from inside the sandbox: fork, memory and log bombs,
writes to the image, and the privileged system calls a root process would normally have.

Each attack runs for real in a container started by `DockerRuntime` under the sandbox policy
(real engine, base image podium-test/python:bookworm), with small limits so that each test takes
seconds. Where the attack would succeed in a plain container (writes to the root, chown, raw
sockets, mknod), a control run without the policy shows it, so a refusal under the policy is the
policy's doing. Containers are removed in every outcome.
"""

from __future__ import annotations

import json
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors
import pytest

from app.auth.service import create_team
from app.config import Settings
from app.kit.db import session_scope
from app.queue import RecordingQueue
from app.submissions.models import Evaluation, FailureReason, Submission, SubmissionStatus
from tests.workers.sandbox import conftest as sandbox
from workers import flows
from workers.context import WorkerContext
from workers.gpus import GpuPool
from workers.sandbox.docker_runtime import DockerRuntime
from workers.sandbox.runtime import BuildSpec, ContainerNotFound, ContainerSpec

pytestmark = pytest.mark.docker
BASE_IMAGE = sandbox.BASE_IMAGE

# The sandbox tests' fixtures: a real DockerRuntime, cleaned up by the session's label.
docker_client = sandbox.docker_client
test_label = sandbox.test_label
labels = sandbox.labels
runtime = sandbox.runtime
make_spec = sandbox.make_spec
make_context = sandbox.make_context
build_spec = sandbox.build_spec
wait_exited = sandbox.wait_exited

MiB = 1024 * 1024


def _wait_for_line(runtime: DockerRuntime, cid: str, prefix: str, timeout_s: float = 30) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in runtime.logs(cid, 100_000).splitlines():
            if line.startswith(prefix):
                return line.removeprefix(prefix)
        time.sleep(0.1)
    raise AssertionError(f"no {prefix!r} line from {cid}: {runtime.logs(cid, 10_000)}")


FORK_BOMB = textwrap.dedent(
    """
    import os, time
    children, error = 0, None
    for _ in range(5000):
        try:
            pid = os.fork()
        except OSError as exc:
            error = exc.strerror
            break
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        children += 1
    print("FORKS " + str(children) + " " + str(error), flush=True)
    time.sleep(60)
    """
)


def test_a_fork_bomb_stays_within_the_pids_limit_and_is_gone_with_its_container(
    runtime: DockerRuntime,
    docker_client: docker.DockerClient,
    make_spec: Callable[..., ContainerSpec],
) -> None:
    limit = 64
    cid = runtime.start(
        make_spec(BASE_IMAGE, command=["python3", "-c", FORK_BOMB], pids_limit=limit)
    )
    try:
        children, _, error = _wait_for_line(runtime, cid, "FORKS ").partition(" ")
        assert 0 < int(children) < limit, children
        assert error == "Resource temporarily unavailable"
        # The engine's own view: the processes the bomb left, all within the limit.
        host_pids = [int(p[1]) for p in docker_client.api.top(cid)["Processes"]]
        assert int(children) < len(host_pids) <= limit
        assert all(Path(f"/proc/{pid}").exists() for pid in host_pids)
    finally:
        runtime.remove(cid)
    with pytest.raises(ContainerNotFound):
        runtime.state(cid)
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in host_pids):
        assert time.monotonic() < deadline, "a process of the removed container survived"
        time.sleep(0.1)


MEMORY_BOMB = textwrap.dedent(
    """
    import sys
    chunks = []
    while True:
        chunks.append(bytearray(16 * 1024 * 1024))  # zero-filled: the pages are really used
        print("HELD " + str(16 * len(chunks)), flush=True)
    """
)


def test_a_memory_bomb_is_oom_killed_at_the_limit(
    runtime: DockerRuntime, make_spec: Callable[..., ContainerSpec]
) -> None:
    limit = 128 * MiB
    cid = runtime.start(
        make_spec(BASE_IMAGE, command=["python3", "-c", MEMORY_BOMB], memory_bytes=limit)
    )
    try:
        deadline = time.monotonic() + 60
        while runtime.state(cid).running:
            assert time.monotonic() < deadline, "the memory bomb was never stopped"
            time.sleep(0.1)
        state = runtime.state(cid)
        held = [int(line.split()[1]) for line in runtime.logs(cid, 100_000).splitlines()]
    finally:
        runtime.remove(cid)
    assert state.oom_killed and state.exit_code == 137, state
    # Swap is off (memory + swap = the limit): nothing beyond the limit was ever held.
    assert held and max(held) * MiB <= limit, held


def _evaluation(settings: Settings, image_id: str) -> tuple[str, str]:
    with session_scope(settings.database_url) as session:
        team, _ = create_team(session, f"team-{uuid.uuid4().hex[:10]}")
        sub = Submission(
            team_id=team.id,
            context_sha256="0" * 64,
            status=SubmissionStatus.evaluating,
            image_id=image_id,
        )
        session.add(sub)
        session.flush()
        evaluation = Evaluation(submission_id=sub.id, suite_name="smoke", image_id=image_id)
        session.add(evaluation)
        session.flush()
        return sub.id, evaluation.id


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_memory_bomb_fails_the_evaluation_as_oom(
    settings: Settings,
    runtime: DockerRuntime,
    make_context: Callable[..., Path],
    build_spec: Callable[..., BuildSpec],
) -> None:
    built = runtime.build(
        build_spec(
            make_context(
                f'FROM {BASE_IMAGE}\nCOPY bomb.py /bomb.py\nCMD ["python3", "/bomb.py"]\n',
                **{"bomb.py": MEMORY_BOMB},
            )
        )
    )
    assert built.ok and built.image_id is not None, built.log
    sid, eid = _evaluation(settings, built.image_id)
    fast = settings.model_copy(
        update={
            "container_memory_bytes": 128 * MiB,
            "container_tmpfs_bytes": 16 * MiB,
            "container_cpus": 1.0,
            "start_timeout_s": 30.0,
        }
    )
    worker = WorkerContext(fast, runtime, GpuPool([], settings.data_dir / "gpu"), RecordingQueue())
    flows.evaluate(worker, eid)
    with session_scope(settings.database_url) as session:
        sub = session.get(Submission, sid)
        assert sub is not None
        assert sub.status is SubmissionStatus.failed
        assert sub.failure_reason is FailureReason.oom, sub.failure_message
        assert "ran out of memory" in (sub.failure_message or "")
    # The container is gone whatever the outcome.
    assert not runtime.client.containers.list(all=True, filters={"name": f"podium-eval-{eid}"})


LOG_BOMB = textwrap.dedent(
    """
    import sys
    line = b"x" * 1023 + b"\\n"
    block = line * 1024
    for _ in range(200):  # 200 MiB, as fast as the pipe takes it
        sys.stdout.buffer.write(block)
    sys.stdout.buffer.write(b"LAST LINE\\n")
    sys.stdout.flush()
    """
)


def test_a_log_bomb_leaves_the_engines_log_and_the_kept_log_bounded(
    runtime: DockerRuntime,
    docker_client: docker.DockerClient,
    make_spec: Callable[..., ContainerSpec],
    wait_exited: Callable[..., None],
) -> None:
    engine_cap = 1 * MiB
    cid = runtime.start(
        make_spec(BASE_IMAGE, command=["python3", "-c", LOG_BOMB], log_max_bytes=engine_cap)
    )
    try:
        wait_exited(cid, timeout_s=120)
        log_path = docker_client.api.inspect_container(cid).get("LogPath") or ""
        on_disk = [p for p in Path(log_path).parent.glob(Path(log_path).name + "*")]
        stored = sum(p.stat().st_size for p in on_disk)
        kept = runtime.logs(cid, 64 * 1024)
    finally:
        runtime.remove(cid)
    assert log_path and on_disk, "the engine's json-file log was not found on this host"
    # json-file rotates past max-size, so a file overshoots it by at most one entry.
    assert 0 < stored <= 2 * engine_cap, f"the engine stored {stored} bytes of a 200 MiB flood"
    assert len(kept.encode()) <= 64 * 1024 + 100
    assert kept.endswith("LAST LINE\n") and "bytes truncated" in kept.splitlines()[0]


PRIVILEGE_PROBE = textwrap.dedent(
    """
    import ctypes, json, os, socket
    out = {}
    def attempt(name, fn):
        try:
            fn()
            out[name] = "ok"
        except OSError as exc:
            out[name] = exc.strerror or repr(exc)
    def mount():
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.mount(b"none", b"/tmp", b"tmpfs", 0, None) != 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    open("/tmp/owned", "w").close()
    attempt("write_etc", lambda: open("/etc/podium-attack", "w").close())
    attempt("write_usr_bin", lambda: open("/usr/bin/podium-attack", "w").close())
    attempt("mkdir_root", lambda: os.mkdir("/podium-attack"))
    attempt("chown", lambda: os.chown("/tmp/owned", 1234, 1234))
    attempt("raw_socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW,
                                                socket.IPPROTO_ICMP).close())
    attempt("mknod", lambda: os.mknod("/tmp/mem", 0o600 | 0o020000, os.makedev(1, 1)))
    attempt("setuid", lambda: os.setuid(1234))
    attempt("mount", mount)
    attempt("sysrq", lambda: open("/proc/sysrq-trigger", "w").write("h"))
    print("PROBE " + json.dumps(out), flush=True)
    """
)


def test_the_container_cannot_write_its_image_nor_use_root_privileges(
    runtime: DockerRuntime,
    docker_client: docker.DockerClient,
    make_spec: Callable[..., ContainerSpec],
    wait_exited: Callable[[str], None],
    labels: dict[str, str],
) -> None:
    command = ["python3", "-c", PRIVILEGE_PROBE]
    plain = docker_client.containers.run(
        BASE_IMAGE, command, labels=labels, network_mode="none", remove=True
    )
    control = json.loads(plain.decode().split("PROBE ", 1)[1])
    why = "a plain root container can do these, or the probe proves nothing"
    for name in ("write_etc", "write_usr_bin", "mkdir_root", "chown", "raw_socket", "mknod"):
        assert control[name] == "ok", (why, name, control)

    cid = runtime.start(make_spec(BASE_IMAGE, command=command))
    try:
        wait_exited(cid)
        seen = json.loads(_wait_for_line(runtime, cid, "PROBE "))
    finally:
        runtime.remove(cid)
    for name in ("write_etc", "write_usr_bin", "mkdir_root"):
        assert seen[name] == "Read-only file system", (name, seen)
    assert seen["sysrq"] != "ok", seen  # masked or read-only, depending on the kernel
    for name in ("chown", "raw_socket", "mknod", "setuid", "mount"):
        assert seen[name] == "Operation not permitted", (name, seen)
