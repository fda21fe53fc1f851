"""Which errors are an infrastructure outage (retry the task later) rather than a result.

The database restarting, the broker going away, the Docker engine answering 5xx or refusing
connections: none of these says anything about a team's submission. A task that meets one is
retried with backoff (workers/tasks.py) instead of being acked, and a flow never turns one into
a failure reason. The `raise ... from` chain is searched: runtimes wrap engine errors.
"""

from __future__ import annotations

import docker.errors
import kombu.exceptions
import redis.exceptions
import requests.exceptions
import sqlalchemy.exc


class TransientInfrastructureError(Exception):
    """Raised by a task for an outage; Celery retries it with backoff (`autoretry_for`)."""


def _is_transient_one(exc: BaseException) -> bool:
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        return isinstance(exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError) or (
            exc.connection_invalidated
        )
    if isinstance(exc, sqlalchemy.exc.TimeoutError):  # no pooled connection came free
        return True
    if isinstance(exc, kombu.exceptions.OperationalError | redis.exceptions.ConnectionError):
        return True
    if isinstance(exc, redis.exceptions.TimeoutError):
        return True
    if isinstance(exc, docker.errors.APIError):
        return exc.status_code is not None and exc.status_code >= 500
    return isinstance(exc, requests.exceptions.ConnectionError)


def is_transient(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if _is_transient_one(current):
            return True
        seen.add(id(current))
        current = current.__cause__  # explicit `raise ... from`: the wrapped cause
    return False
