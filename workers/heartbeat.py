"""Writes an evaluation's progress and heartbeat to the database from a background thread.

The evaluator's progress callback only records numbers (it runs on the event loop); this thread
persists them, so the API shows live progress and a reaper can tell a live worker from a dead
one. Progress is written on its own, cheaply (one UPDATE, only when it changed), every
PROGRESS_EVERY_S, and at once when the plan's size is known (before the first request); the full
beat (cancel and liveness checks) keeps its slower interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType

from sqlalchemy import update

from app.evaluations import service as evaluations
from app.kit.db import session_scope
from app.submissions.models import Evaluation

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 1.0


class Heartbeat:
    """Also watches for an admin's cancel: `on_cancel` runs once (from this thread) when the
    submission or the evaluation has been cancelled, e.g. to kill the container at once; and for
    the server's death: `on_dead` runs once when `alive()` turns false, so a crashed server ends
    the evaluation within one interval instead of after every request's retries."""

    def __init__(
        self,
        database_url: str,
        evaluation_id: str,
        interval_s: float,
        on_cancel: Callable[[], None] | None = None,
        alive: Callable[[], bool] | None = None,
        on_dead: Callable[[], None] | None = None,
        progress_every_s: float = PROGRESS_EVERY_S,
    ) -> None:
        self.database_url = database_url
        self.evaluation_id = evaluation_id
        self.interval_s = interval_s
        self.progress_every_s = progress_every_s
        self.on_cancel = on_cancel
        self.alive = alive
        self.on_dead = on_dead
        self.cancelled = False
        self.dead = False
        self.done = 0
        self.total = 0
        self._stop = threading.Event()
        self._poke = threading.Event()
        self._written = (0, 0)
        self._thread = threading.Thread(target=self._run, name="podium-heartbeat", daemon=True)

    def progress(self, done: int, total: int) -> None:
        planned = total != self.total
        self.done, self.total = done, total
        if planned:
            # The plan is known and no request has gone out yet: show its size now, from here
            # (one short write, once), so nobody watches "0 of 0" through a whole run.
            try:
                self._write_progress()
            except Exception:
                log.exception("progress of evaluation %s not written", self.evaluation_id)
                self._poke.set()

    def __enter__(self) -> Heartbeat:
        self.beat()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._poke.set()
        self._thread.join(timeout=10)
        self.beat()

    def _run(self) -> None:
        next_beat = time.monotonic() + self.interval_s
        while not self._stop.is_set():
            wait = min(self.progress_every_s, next_beat - time.monotonic())
            self._poke.wait(max(0.0, wait))
            self._poke.clear()
            if self._stop.is_set():
                return
            try:
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + self.interval_s
                    self.beat()
                else:
                    self._write_progress()
            except Exception:  # a missed beat must never kill the evaluation
                log.exception("heartbeat for evaluation %s failed", self.evaluation_id)

    def _write_progress(self) -> None:
        done, total = self.done, self.total
        if (done, total) == self._written:
            return
        with session_scope(self.database_url) as session:
            session.execute(
                update(Evaluation)
                .where(Evaluation.id == self.evaluation_id)
                .values(progress_done=done, progress_total=total)
            )
        self._written = (done, total)

    def beat(self) -> None:
        done, total = self.done, self.total
        with session_scope(self.database_url) as session:
            cancelled = evaluations.heartbeat(session, self.evaluation_id, done, total)
        self._written = (done, total)
        if cancelled and not self.cancelled:
            self.cancelled = True
            log.info("evaluation %s was cancelled; stopping it", self.evaluation_id)
            if self.on_cancel is not None:
                self.on_cancel()
        elif not self.cancelled and not self.dead and self.alive is not None:
            if not self.alive():
                self.dead = True
                log.info("the server of evaluation %s has stopped", self.evaluation_id)
                if self.on_dead is not None:
                    self.on_dead()


class Ticker:
    """Calls `beat` every `interval_s` from a background thread while open: a build's heartbeat,
    or an evaluation's while its task waits for a free GPU. A failing beat is logged, never
    raised: a database blip must not end the work it vouches for."""

    def __init__(self, what: str, interval_s: float, beat: Callable[[], None]) -> None:
        self.what = what
        self.interval_s = interval_s
        self._beat = beat
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="podium-ticker", daemon=True)

    def __enter__(self) -> Ticker:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self._beat()
            except Exception:
                log.exception("heartbeat of %s failed", self.what)
