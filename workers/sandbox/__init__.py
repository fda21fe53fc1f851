"""Sandboxed builds and runs of team submissions (see DESIGN.md, "Sandbox policy").

Worker flows depend on the `ContainerRuntime` protocol; `DockerRuntime` is the real engine,
`FakeRuntime` the in-memory stand-in for unit tests. `DockerRuntime` is imported lazily so that
code needing only the types or the fake does not import the docker SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workers.sandbox.fake_runtime import FakeRuntime
from workers.sandbox.logcap import CappedLog
from workers.sandbox.runtime import (
    WEIGHTS_ENV,
    WEIGHTS_MOUNT,
    BuildResult,
    BuildSpec,
    ContainerNotFound,
    ContainerNotRunning,
    ContainerRuntime,
    ContainerSpec,
    ContainerState,
    SandboxError,
)

if TYPE_CHECKING:
    from workers.sandbox.docker_runtime import DockerRuntime

__all__ = [
    "WEIGHTS_ENV",
    "WEIGHTS_MOUNT",
    "BuildResult",
    "BuildSpec",
    "CappedLog",
    "ContainerNotFound",
    "ContainerNotRunning",
    "ContainerRuntime",
    "ContainerSpec",
    "ContainerState",
    "DockerRuntime",
    "FakeRuntime",
    "SandboxError",
]


def __getattr__(name: str) -> Any:
    if name == "DockerRuntime":
        from workers.sandbox.docker_runtime import DockerRuntime

        return DockerRuntime
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
