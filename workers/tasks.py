"""Celery tasks: thin wrappers that hand an id to a flow.

acks_late + reject_on_worker_lost (see app.queue.celery_config): a task whose worker dies is
redelivered, and the flow resumes from what was saved.
"""

from __future__ import annotations

from typing import Any

from app.queue import BUILD_TASK, EVALUATE_TASK, NOTIFY_TASK, REAP_TASK
from workers import flows, notify, reaper
from workers.celery_app import app
from workers.context import default_context


@app.task(name=BUILD_TASK)
def build_submission(submission_id: str) -> None:
    flows.build_submission(default_context(), submission_id)


@app.task(name=EVALUATE_TASK)
def evaluate(evaluation_id: str) -> None:
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
    ctx = default_context()
    reaper.reap(ctx.settings, ctx.queue, runtime=ctx.runtime)
