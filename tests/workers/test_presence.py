"""A worker's beat: GPU leases read from the kernel's lock table while a real GpuPool holds
them from another process, and the beat published and read back through the filesystem store."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from app import presence
from app.config import Settings
from workers.gpus import GpuPool
from workers.presence import Beater, leased_gpus, lock_dir


def _hold(
    locks: Path, ready: multiprocessing.synchronize.Event, done: multiprocessing.synchronize.Event
) -> None:
    with GpuPool(["0", "1", "2"], locks).acquire(count=2):
        ready.set()
        done.wait(30)


def test_leases_are_the_locks_another_process_holds(tmp_path: Path) -> None:
    settings = Settings(environment="test", data_dir=tmp_path / "data", broker_url="", gpus="0,1,2")
    locks = lock_dir(settings)
    assert leased_gpus(settings.gpu_ids, locks) == []
    ctx = multiprocessing.get_context("fork")
    ready, done = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(locks, ready, done))
    holder.start()
    try:
        assert ready.wait(30)
        assert leased_gpus(settings.gpu_ids, locks) == ["0", "1"]
        beat = Beater(settings, "celery@test-host", ["evaluate"], check_engine=False).beat()
        assert beat.gpus == ["0", "1", "2"] and beat.gpus_leased == ["0", "1"]
        [read] = presence.beats(settings)
        assert read == beat and read.alive(settings)
    finally:
        done.set()
        holder.join(30)
    # The kernel dropped the locks with the process: nothing leased, no cleanup by anyone.
    assert leased_gpus(settings.gpu_ids, locks) == []
    presence.withdraw(settings, "celery@test-host")
    assert presence.beats(settings) == []
