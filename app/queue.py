"""Enqueueing worker tasks by name, only after the transaction that created their rows commits.

The API never imports worker code: it sends task names through Celery's client side.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol

from celery import Celery
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.config import Settings

log = logging.getLogger(__name__)

BUILD_TASK = "podium.build_submission"
EVALUATE_TASK = "podium.evaluate"
NOTIFY_TASK = "podium.notify"
REAP_TASK = "podium.reap"
BUILD_QUEUE = "build"
EVALUATE_QUEUE = "evaluate"
# Notifications and reaping are light: they ride on the build (CPU) queue.
TASK_QUEUES = {
    BUILD_TASK: BUILD_QUEUE,
    EVALUATE_TASK: EVALUATE_QUEUE,
    NOTIFY_TASK: BUILD_QUEUE,
    REAP_TASK: BUILD_QUEUE,
}


_PENDING = "podium_pending_tasks"


def celery_config(settings: Settings) -> dict[str, Any]:
    """Broker settings shared by the API (sender) and the workers (consumers)."""
    config: dict[str, Any] = {
        "broker_url": settings.broker_url,
        "task_routes": {name: {"queue": queue} for name, queue in TASK_QUEUES.items()},
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_ignore_result": True,
        "broker_connection_retry_on_startup": True,
        "beat_schedule": {"reap": {"task": REAP_TASK, "schedule": settings.reap_every_s}},
        "beat_schedule_filename": str(settings.data_dir / "celerybeat-schedule"),
    }
    if settings.uses_filesystem_broker:
        folder = settings.broker_dir / "queue"
        folder.mkdir(parents=True, exist_ok=True)
        (settings.broker_dir / "processed").mkdir(parents=True, exist_ok=True)
        config["broker_transport_options"] = {
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "processed_folder": str(settings.broker_dir / "processed"),
            "control_folder": str(settings.broker_dir / "control"),
            "store_processed": False,
        }
    else:
        # Redis redelivers unacked tasks after this long; longer than any evaluation budget.
        config["broker_transport_options"] = {
            "visibility_timeout": int(settings.eval_timeout_s) + 3600
        }
    return config


class TaskQueue(Protocol):
    def send(self, task_name: str, args: Sequence[Any]) -> None: ...


class CeleryQueue:
    def __init__(self, settings: Settings) -> None:
        self._celery = _client(settings.broker_url, str(settings.data_dir))
        self._celery.conf.update(celery_config(settings))

    def send(self, task_name: str, args: Sequence[Any]) -> None:
        self._celery.send_task(task_name, args=list(args), queue=TASK_QUEUES.get(task_name))


@lru_cache(maxsize=4)
def _client(broker_url: str, _data_dir: str) -> Celery:
    return Celery("podium-client", broker=broker_url)


class RecordingQueue:
    """An in-memory queue for tests: records what would have been sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[Any, ...]]] = []

    def send(self, task_name: str, args: Sequence[Any]) -> None:
        self.sent.append((task_name, tuple(args)))


def enqueue_after_commit(session: Session, queue: TaskQueue, task_name: str, *args: Any) -> None:
    session.info.setdefault(_PENDING, []).append((queue, task_name, args))


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    for queue, task_name, args in session.info.pop(_PENDING, []):
        try:
            queue.send(task_name, args)
        except Exception:
            # The row is committed and stays `queued`; the broker being down must not turn a
            # stored upload into an error for the team.
            log.exception("could not enqueue %s%r; the submission stays queued", task_name, args)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
