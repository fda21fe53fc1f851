"""The container runtime boundary: what the worker flows need from Docker, and nothing more.

The flows (build -> run -> evaluate) talk to a `ContainerRuntime`. `DockerRuntime` is the real
one; `FakeRuntime` is the in-memory one shipped for unit tests, in the spirit of httpx's mock
transport. Every value crossing the boundary is a frozen dataclass, so a test can print and
compare what the flow asked for.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

BuildNetwork = Literal["none", "default"]

#: Where the submission's weights appear inside the container (read-only).
WEIGHTS_MOUNT = "/weights"
#: Environment variable telling the team's server where its weights are.
WEIGHTS_ENV = "PODIUM_WEIGHTS_DIR"


class SandboxError(Exception):
    """The runtime could not do what was asked; the message says why."""


class ImageNotFound(SandboxError):
    """The image to run does not exist (never built, or garbage-collected)."""


class ContainerNotFound(SandboxError):
    """No container with that id or name exists (never built, or already removed)."""


class ContainerNotRunning(SandboxError):
    """The container exists but has no process to connect to (exited, crashed, OOM-killed)."""


@dataclass(frozen=True, kw_only=True)
class BuildSpec:
    """One image build of a team's uploaded build context."""

    context_dir: Path
    """Directory holding the extracted build context."""
    tag: str
    """Tag given to the built image, e.g. `podium/submission:42`."""
    dockerfile: str = "Dockerfile"
    """Dockerfile path relative to `context_dir`."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Labels put on the image (`podium.submission=<id>`), used by image GC."""
    network: BuildNetwork = "none"
    """`none`: RUN steps get no network at all; `default`: the engine's bridge (opt-in)."""
    timeout_s: float = 1800
    """Wall-clock budget for the whole build; the build is cancelled when it runs out."""
    memory_bytes: int | None = None
    """Memory cap for each RUN step (swap included); None leaves the engine's default."""
    pids_limit: int | None = None
    """Most processes the build's RUN steps may have at once, all steps together; None: no
    limit. Needs the engine's cgroupfs driver on this host (see `build_cgroup`)."""
    nano_cpus: int | None = None
    """CPU limit of each RUN step in units of 1e-9 CPUs, as for containers; None: no limit."""
    log_limit_bytes: int = 1_000_000
    """The kept build log is capped at about this size (its head and tail are kept)."""


def dockerfile_path(spec: BuildSpec) -> Path:
    """The spec's Dockerfile, refused unless it is a regular file inside the build context.

    `dockerfile` comes from the team. docker-py quietly adds a Dockerfile that lies outside the
    context (`../../etc/shadow`, or a symlink there) to the build, and the parse errors would
    echo that host file into the team's build log.
    """
    context = spec.context_dir.resolve()
    path = (context / spec.dockerfile).resolve()
    if not path.is_relative_to(context):
        raise SandboxError(f"the Dockerfile path {spec.dockerfile!r} leaves the build context")
    if not path.is_file():
        raise SandboxError(f"no {spec.dockerfile} at the root of the build context")
    return path


@dataclass(frozen=True, kw_only=True)
class BuildResult:
    """What a build produced. `error` is written for the team: it names what to fix."""

    ok: bool
    image_id: str | None
    """`sha256:...` id of the built image when `ok`."""
    log: str
    """Build output, capped to the spec's `log_limit_bytes`."""
    timed_out: bool = False
    error: str | None = None
    """On failure: the failing step and the last lines of the log."""
    worker_fault: bool = False
    """The build could not be run as the policy requires, for a reason on Podium's side (not
    the team's): `error` says so, and the details are in the worker's log."""


