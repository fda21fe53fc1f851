"""Image builds on a Docker engine, with a hard timeout and a capped log.

The engine's build endpoint streams JSON lines. A reader thread consumes them while the calling
thread watches the clock. On timeout the build's HTTP connection is shut down, which makes the
engine cancel the build and kill the step's container; the containers the log named
("Running in <id>") are removed as well, in case the engine did not get to it.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors
import requests

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


@dataclass
class _Progress:
    """What the reader thread learned from the stream. Written by it, read after it ends."""

    log: CappedLog
    step: str | None = None
    image_id: str | None = None
    error: str | None = None
    containers: list[str] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)
    response: requests.Response | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def on_text(self, text: str) -> None:
        text = _ANSI.sub("", text)
        self.log.feed(text)
        # Step headers and "Running in" arrive as whole lines inside one JSON message.
        if steps := _STEP.findall(text):
            self.step = steps[-1].strip()
        self.containers.extend(_RUNNING_IN.findall(text))
        self.layers.extend(_LAYER.findall(text))


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


def _messages(
    client: docker.DockerClient, spec: BuildSpec, dockerfile: str
) -> Iterator[dict[str, Any]]:
    memory = spec.memory_bytes
    yield from client.api.build(
        path=str(spec.context_dir),
        tag=spec.tag,
        dockerfile=dockerfile,
        labels=dict(spec.labels),
        network_mode=spec.network,
        # memswap equal to memory: a step cannot dodge the cap by swapping.
        container_limits={"memory": memory, "memswap": memory} if memory is not None else None,
        rm=True,
        forcerm=True,
        pull=False,
        decode=True,
        # Keep the engine's configured proxies out: a "none" build has no network anyway.
        use_config_proxy=False,
    )


def _read(
    client: docker.DockerClient, spec: BuildSpec, dockerfile: str, progress: _Progress
) -> None:
    reader = threading.get_ident()

    def capture(response: requests.Response, *args: object, **kwargs: object) -> None:
        # The session's hooks see every request from every thread; keep only our build's.
        if threading.get_ident() == reader and progress.response is None:
            progress.response = response

    hooks = client.api.hooks["response"]
    hooks.append(capture)
    try:
        for message in _messages(client, spec, dockerfile):
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


def _failure_message(spec: BuildSpec, progress: _Progress) -> str:
    where = f"at {progress.step}" if progress.step else "before the first step"
    message = f"build failed {where}: {progress.error or 'no image was produced'}"
    if spec.memory_bytes is not None and "non-zero code: 137" in (progress.error or ""):
        message += (
            f" (exit code 137: the step was killed, most likely for exceeding the build's "
            f"{spec.memory_bytes} byte memory limit)"
        )
    if spec.network == "none" and progress.error and "resolv" in progress.error.lower():
        message += " (builds have no network: vendor dependencies into the build context)"
    return f"{message}\n--- last log lines ---\n{tail_lines(progress.log.text(), _ERROR_LOG_LINES)}"


def build_image(client: docker.DockerClient, spec: BuildSpec) -> BuildResult:
    """Build `spec` on the engine behind `client`; never raises for a failing build."""
    try:
        dockerfile = dockerfile_path(spec)
    except SandboxError as exc:
        return BuildResult(ok=False, image_id=None, log="", error=str(exc))
    progress = _Progress(log=CappedLog(spec.log_limit_bytes))
    started = time.monotonic()
    reader = threading.Thread(
        target=_read,
        args=(
            client,
            spec,
            dockerfile.relative_to(spec.context_dir.resolve()).as_posix(),
            progress,
        ),
        name=f"build-{spec.tag}",
        daemon=True,
    )
    reader.start()
    if not progress.done.wait(timeout=spec.timeout_s):
        _shutdown_response(progress.response)
        progress.done.wait(timeout=_CANCEL_GRACE_S)
        _remove_step_containers(client, progress.containers)
        _remove_dangling_layers(client, progress.layers)
        elapsed = time.monotonic() - started
        where = f" during {progress.step}" if progress.step else ""
        progress.log.feed(f"\nbuild cancelled after {elapsed:.0f}s (timeout {spec.timeout_s:g}s)\n")
        log = progress.log.text()
        error = (
            f"build exceeded its {spec.timeout_s:g}s time limit{where}\n"
            f"--- last log lines ---\n{tail_lines(log, _ERROR_LOG_LINES)}"
        )
        return BuildResult(ok=False, image_id=None, log=log, timed_out=True, error=error)
    reader.join()
    if progress.error is None and progress.image_id is None:
        with contextlib.suppress(docker.errors.DockerException):
            progress.image_id = client.images.get(spec.tag).id
    if progress.error is not None or progress.image_id is None:
        _remove_step_containers(client, progress.containers)
        _remove_dangling_layers(client, progress.layers)
        log = progress.log.text()
        return BuildResult(ok=False, image_id=None, log=log, error=_failure_message(spec, progress))
    return BuildResult(ok=True, image_id=progress.image_id, log=progress.log.text())
