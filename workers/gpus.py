"""Hands out this host's GPUs, one per running evaluation, across worker processes.

Each GPU is an exclusive `flock` on a file; the kernel drops the lock when a process dies, so a
killed worker never leaks a GPU.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


class NoGpuFree(Exception):
    pass


class GpuPool:
    def __init__(self, gpu_ids: Sequence[str], lock_dir: Path) -> None:
        self.gpu_ids = list(gpu_ids)
        self.lock_dir = lock_dir

    @contextmanager
    def acquire(
        self, count: int = 1, wait_s: float = 3600.0, poll_s: float = 2.0
    ) -> Iterator[list[str]]:
        """Yield `count` GPU ids held exclusively; an empty list when this worker has no GPUs."""
        if not self.gpu_ids or count == 0:
            yield []
            return
        if count > len(self.gpu_ids):
            raise NoGpuFree(f"{count} GPUs asked for, this worker has {len(self.gpu_ids)}")
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + wait_s
        while True:
            held = self._try_take(count)
            if held is not None:
                break
            if time.monotonic() > deadline:
                raise NoGpuFree(f"no {count} free GPU(s) among {self.gpu_ids} after {wait_s:.0f}s")
            time.sleep(poll_s)
        try:
            yield [gpu for gpu, _ in held]
        finally:
            for _, fd in held:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def _try_take(self, count: int) -> list[tuple[str, int]] | None:
        held: list[tuple[str, int]] = []
        for gpu in self.gpu_ids:
            fd = os.open(self.lock_dir / f"gpu-{gpu}.lock", os.O_CREAT | os.O_RDWR, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            held.append((gpu, fd))
            if len(held) == count:
                return held
        for _, fd in held:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        return None
