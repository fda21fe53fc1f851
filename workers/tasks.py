"""Celery tasks: thin wrappers that hand an id to a flow.

acks_late + reject_on_worker_lost (see app.queue.celery_config): a task whose worker dies is
redelivered, and the flow resumes from what was saved.
"""

from __future__ import annotations

from app.queue import BUILD_TASK, EVALUATE_TASK
from workers import flows
from workers.celery_app import app
from workers.context import default_context


@app.task(name=BUILD_TASK)  # type: ignore[misc]
def build_submission(submission_id: str) -> None:
    flows.build_submission(default_context(), submission_id)


@app.task(name=EVALUATE_TASK)  # type: ignore[misc]
def evaluate(evaluation_id: str) -> None:
    flows.evaluate(default_context(), evaluation_id)
