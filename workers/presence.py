"""The worker's beat (app/presence.py): every `heartbeat_s`, from the worker's main process,
what this worker is, which of its GPUs are leased, and whether its Docker engine answers and how
much disk its submission images take.

Leases are read from the kernel's lock table (/proc/locks), not from the pool's memory: the
GPUs are flocked by the pool's child processes (workers/gpus.py), and the kernel is the one
place that knows all of them, and drops a dead child's lock at once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from celery import signals

from app import presence
from app.config import Settings, get_settings
from app.presence import EngineState, WorkerBeat

log = logging.getLogger(__name__)

PROC_LOCKS = Path("/proc/locks")
IMAGE_LABEL = "podium.submission"  # as workers/reaper.py labels submission images
ENGINE_TIMEOUT_S = 5


def lock_dir(settings: Settings) -> Path:
    return settings.data_dir / "gpu-locks"  # as workers/context.py hands it to the GpuPool


def leased_gpus(gpu_ids: list[str], locks: Path, proc_locks: Path = PROC_LOCKS) -> list[str]:
    """Those of `gpu_ids` whose lock file some process holds a flock on right now."""
    files: dict[tuple[int, int, int], str] = {}
    for gpu in gpu_ids:
        try:
            st = (locks / f"gpu-{gpu}.lock").stat()
        except OSError:
            continue  # never taken yet
        files[(os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)] = gpu
    if not files:
        return []
    try:
        table = proc_locks.read_text()
    except OSError:
        return []
    held: set[str] = set()
    for line in table.splitlines():
        # "1: FLOCK  ADVISORY  WRITE 4242 08:01:1234567 0 EOF"; "->" marks a waiter, not a holder
        fields = line.split()
        if len(fields) < 6 or fields[1] != "FLOCK" or "->" in fields:
            continue
        try:
            major, minor, inode = fields[5].split(":")
            key = (int(major, 16), int(minor, 16), int(inode))
        except ValueError:
            continue
        if key in files:
            held.add(files[key])
    return [gpu for gpu in gpu_ids if gpu in held]


def engine_state() -> tuple[EngineState, str, int | None]:
    """Whether the engine answers, why not, and the bytes of submission images plus what
    builds left untagged (as the image budget counts them: workers/sandbox/docker_runtime.py)."""
    import docker

    from workers.sandbox.docker_gc import dangling_bytes

    client = None
    try:
        client = docker.from_env(timeout=ENGINE_TIMEOUT_S)
        client.ping()
        images = client.api.images(filters={"label": IMAGE_LABEL})
        used = sum(int(image["Size"]) for image in images) + dangling_bytes(client)
        return "ok", "", used
    except Exception as exc:
        return "down", f"{type(exc).__name__}: {exc}"[:300], None
    finally:
        if client is not None:
            client.close()


class Beater:
    def __init__(
        self, settings: Settings, name: str, queues: list[str], check_engine: bool = True
    ) -> None:
        self.settings = settings
        self.name = name
        self.queues = queues
        self.check_engine = check_engine
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="podium-presence", daemon=True)

    def beat(self) -> WorkerBeat:
        gpus = self.settings.gpu_ids
        engine: EngineState = "unknown"
        error, images = "", None
        if self.check_engine:
            engine, error, images = engine_state()
        record = WorkerBeat(
            name=self.name,
            host=socket.gethostname(),
            pid=os.getpid(),
            queues=self.queues,
            gpus=gpus,
            gpus_leased=leased_gpus(gpus, lock_dir(self.settings)),
            engine=engine,
            engine_error=error,
            images_bytes=images,
            at=time.time(),
        )
        presence.publish(self.settings, record)
        return record

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=ENGINE_TIMEOUT_S * 2)
        try:
            presence.withdraw(self.settings, self.name)
        except Exception:
            log.warning("could not withdraw the beat of %s", self.name)

    def _run(self) -> None:
        while True:
            try:
                self.beat()
            except Exception as exc:  # a missed beat must never stop the worker
                log.warning("worker beat failed: %s", exc)
            if self._stop.wait(self.settings.heartbeat_s):
                return


_beater: Beater | None = None


def _start(sender: Any = None, **_: Any) -> None:
    global _beater
    # sender: the worker's Consumer, which knows the node name and the queues it consumes.
    hostname = getattr(sender, "hostname", None) or socket.gethostname()
    queues: list[str] = []
    task_consumer = getattr(sender, "task_consumer", None)
    for queue in getattr(task_consumer, "queues", None) or []:
        queues.append(str(queue.name))
    _beater = Beater(get_settings(), str(hostname), sorted(queues))
    _beater.start()


def _stop(**_: Any) -> None:
    if _beater is not None:
        _beater.stop()


def connect() -> None:
    signals.worker_ready.connect(_start, weak=False)
    signals.worker_shutdown.connect(_stop, weak=False)
