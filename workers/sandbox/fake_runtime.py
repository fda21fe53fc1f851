"""An in-memory `ContainerRuntime` for unit tests of the worker flows.

It builds nothing and runs nothing: builds are decided by markers in the Dockerfile, containers
are records, and `endpoint` delegates to a factory the test supplies (typically one that serves a
fake model on a local port). Everything the flows asked for is kept for assertions:

    runtime = FakeRuntime(endpoint_factory=serve_fake_model)
    ...run the flow...
    assert runtime.started[0].gpus == ("0",)      # the ContainerSpec as the flow built it
    assert runtime.live_containers() == []       # every started container was removed

Dockerfile markers (a line of its own): `# fake: build-fail` and `# fake: build-timeout`.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from workers.sandbox.logcap import CappedLog
from workers.sandbox.runtime import (
    BuildResult,
    BuildSpec,
    ContainerNotFound,
    ContainerNotRunning,
    ContainerSpec,
    ContainerState,
    ImageNotFound,
    SandboxError,
    dockerfile_path,
)

EndpointFactory = Callable[[ContainerSpec], contextlib.AbstractContextManager[str]]

BUILD_FAIL_MARKER = "# fake: build-fail"
BUILD_TIMEOUT_MARKER = "# fake: build-timeout"


@dataclass(frozen=True)
class FakeImage:
    id: str
    tags: tuple[str, ...]
    labels: dict[str, str]
    size: int
    created: int
    """Creation order; lower is older."""


@dataclass
class FakeContainer:
    id: str
    spec: ContainerSpec
    state: ContainerState
    logs: str = ""
    removed: bool = False


class FakeRuntime:
    """Thread-safe in-memory runtime. Inspect `builds`, `started`, `removed`, `images`."""

    def __init__(self, endpoint_factory: EndpointFactory | None = None) -> None:
        self._endpoint_factory = endpoint_factory
        self._lock = threading.RLock()
        self._image_serial = itertools.count(1)
        self._container_serial = itertools.count(1)
        self.builds: list[BuildSpec] = []
        self.started: list[ContainerSpec] = []
        self.removed: list[str] = []
        self.removed_images: list[str] = []
        self.reclaim_calls: list[float] = []
        """The `older_than_s` of each `reclaim_build_leftovers` call."""
        self.containers: dict[str, FakeContainer] = {}
        self.images: dict[str, FakeImage] = {}

    # -- images ----------------------------------------------------------------------------

    def add_image(
        self, tag: str, *, labels: dict[str, str] | None = None, size: int = 1000
    ) -> FakeImage:
        """Register an image as if it had been built or loaded (base images, GC tests)."""
        with self._lock:
            created = next(self._image_serial)
            digest = hashlib.sha256(f"{tag}/{created}".encode()).hexdigest()
            image = FakeImage(f"sha256:{digest}", (tag,), dict(labels or {}), size, created)
            for old in [i for i in self.images.values() if tag in i.tags]:
                self.images[old.id] = replace(old, tags=tuple(t for t in old.tags if t != tag))
            self.images[image.id] = image
            return image

    def _find_image(self, ref: str) -> FakeImage | None:
        for image in self.images.values():
            if ref == image.id or ref in image.tags or image.id.startswith(f"sha256:{ref}"):
                return image
        return None

    def build(self, spec: BuildSpec) -> BuildResult:
        with self._lock:
            self.builds.append(spec)
        try:
            dockerfile = dockerfile_path(spec)
        except SandboxError as exc:
            return BuildResult(ok=False, image_id=None, log="", error=str(exc))
        lines = [line.strip() for line in dockerfile.read_text().splitlines()]
        log = CappedLog(spec.log_limit_bytes)
        log.feed(f"fake build of {spec.tag} (network={spec.network})\n")
        if BUILD_TIMEOUT_MARKER in lines:
            log.feed(f"{BUILD_TIMEOUT_MARKER}: simulating a build past its time limit\n")
            error = f"build exceeded its {spec.timeout_s:g}s time limit"
            return BuildResult(ok=False, image_id=None, log=log.text(), timed_out=True, error=error)
        if BUILD_FAIL_MARKER in lines:
            log.feed(f"{BUILD_FAIL_MARKER}: simulating a failing step\n")
            error = f"build failed at the line '{BUILD_FAIL_MARKER}' (fake runtime marker)"
            return BuildResult(ok=False, image_id=None, log=log.text(), error=error)
        size = sum(p.stat().st_size for p in spec.context_dir.rglob("*") if p.is_file())
        image = self.add_image(spec.tag, labels=dict(spec.labels), size=size)
        log.feed(f"Successfully built {image.id}\n")
        return BuildResult(ok=True, image_id=image.id, log=log.text())

    def remove_image(self, image: str) -> None:
        with self._lock:
            found = self._find_image(image)
            if found is None:
                return
            if self._image_in_use(found):
                raise SandboxError(f"cannot remove image {image}: used by a container")
            del self.images[found.id]
            self.removed_images.append(found.id)

    def _image_in_use(self, image: FakeImage) -> bool:
        return any(
            not c.removed and self._find_image(c.spec.image) == image
            for c in self.containers.values()
        )

    def reclaim_build_leftovers(self, older_than_s: float) -> list[str]:
        # Fake builds leave nothing behind: a failed one adds no image at all.
        self.reclaim_calls.append(older_than_s)
        return []

    def prune_images(self, label: str, keep_bytes: int) -> list[str]:
        key, _, value = label.partition("=")
        with self._lock:
            labelled = sorted(
                (
                    image
                    for image in self.images.values()
                    if key in image.labels and (not value or image.labels[key] == value)
                ),
                key=lambda image: image.created,
            )
            total = sum(image.size for image in labelled)
            removed: list[str] = []
            for image in labelled:
                if total <= keep_bytes:
                    break
                if self._image_in_use(image):
                    continue
                del self.images[image.id]
                self.removed_images.append(image.id)
                removed.append(image.id)
                total -= image.size
            return removed

    # -- containers ------------------------------------------------------------------------

    def start(self, spec: ContainerSpec) -> str:
        with self._lock:
            if self._find_image(spec.image) is None:
                raise ImageNotFound(f"image {spec.image} not found")
            if any(c.spec.name == spec.name and not c.removed for c in self.containers.values()):
                raise SandboxError(f"cannot create container {spec.name}: name already in use")
            container_id = f"{next(self._container_serial):064x}"
            state = ContainerState(running=True, exit_code=None, oom_killed=False, error=None)
            self.containers[container_id] = FakeContainer(container_id, spec, state)
            self.started.append(spec)
            return container_id

    def _get(self, container_id: str) -> FakeContainer:
        container = self.containers.get(container_id)
        if container is None:
            # Like the engine, accept a name where an id is expected.
            container = next(
                (c for c in self.containers.values() if c.spec.name == container_id), None
            )
        if container is None or container.removed:
            raise ContainerNotFound(f"no container {container_id}")
        return container

    def endpoint(self, container_id: str, port: int) -> contextlib.AbstractContextManager[str]:
        with self._lock:
            container = self._get(container_id)
            if not container.state.running:
                raise ContainerNotRunning(f"container {container_id} is not running")
        if self._endpoint_factory is None:
            raise SandboxError("FakeRuntime was created without an endpoint_factory")
        return self._endpoint_factory(replace(container.spec, port=port))

    def state(self, container_id: str) -> ContainerState:
        with self._lock:
            return self._get(container_id).state

    def logs(self, container_id: str, limit_bytes: int) -> str:
        with self._lock:
            text = self._get(container_id).logs
        kept = CappedLog(limit_bytes, head_bytes=0)
        kept.feed(text)
        return kept.text()

    def remove(self, container_id: str) -> None:
        with self._lock:
            try:
                container = self._get(container_id)
            except ContainerNotFound:
                return
            container.removed = True
            container.state = replace(container.state, running=False)
            self.removed.append(container.id)

    def labelled_containers(self, label: str) -> dict[str, Mapping[str, str]]:
        # As the engine's filter: `key` (any value) or `key=value`.
        key, eq, value = label.partition("=")
        with self._lock:
            return {
                c.id: dict(c.spec.labels)
                for c in self.containers.values()
                if not c.removed
                and key in c.spec.labels
                and (not eq or c.spec.labels[key] == value)
            }

    # -- simulation ------------------------------------------------------------------------

    def write_logs(self, container_id: str, text: str) -> None:
        """Append to the container's stdout/stderr."""
        with self._lock:
            self._get(container_id).logs += text

    def crash(self, container_id: str, exit_code: int = 1, logs: str = "") -> None:
        """The server process exits with `exit_code` after printing `logs`."""
        self._exit(container_id, exit_code=exit_code, logs=logs, oom_killed=False)

    def oom(self, container_id: str, logs: str = "") -> None:
        """The kernel kills the server for exceeding its memory limit (exit code 137)."""
        self._exit(container_id, exit_code=137, logs=logs, oom_killed=True)

    def _exit(self, container_id: str, *, exit_code: int, logs: str, oom_killed: bool) -> None:
        with self._lock:
            container = self._get(container_id)
            container.logs += logs
            container.state = ContainerState(
                running=False, exit_code=exit_code, oom_killed=oom_killed, error=None
            )

    def live_containers(self) -> list[str]:
        """Ids of started containers not removed yet: empty after a flow that cleans up."""
        with self._lock:
            return [c.id for c in self.containers.values() if not c.removed]
