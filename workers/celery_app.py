"""The Celery application: queues `build` and `evaluate`, late acks, one task at a time.

`podium worker --beat` embeds the scheduler, which Celery runs as a child process of the worker.
Celery stops that child on a clean shutdown only: when the worker is SIGKILLed (the OOM killer,
`kill -9`, a crashed host agent), the beat lives on as an orphan and keeps publishing the reaper
every few seconds, forever, next to the beat of the worker that replaces it. So the beat child
asks the kernel to signal it when its parent dies, and watches its parent id as well.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

from celery import Celery, signals

from app.config import get_settings
from app.queue import celery_config

log = logging.getLogger(__name__)

app = Celery("podium", include=["workers.tasks"])
app.conf.update(celery_config(get_settings()))

# How often the watchdog compares the parent id, and how long a beat told to stop may take to
# write its schedule before it is ended hard.
PARENT_POLL_S = 0.5
STOP_GRACE_S = 10.0

_worker_pid: int | None = None


def _remember_worker_pid(**_: Any) -> None:
    # Set in the worker's main process before the beat child is forked; the child inherits it.
    global _worker_pid
    _worker_pid = os.getpid()


def _die_with_worker(**_: Any) -> None:
    """Runs in the embedded beat process, in its main thread, before the first tick."""
    watch_parent(_worker_pid or os.getppid())


signals.worker_init.connect(_remember_worker_pid, weak=False)
signals.beat_embedded_init.connect(_die_with_worker, weak=False)


def watch_parent(parent_pid: int) -> None:
    """End this process (SIGTERM, then a hard exit) as soon as `parent_pid` is no longer its
    parent."""
    # SIGTERM's default action ends the process without running beat's `finally`, which saves
    # the schedule file: raise SystemExit instead, which beat's loop handles as a stop.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    if sys.platform.startswith("linux"):
        _set_parent_death_signal(signal.SIGTERM)
    # The parent may have died before prctl took effect: then no signal comes, but the id shows.
    threading.Thread(
        target=_watch, args=(parent_pid,), name="beat-parent-watchdog", daemon=True
    ).start()


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _set_parent_death_signal(sig: int) -> None:
    import ctypes

    pr_set_pdeathsig = 1
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(pr_set_pdeathsig, int(sig), 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed (errno %s)", ctypes.get_errno())
    except (OSError, AttributeError) as exc:  # no libc prctl: the watchdog alone covers it
        log.warning("prctl(PR_SET_PDEATHSIG) unavailable: %s", exc)


def _watch(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_S)
    log.error("beat: worker process %s is gone; stopping this orphaned scheduler", parent_pid)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(STOP_GRACE_S)
    os._exit(1)
