"""The Celery application: queues `build` and `evaluate`, late acks, one task at a time."""

from __future__ import annotations

from celery import Celery

from app.config import get_settings
from app.queue import celery_config

app = Celery("podium", include=["workers.tasks"])
app.conf.update(celery_config(get_settings()))
