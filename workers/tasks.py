"""Celery tasks: thin wrappers that hand an id to a flow.

acks_late + reject_on_worker_lost (see app.queue.celery_config): a task whose worker dies is
redelivered, and the flow resumes from what was saved. A task that meets an infrastructure
outage (database, broker, Docker engine; see workers/transient.py) is retried with backoff
rather than acked: a claim that could not be written is never taken for work done. Should the
retries run out, the reaper finds the work still queued and sends it again.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from celery import signals

from app.config import get_settings
from app.queue import BUILD_TASK, EVALUATE_TASK, NOTIFY_TASK, REAP_TASK
from workers import broker, flows, logs, notify, presence, reaper
from workers.celery_app import app
from workers.context import default_context
from workers.logs import evaluation_logged, submission_logged
from workers.transient import TransientInfrastructureError, is_transient

log = logging.getLogger(__name__)

# JSON log lines when PODIUM_LOG_FORMAT=json; the worker's beat (app/presence.py).
logs.connect()
presence.connect()

_settings = get_settings()
RETRY_ON_OUTAGE: dict[str, Any] = {
    "autoretry_for": (TransientInfrastructureError,),
    "retry_backoff": 1,
    "retry_backoff_max": _settings.task_retry_backoff_max_s,
    "retry_jitter": True,
    "max_retries": _settings.task_retry_max,
}


@contextlib.contextmanager
def outage_retried(what: str) -> Iterator[None]:
    """Turn an infrastructure outage into the error Celery retries on."""
    try:
        yield
    except Exception as exc:
        if not is_transient(exc):
            raise
        log.warning("%s met an outage and will be retried: %s", what, exc)
        raise TransientInfrastructureError(f"{what}: {type(exc).__name__}: {exc}") from exc


@app.task(name=BUILD_TASK, **RETRY_ON_OUTAGE)
def build_submission(submission_id: str) -> None:
    with submission_logged(submission_id), outage_retried(f"build of {submission_id}"):
        flows.build_submission(default_context(), submission_id)


@app.task(name=EVALUATE_TASK, **RETRY_ON_OUTAGE)
def evaluate(evaluation_id: str) -> None:
    with evaluation_logged(evaluation_id), outage_retried(f"evaluation {evaluation_id}"):
        flows.evaluate(default_context(), evaluation_id)


@app.task(
    name=NOTIFY_TASK,
    autoretry_for=(notify.WebhookFailed,),
    retry_backoff=5,
    retry_backoff_max=600,
    max_retries=8,
)
def notify_webhook(url: str, body: dict[str, Any]) -> None:
    notify.deliver(url, body, secret=default_context().settings.webhook_secret)


@app.task(name=REAP_TASK)
def reap() -> None:
    # Not retried: the beat sends the next one in `reap_every_s` anyway.
    ctx = default_context()
    reaper.reap(
        ctx.settings, ctx.queue, runtime=ctx.runtime, known=broker.known_tasks(ctx.settings)
    )


@signals.worker_ready.connect(weak=False)
def _remove_orphans_at_start(**_: Any) -> None:
    """Containers a killed worker left on this engine go at once, not at the next reap."""
    ctx = default_context()
    try:
        reaper.remove_orphan_containers(ctx.settings, ctx.runtime)
    except Exception:  # an engine or database still starting must not stop the worker
        log.exception("could not look for containers left by a dead worker")
