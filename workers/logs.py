"""The worker side of app/logging.py: the line format Celery's handlers use, and the ids a task
tags its lines with."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import signals
from sqlalchemy import select

from app.config import get_settings
from app.kit.db import session_scope
from app.logging import log_context, use_format
from app.submissions.models import Evaluation


def _format_celery_handlers(**_: Any) -> None:
    # Celery has set up its handlers (root and task loggers) by now; only the format changes.
    log_format = get_settings().log_format
    if log_format == "json":
        use_format(log_format, ("celery", "celery.task", "celery.redirected"))


@contextmanager
def submission_logged(submission_id: str) -> Iterator[None]:
    with log_context(submission_id=submission_id):
        yield


@contextmanager
def evaluation_logged(evaluation_id: str) -> Iterator[None]:
    """Tag the task's lines with the evaluation and its submission. The submission is looked up
    once (a primary-key read); should the database be down, the lines carry the evaluation alone
    and the task meets the outage where it would anyway."""
    submission_id = None
    try:
        with session_scope(get_settings().database_url) as session:
            submission_id = session.scalar(
                select(Evaluation.submission_id).where(Evaluation.id == evaluation_id)
            )
    except Exception:  # only the tag is lost; the flow reports the outage itself
        submission_id = None
    with log_context(submission_id=submission_id, evaluation_id=evaluation_id):
        yield


def connect() -> None:
    signals.after_setup_logger.connect(_format_celery_handlers, weak=False)
    signals.after_setup_task_logger.connect(_format_celery_handlers, weak=False)