@dataclass(frozen=True, kw_only=True)
class ContainerSpec:
    """One container under the sandbox policy (see DESIGN.md, "Sandbox policy").

    The policy itself (no network, read-only root, no capabilities, no new privileges, no
    published port) is not configurable here on purpose: only the limits are.
    """

    image: str
    """Image id or tag."""
    name: str
    """Container name; unique on the engine. A stale one must be `remove`d first."""
    labels: Mapping[str, str] = field(default_factory=dict)
    port: int = 80
    """Port the team's server listens on inside the container (reached via `endpoint`)."""
    weights_dir: Path | None = None
    """Host directory bind-mounted read-only at `/weights`; sets `PODIUM_WEIGHTS_DIR`."""
    env: Mapping[str, str] = field(default_factory=dict)
    memory_bytes: int
    """Memory limit; swap is disabled (memory + swap = this), the tmpfs counts against it."""
    nano_cpus: int
    """CPU limit in units of 1e-9 CPUs (2 CPUs = 2_000_000_000)."""
    pids_limit: int = 512
    tmpfs_bytes: int
    """Size of the writable tmpfs at /tmp (the only writable path)."""
    gpus: Sequence[str] = ()
    """GPU ids (index or UUID) assigned to this task; no GPU at all when empty."""
    oci_runtime: str | None = None
    """OCI runtime name registered with the engine (e.g. `runsc`); None = engine default."""
    command: Sequence[str] | None = None
    """Overrides the image's CMD; None runs the image as the team built it."""
    shm_bytes: int | None = None
    """Size of /dev/shm; None keeps the engine default (64 MiB)."""
    log_max_bytes: int = 64 * 1024 * 1024
    """Cap on the engine's stored stdout/stderr, so a chatty server cannot fill the disk."""


@dataclass(frozen=True, kw_only=True)
class ContainerState:
    running: bool
    exit_code: int | None
    """None while running (or never started)."""
    oom_killed: bool
    error: str | None
    """Engine-side error (e.g. the OCI runtime failed to start the process)."""


@runtime_checkable
class ContainerRuntime(Protocol):
    """Build images and run them in the sandbox. Implementations are thread-safe."""

    def build(self, spec: BuildSpec) -> BuildResult:
        """Build an image. Failures and timeouts are results, not exceptions."""
        ...

    def start(self, spec: ContainerSpec) -> str:
        """Create and start a container; return its id. Raises SandboxError."""
        ...

    def endpoint(self, container_id: str, port: int) -> contextlib.AbstractContextManager[str]:
        """Yield a base URL (`http://127.0.0.1:PORT`) that this process can use with any HTTP
        client to reach `port` inside the container, while the context is open.

        Connections opened before the server inside listens are reset, so a readiness poll
        sees a transport error and retries. Raises ContainerNotRunning on entry if the
        container has no process.
        """
        ...

    def state(self, container_id: str) -> ContainerState:
        """Raises ContainerNotFound."""
        ...

    def logs(self, container_id: str, limit_bytes: int) -> str:
        """stdout + stderr; over the limit the tail is kept and a first line says so."""
        ...

    def remove(self, container_id: str) -> None:
        """Kill and remove; idempotent, never raises for an already-gone container."""
        ...

    def labelled_containers(self, label: str) -> dict[str, Mapping[str, str]]:
        """Every container (running or not) carrying `label` (`key`, or `key=value`), by id,
        with its labels: how the reaper finds what a dead worker left behind."""
        ...

    def remove_image(self, image: str) -> None:
        """Remove an image; a missing image is not an error. Raises SandboxError when in use."""
        ...

    def prune_images(self, label: str, keep_bytes: int) -> list[str]:
        """Remove images carrying `label` (`key` or `key=value`), oldest first, until their
        total size is at most `keep_bytes`; images in use are skipped. Returns removed ids.

        The total also counts the untagged layers builds left behind, which this does not
        remove (`reclaim_build_leftovers` does)."""
        ...

    def reclaim_build_leftovers(self, older_than_s: float) -> list[str]:
        """Remove what image builds left behind (untagged layers, stopped step containers)
        more than `older_than_s` ago, which must exceed the longest build. Returns the ids."""
        ...
