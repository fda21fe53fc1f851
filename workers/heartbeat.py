"""Writes an evaluation's progress and heartbeat to the database from a background thread.

The evaluator's progress callback only records numbers (it runs on the event loop); this thread
persists them every few seconds, so the API shows live progress and a reaper can tell a live
worker from a dead one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType

from app.kit.db import session_scope, utcnow
from app.submissions.models import Evaluation, EvaluationStatus, Submission, SubmissionStatus

log = logging.getLogger(__name__)


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
    ) -> None:
        self.database_url = database_url
        self.evaluation_id = evaluation_id
        self.interval_s = interval_s
        self.on_cancel = on_cancel
        self.alive = alive
        self.on_dead = on_dead
        self.cancelled = False
        self.dead = False
        self.done = 0
        self.total = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="podium-heartbeat", daemon=True)

    def progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total

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
        self._thread.join(timeout=10)
        self.beat()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.beat()
            except Exception:  # a missed beat must never kill the evaluation
                log.exception("heartbeat for evaluation %s failed", self.evaluation_id)

    def beat(self) -> None:
        with session_scope(self.database_url) as session:
            evaluation = session.get(Evaluation, self.evaluation_id)
            if evaluation is None:
                return
            evaluation.heartbeat_at = utcnow()
            evaluation.progress_done = self.done
            evaluation.progress_total = self.total
            submission = session.get(Submission, evaluation.submission_id)
            cancelled = evaluation.status is EvaluationStatus.cancelled or (
                submission is not None and submission.status is SubmissionStatus.cancelled
            )
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
