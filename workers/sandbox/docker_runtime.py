"""`ContainerRuntime` on a real Docker engine, enforcing DESIGN.md's sandbox policy."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container
from docker.types import DeviceRequest, LogConfig, Mount

from workers.sandbox.docker_build import build_image
from workers.sandbox.docker_gc import dangling_bytes, reclaim_build_leftovers
from workers.sandbox.faults import HostSetupError, ImageDefect, image_defect
from workers.sandbox.logcap import CappedLog
from workers.sandbox.netns import NetnsSocketFactory, ProcessGone
from workers.sandbox.proxy import TcpProxy
from workers.sandbox.runtime import (
    WEIGHTS_ENV,
    WEIGHTS_MOUNT,
    BuildResult,
    BuildSpec,
    ContainerNotFound,
    ContainerNotRunning,
    ContainerSpec,
    ContainerState,
    ImageNotFound,
    SandboxError,
)

_REMOVAL_WAIT_S = 30.0
# How long the engine may take to notice that a container's process exited.
_EXIT_NOTICE_S = 2.0


def container_options(spec: ContainerSpec) -> dict[str, Any]:
    """The keyword arguments for `containers.create` that put `spec` under the sandbox policy.

    A pure function, so the policy can be read and unit-tested without an engine.
    """
    env = dict(spec.env)
    mounts: list[Mount] = []
    if spec.weights_dir is not None:
        mounts.append(
            Mount(
                target=WEIGHTS_MOUNT,
                source=str(spec.weights_dir.resolve()),
                type="bind",
                read_only=True,
            )
        )
        env[WEIGHTS_ENV] = WEIGHTS_MOUNT
    device_requests = (
        [DeviceRequest(device_ids=list(spec.gpus), capabilities=[["gpu"]])] if spec.gpus else []
    )
    # Rotating across two files keeps at least half the budget of the most recent output, which
    # is what explains a crash; one file would be emptied on rotation.
    log_config = LogConfig(
        type=LogConfig.types.JSON,
        config={"max-size": str(max(spec.log_max_bytes // 2, 1024)), "max-file": "2"},
    )
    return {
        "image": spec.image,
        "command": list(spec.command) if spec.command is not None else None,
        "name": spec.name,
        "labels": dict(spec.labels),
        "environment": env,
        # Only a loopback: the container can reach nothing, and is reached only through
        # `endpoint` (a socket made inside its namespace). No port is ever published.
        "network_mode": "none",
        "read_only": True,
        # `exec`: Docker's tmpfs default is noexec, which breaks servers that compile and load
        # kernels from /tmp (Triton, torch.compile, vLLM). nosuid stays.
        "tmpfs": {"/tmp": f"rw,exec,nosuid,nodev,size={spec.tmpfs_bytes},mode=1777"},
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        # Without CAP_NET_BIND_SERVICE, binding port 80 needs this namespaced sysctl; Docker
        # 20.10+ sets it by default, older engines do not.
        "sysctls": {"net.ipv4.ip_unprivileged_port_start": "0"},
        "ipc_mode": "private",
        "pids_limit": spec.pids_limit,
        "mem_limit": spec.memory_bytes,
        "memswap_limit": spec.memory_bytes,
        "nano_cpus": spec.nano_cpus,
        "shm_size": spec.shm_bytes,
        "device_requests": device_requests,
        "mounts": mounts,
        "runtime": spec.oci_runtime,
        "log_config": log_config,
        # Kept after exit: the flow reads the exit code, OOM flag and logs of a crash.
        "auto_remove": False,
    }


class DockerRuntime:
    """Docker engine implementation. `endpoint` needs root (CAP_SYS_ADMIN) and the host's PID
    namespace, since it enters the container's network namespace."""

    def __init__(self, client: docker.DockerClient | None = None) -> None:
        self._client = client if client is not None else docker.from_env()

    @property
    def client(self) -> docker.DockerClient:
        return self._client

    def build(self, spec: BuildSpec) -> BuildResult:
        return build_image(self._client, spec)

    def start(self, spec: ContainerSpec) -> str:
        try:
            container = self._client.containers.create(**container_options(spec))
        except docker.errors.ImageNotFound as exc:
            raise ImageNotFound(f"image {spec.image} not found") from exc
        except docker.errors.APIError as exc:
            raise _start_error(f"cannot create container {spec.name}", exc) from exc
        container_id = str(container.id)
        try:
            container.start()
        except docker.errors.APIError as exc:
            # Created but not started (bad command, bad runtime, GPU unavailable): leave nothing
            # behind.
            self.remove(container_id)
            raise _start_error(f"cannot start container {spec.name}", exc) from exc
        return container_id

    @contextlib.contextmanager
    def endpoint(self, container_id: str, port: int) -> Iterator[str]:
        factory = self._enter(container_id)
        with factory, TcpProxy(("127.0.0.1", port), factory) as proxy:
            yield proxy.url

    def _enter(self, container_id: str) -> NetnsSocketFactory:
        """A socket factory in the container's network namespace.

        A server that exits at once races this: the engine reports it running for a few
        milliseconds after its process is gone, and its PID may already belong to another
        process. Both are the server's crash (ContainerNotRunning), never the worker's setup,
        and the namespace entered is checked to be a sandbox's, not this worker's own.
        """
        pid = self._running_pid(container_id)
        try:
            factory = NetnsSocketFactory(pid)
        except ProcessGone as exc:
            self._wait_not_running(container_id, pid)
            raise HostSetupError(
                f"{exc}; container {container_id} is running, so this worker does not see the "
                "host's PIDs: run it in the host's PID namespace (pid: host)"
            ) from exc
        try:
            # Still the same live process after the namespace file was opened: the PID was
            # not handed to another process in between.
            if self._running_pid(container_id) != pid:
                raise ContainerNotRunning(f"container {container_id} restarted while entered")
            if factory.inode == os.stat("/proc/self/ns/net").st_ino:
                self._wait_not_running(container_id, pid)
                raise HostSetupError(
                    f"pid {pid} of container {container_id} shares this worker's network "
                    "namespace; refusing to evaluate outside the sandbox"
                )
        except BaseException:
            factory.close()
            raise
        return factory

    def _wait_not_running(self, container_id: str, pid: int) -> None:
        """Raise ContainerNotRunning if the container stops within a moment (the engine
        catching up with a process that is already gone); return if it stays up."""
        deadline = time.monotonic() + _EXIT_NOTICE_S
        while True:
            state = self._inspect(container_id)["State"]
            if not state.get("Running") or int(state.get("Pid") or 0) != pid:
                raise _not_running(container_id, state)
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)

    def _running_pid(self, container_id: str) -> int:
        state = self._inspect(container_id)["State"]
        pid = int(state.get("Pid") or 0)
        if not state.get("Running") or pid <= 0:
            raise _not_running(container_id, state)
        return pid

    def _inspect(self, container_id: str) -> dict[str, Any]:
        try:
            attrs: dict[str, Any] = self._client.api.inspect_container(container_id)
        except docker.errors.NotFound as exc:
            raise ContainerNotFound(f"no container {container_id}") from exc
        return attrs

    def state(self, container_id: str) -> ContainerState:
        state = self._inspect(container_id)["State"]
        running = bool(state.get("Running"))
        # The engine reports 0 for a container that never ran; only a finished one has a code.
        finished = state.get("Status") in ("exited", "dead")
        return ContainerState(
            running=running,
            exit_code=int(state.get("ExitCode", 0)) if finished and not running else None,
            oom_killed=bool(state.get("OOMKilled")),
            error=state.get("Error") or None,
        )

    def logs(self, container_id: str, limit_bytes: int) -> str:
        container = self._container(container_id)
        kept = CappedLog(limit_bytes, head_bytes=0)
        for chunk in container.logs(stdout=True, stderr=True, stream=True, follow=False):
            kept.feed(chunk)
        return kept.text()

    def _container(self, container_id: str) -> Container:
        try:
            return self._client.containers.get(container_id)
        except docker.errors.NotFound as exc:
            raise ContainerNotFound(f"no container {container_id}") from exc

    def remove(self, container_id: str) -> None:
        deadline = time.monotonic() + _REMOVAL_WAIT_S
        while True:
            try:
                self._client.api.remove_container(container_id, force=True, v=True)
                return
            except docker.errors.NotFound:
                return
            except docker.errors.APIError as exc:
                # 409: another removal is in progress; wait for it so that on return the
                # container is really gone.
                if exc.status_code != 409 or time.monotonic() > deadline:
                    raise SandboxError(f"cannot remove {container_id}: {_explain(exc)}") from exc
                time.sleep(0.2)

    def labelled_containers(self, label: str) -> dict[str, Mapping[str, str]]:
        try:
            found = self._client.api.containers(all=True, filters={"label": label})
        except docker.errors.APIError as exc:
            raise SandboxError(f"cannot list containers labelled {label}: {_explain(exc)}") from exc
        return {item["Id"]: dict(item.get("Labels") or {}) for item in found}

    def remove_image(self, image: str) -> None:
        try:
            self._client.api.remove_image(image, force=False, noprune=False)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            raise SandboxError(f"cannot remove image {image}: {_explain(exc)}") from exc

    def prune_images(self, label: str, keep_bytes: int) -> list[str]:
        images = self._client.api.images(filters={"label": label})
        images.sort(key=lambda image: (image["Created"], image["Id"]))
        # Image sizes count shared layers once per image: the total over-estimates the disk
        # used, which errs on the side of freeing space. What builds left behind untagged
        # counts too: it is on the same disk (see `reclaim_build_leftovers`).
        total = sum(int(image["Size"]) for image in images) + dangling_bytes(self._client)
        in_use = {c["ImageID"] for c in self._client.api.containers(all=True)}
        removed: list[str] = []
        for image in images:
            if total <= keep_bytes:
                break
            if image["Id"] in in_use:
                continue
            try:
                # force: an image tagged twice cannot be removed by id otherwise. The engine
                # still refuses to delete an image a running container uses.
                self._client.api.remove_image(image["Id"], force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError:
                continue
            total -= int(image["Size"])
            removed.append(str(image["Id"]))
        return removed

    def reclaim_build_leftovers(self, older_than_s: float) -> list[str]:
        return reclaim_build_leftovers(self._client, older_than_s)


def missing_oci_runtime(name: str, client: docker.DockerClient | None = None) -> str | None:
    """Why the engine cannot run containers on the OCI runtime `name` (PODIUM_OCI_RUNTIME), or
    None when it has it registered. Checked once when a worker starts, not per submission."""
    engine = None
    try:
        engine = client if client is not None else docker.from_env()
        registered = sorted(engine.info().get("Runtimes") or {})
    except (docker.errors.DockerException, OSError) as exc:
        return (
            f"PODIUM_OCI_RUNTIME is {name!r}, but the Docker engine cannot be asked whether it "
            f"has that runtime ({exc}); start the engine, or check DOCKER_HOST"
        )
    finally:
        if client is None and engine is not None:
            engine.close()
    if name in registered:
        return None
    return (
        f"PODIUM_OCI_RUNTIME is {name!r}, but the Docker engine has no runtime of that name "
        f"(it has: {', '.join(registered) or 'none listed'}), so every evaluation would fail. "
        f"Install it and register it with the engine (for gVisor: install runsc, run "
        f"`sudo runsc install`, which adds it to /etc/docker/daemon.json, then restart the "
        f"engine), or unset PODIUM_OCI_RUNTIME to use the engine's default runtime."
    )


def _not_running(container_id: str, state: dict[str, Any]) -> ContainerNotRunning:
    return ContainerNotRunning(
        f"container {container_id} is not running (status {state.get('Status')}, "
        f"exit code {state.get('ExitCode')})"
    )


def _explain(exc: docker.errors.APIError) -> str:
    return str(exc.explanation or exc)


def _start_error(what: str, exc: docker.errors.APIError) -> SandboxError:
    """ImageDefect when the image is to blame (see workers.sandbox.faults), else SandboxError."""
    explanation = _explain(exc)
    defect = image_defect(explanation)
    if defect is not None:
        return ImageDefect(defect)
    return SandboxError(f"{what}: {explanation}")
