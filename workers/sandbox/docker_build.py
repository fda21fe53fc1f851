"""Image builds on a Docker engine, with a hard timeout and a capped log.

The engine's build endpoint streams JSON lines. A reader thread consumes them while the calling
thread watches the clock. On timeout the build's HTTP connection is shut down, which makes the
engine cancel the build and kill the step's container; the containers the log named
("Running in <id>") are removed as well, in case the engine did not get to it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests
from docker.utils.build import tar as pack_context
from docker.utils.json_stream import json_stream, stream_as_text

from workers.sandbox import build_cgroup
from workers.sandbox.base_images import refuse_bases
from workers.sandbox.build_cgroup import BuildCgroup, BuildCgroupError
from workers.sandbox.logcap import CappedLog, tail_lines
from workers.sandbox.runtime import BuildResult, BuildSpec, SandboxError, dockerfile_path

_STEP = re.compile(r"^Step \d+/\d+ : .*$", re.MULTILINE)
_RUNNING_IN = re.compile(r"---> Running in ([0-9a-f]{12,64})")
_LAYER = re.compile(r"^ ---> ([0-9a-f]{12,64})$", re.MULTILINE)
# The classic builder colours a step's stderr with ANSI escapes; the log is read in browsers.
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_ERROR_LOG_LINES = 20
#: How long to wait, after cancelling, for the engine to wind the build down and for the reader
#: thread to see the end of the stream.
_CANCEL_GRACE_S = 30.0

log = logging.getLogger(__name__)


@dataclass
class _Progress:
    """What the reader thread learned from the stream. Written by it, read after it ends."""

    log: CappedLog
    step: str | None = None
    image_id: str | None = None
    error: str | None = None
    containers: list[str] = field(default_factory=list)
    # The step containers of RUN steps: the only ones that run a process (the classic builder
    # also makes containers for ENV, LABEL, CMD, ... which never start one).
    run_containers: list[str] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)
    response: requests.Response | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def on_text(self, text: str) -> None:
        text = _ANSI.sub("", text)
        self.log.feed(text)
        # Step headers and "Running in" arrive as whole lines inside one JSON message; read them
        # in order so each container is matched with its step.
        for line in text.splitlines():
            if _STEP.match(line):
                self.step = line.strip()
            for container in _RUNNING_IN.findall(line):
                self.containers.append(container)
                if self.step is not None and _is_run_step(self.step):
                    self.run_containers.append(container)
        self.layers.extend(_LAYER.findall(text))


def _is_run_step(step: str) -> bool:
    """Whether a "Step N/M : INSTRUCTION ..." header is a RUN step."""
    instruction = step.split(" : ", 1)[-1].lstrip().split(" ", 1)[0]
    return instruction.upper() == "RUN"


def _shutdown_response(response: requests.Response | None) -> None:
    """Break the build's HTTP connection so the engine cancels the build.

    `shutdown` on a duplicate of the fd, not `close`: closing an fd another thread is blocked
    reading does not end the connection, while shutdown does and wakes that reader too.
    """
    if response is None:
        return
    with contextlib.suppress(OSError, ValueError, AttributeError):
        fd = response.raw.fileno()
        with socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)


#: The CFS period of build steps' CPU quota (the engine's default period).
_CPU_PERIOD_US = 100_000


def _build_params(spec: BuildSpec, dockerfile: str, cgroup: BuildCgroup | None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "t": spec.tag,
        "dockerfile": dockerfile,
        "labels": json.dumps(dict(spec.labels)),
        "networkmode": spec.network,
        "rm": True,
        "forcerm": True,
        "pull": False,
    }
    if spec.memory_bytes is not None:
        # memswap equal to memory: a step cannot dodge the cap by swapping.
        params["memory"] = params["memswap"] = spec.memory_bytes
    if spec.nano_cpus is not None:
        params["cpuperiod"] = _CPU_PERIOD_US
        # 1 ms is the smallest quota the kernel takes.
        params["cpuquota"] = max(1000, spec.nano_cpus * _CPU_PERIOD_US // 1_000_000_000)
    if cgroup is not None:
        params["cgroupparent"] = cgroup.parent
    return params


def _messages(
    client: docker.DockerClient, spec: BuildSpec, dockerfile: str, cgroup: BuildCgroup | None
) -> Iterator[dict[str, Any]]:
    """The build endpoint's JSON messages.

    The endpoint is called directly, not through docker-py's `build`, because that refuses
    the CPU quota and cgroup parent parameters the engine accepts. The context is packed as
    docker-py packs it (honouring .dockerignore). The engine's configured proxies are not
    passed on as build args: a "none" build has no network anyway.
    """
    api = client.api
    with tempfile.TemporaryFile() as context:
        pack_context(
            spec.context_dir,
            exclude=_dockerignore(spec.context_dir),
            dockerfile=(dockerfile, None),
            fileobj=context,
        )
        response = api.post(
            f"{api.base_url}/v{api.api_version}/build",
            data=context,
            params=_build_params(spec, dockerfile, cgroup),
            headers={"Content-Type": "application/tar"},
            stream=True,
            timeout=None,
        )
        if response.status_code >= 400:
            raise docker.errors.APIError(
                f"{response.status_code} {response.reason}", response, _explanation(response)
            )
        chunks = response.iter_content(chunk_size=None)
        for message in json_stream(stream_as_text(chunks)):
            if isinstance(message, dict):
                yield message


def _explanation(response: requests.Response) -> str:
    try:
        return str(response.json().get("message") or response.text)
    except ValueError:
        return response.text


def _dockerignore(context_dir: Path) -> list[str] | None:
    path = context_dir / ".dockerignore"
    if not path.is_file():
        return None
    lines = (line.strip() for line in path.read_text(errors="replace").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _read(
    client: docker.DockerClient,
    spec: BuildSpec,
    dockerfile: str,
    cgroup: BuildCgroup | None,
    progress: _Progress,
) -> None:
    reader = threading.get_ident()

    def capture(response: requests.Response, *args: object, **kwargs: object) -> None:
        # The session's hooks see every request from every thread; keep only our build's.
        if threading.get_ident() == reader and progress.response is None:
            progress.response = response

    hooks = client.api.hooks["response"]
    hooks.append(capture)
    try:
        for message in _messages(client, spec, dockerfile, cgroup):
            if text := message.get("stream"):
                progress.on_text(str(text))
            elif status := message.get("status"):
                progress.on_text(f"{status}\n")
            if aux := message.get("aux"):
                progress.image_id = aux.get("ID") or progress.image_id
            if error := message.get("error"):
                detail = message.get("errorDetail") or {}
                progress.error = str(detail.get("message") or error).strip()
                progress.log.feed(f"ERROR: {progress.error}\n")
    except Exception as exc:
        # Anything can surface here (docker-py, requests, urllib3, a broken stream after a
        # cancel): it is all "the build did not complete", which the caller reports.
        progress.error = progress.error or _describe(exc)
    finally:
        hooks.remove(capture)
        progress.done.set()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, docker.errors.APIError):
        return str(exc.explanation or exc)
    if isinstance(exc, TypeError):
        # docker-py raises TypeError for a context path that is not a directory.
        return f"invalid build context: {exc}"
    return str(exc) or type(exc).__name__


def _remove_step_containers(client: docker.DockerClient, ids: list[str]) -> None:
    for container_id in dict.fromkeys(ids):
        with contextlib.suppress(docker.errors.NotFound):
            try:
                client.api.remove_container(container_id, force=True)
            except docker.errors.APIError as exc:
                if exc.status_code != 409:  # 409: removal already in progress
                    raise


def _remove_leftovers(client: docker.DockerClient, progress: _Progress, wait_s: float) -> None:
    """Remove what a failed or cancelled build left behind: step containers and layers.

    After a cancel the engine may still be committing the step it was on (a layer of gigabytes
    takes a while) and removes that step's container only when done. The layer it commits is
    never named in the log, since the stream is closed by then, and carries none of the build's
    labels, so nothing else would ever count or delete it. So: give the engine up to `wait_s`
    to finish and remove the step containers itself, force-remove those still there, then
    delete the layers the log named and every untagged layer committed from a step container
    of this build (images record the container they were committed from).
    """
    containers = list(dict.fromkeys(progress.containers))
    deadline = time.monotonic() + wait_s
    while _existing(client, containers) and time.monotonic() < deadline:
        time.sleep(0.2)
    _remove_step_containers(client, containers)
    _remove_dangling_layers(client, progress.layers + _committed_from(client, containers))


def _existing(client: docker.DockerClient, ids: list[str]) -> list[str]:
    found = []
    for container_id in ids:
        with contextlib.suppress(docker.errors.NotFound):
            client.api.inspect_container(container_id)
            found.append(container_id)
    return found


def _committed_from(client: docker.DockerClient, containers: list[str]) -> list[str]:
    """Untagged, childless images committed from one of `containers` (short or full ids)."""
    if not containers:
        return []
    found: list[str] = []
    for image in client.api.images(all=True, filters={"dangling": True}):
        try:
            source = str(client.images.get(image["Id"]).attrs.get("Container") or "")
        except docker.errors.APIError:
            continue
        if source and any(source.startswith(c) for c in containers):
            found.append(str(image["Id"]))
    return found


def _remove_dangling_layers(client: docker.DockerClient, layers: list[str]) -> None:
    """Delete the untagged step images a failed build committed.

    They carry none of the build's labels (the engine applies those in a last step), so label
    based image GC would never see them and they would escape the disk budget. Newest first, so
    each one is childless when its turn comes. Tagged images (the FROM base) and layers another
    image still builds on are left alone.
    """
    for layer in reversed(list(dict.fromkeys(layers))):
        try:
            if client.images.get(layer).tags:
                continue
            client.api.remove_image(layer, force=False, noprune=True)
        except docker.errors.APIError:
            continue  # gone already, or still a parent of another image: both fine


def _pids_note(spec: BuildSpec, cgroup: BuildCgroup | None) -> str:
    if cgroup is None or not cgroup.hit_limit():
        return ""
    return (
        f" (the build hit its process limit of {spec.pids_limit} processes at once: a RUN "
        "step could not start more; start fewer processes or threads in your build)"
    )


def _failure_message(spec: BuildSpec, progress: _Progress, cgroup: BuildCgroup | None) -> str:
    where = f"at {progress.step}" if progress.step else "before the first step"
    message = f"build failed {where}: {progress.error or 'no image was produced'}"
    message += _pids_note(spec, cgroup)
    if spec.memory_bytes is not None and "non-zero code: 137" in (progress.error or ""):
        message += (
            f" (exit code 137: the step was killed, most likely for exceeding the build's "
            f"{spec.memory_bytes} byte memory limit)"
        )
    if spec.network == "none" and progress.error and "resolv" in progress.error.lower():
        message += " (builds have no network: vendor dependencies into the build context)"
    return f"{message}\n--- last log lines ---\n{tail_lines(progress.log.text(), _ERROR_LOG_LINES)}"


def _make_cgroup(client: docker.DockerClient, spec: BuildSpec) -> BuildCgroup | None:
    if spec.pids_limit is None:
        return None
    try:
        info = client.info()
    except docker.errors.DockerException as exc:
        raise BuildCgroupError(
            f"cannot ask the Docker engine for its cgroup driver: {exc}"
        ) from exc
    return build_cgroup.create(
        str(info.get("CgroupDriver", "")), str(info.get("CgroupVersion", "1")), spec.pids_limit
    )


def _unlimited(cgroup: BuildCgroup | None, progress: _Progress) -> bool:
    """Whether RUN steps ran outside the build's cgroup: the engine then sees another cgroup
    tree than this worker (a worker in a container with its own cgroup namespace)."""
    return cgroup is not None and bool(progress.run_containers) and cgroup.peak() == 0


def build_image(client: docker.DockerClient, spec: BuildSpec) -> BuildResult:
    """Build `spec` on the engine behind `client`; never raises for a failing build."""
    try:
        dockerfile = dockerfile_path(spec)
    except SandboxError as exc:
        return BuildResult(ok=False, image_id=None, log="", error=str(exc))
    if refusal := refuse_bases(client, dockerfile, spec.dockerfile, spec.network):
        return BuildResult(
            ok=False,
            image_id=None,
            log=f"{refusal.message}\n",
            error=refusal.message,
            worker_fault=refusal.worker_fault,
        )
    try:
        cgroup = _make_cgroup(client, spec)
    except BuildCgroupError as exc:
        log.error("build %s not run: %s", spec.tag, exc)
        return _worker_fault("", "this worker cannot limit the processes of a build")
    try:
        return _build(client, spec, dockerfile, cgroup)
    finally:
        if cgroup is not None:
            build_cgroup.remove(cgroup)


def _worker_fault(log_text: str, what: str) -> BuildResult:
    return BuildResult(
        ok=False,
        image_id=None,
        log=log_text,
        worker_fault=True,
        error=(
            f"{what}, so the build was not run (or not kept); the organizers have the details "
            "in the worker's log. This is not your submission's fault."
        ),
    )


def _build(
    client: docker.DockerClient, spec: BuildSpec, dockerfile: Path, cgroup: BuildCgroup | None
) -> BuildResult:
    progress = _Progress(log=CappedLog(spec.log_limit_bytes))
    started = time.monotonic()
    reader = threading.Thread(
        target=_read,
        args=(
            client,
            spec,
            dockerfile.relative_to(spec.context_dir.resolve()).as_posix(),
            cgroup,
            progress,
        ),
        name=f"build-{spec.tag}",
        daemon=True,
    )
    reader.start()
    if not progress.done.wait(timeout=spec.timeout_s):
        _shutdown_response(progress.response)
        progress.done.wait(timeout=_CANCEL_GRACE_S)
        _remove_leftovers(client, progress, wait_s=_CANCEL_GRACE_S)
        elapsed = time.monotonic() - started
        where = f" during {progress.step}" if progress.step else ""
        progress.log.feed(f"\nbuild cancelled after {elapsed:.0f}s (timeout {spec.timeout_s:g}s)\n")
        log_text = progress.log.text()
        error = (
            f"build exceeded its {spec.timeout_s:g}s time limit{where}"
            f"{_pids_note(spec, cgroup)}\n"
            f"--- last log lines ---\n{tail_lines(log_text, _ERROR_LOG_LINES)}"
        )
        return BuildResult(ok=False, image_id=None, log=log_text, timed_out=True, error=error)
    reader.join()
    if progress.error is None and progress.image_id is None:
        with contextlib.suppress(docker.errors.DockerException):
            progress.image_id = client.images.get(spec.tag).id
    if _unlimited(cgroup, progress):
        log.error(
            "build %s: its RUN steps ran outside the build cgroup %s, so without a process "
            "limit: this worker does not see the Docker engine's cgroup tree at %s (run it on "
            "the engine's host, in the host's cgroup namespace)",
            spec.tag,
            cgroup.parent if cgroup else "",
            build_cgroup.CGROUP_ROOT,
        )
        _remove_leftovers(client, progress, wait_s=0)
        if progress.image_id is not None:
            with contextlib.suppress(docker.errors.APIError):
                client.api.remove_image(progress.image_id, force=True)
        return _worker_fault(
            progress.log.text(), "this worker could not limit the build's processes"
        )
    if progress.error is not None or progress.image_id is None:
        _remove_leftovers(client, progress, wait_s=0)
        log_text = progress.log.text()
        return BuildResult(
            ok=False, image_id=None, log=log_text, error=_failure_message(spec, progress, cgroup)
        )
    return BuildResult(ok=True, image_id=progress.image_id, log=progress.log.text())
