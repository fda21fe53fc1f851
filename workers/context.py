"""What a worker process needs to run flows: settings, a container runtime, its GPUs."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from app.config import Settings, get_settings
from app.queue import CeleryQueue, TaskQueue
from workers.gpus import GpuPool
from workers.sandbox.runtime import ContainerRuntime


@dataclass(frozen=True)
class WorkerContext:
    settings: Settings
    runtime: ContainerRuntime
    gpus: GpuPool
    queue: TaskQueue
    """Where follow-up tasks go (the next step, webhook calls)."""


@lru_cache(maxsize=1)
def default_context() -> WorkerContext:
    from workers.sandbox.docker_runtime import DockerRuntime

    settings = get_settings()
    return WorkerContext(
        settings=settings,
        runtime=DockerRuntime(),
        gpus=GpuPool(settings.gpu_ids, settings.data_dir / "gpu-locks"),
        queue=CeleryQueue(settings),
    )
