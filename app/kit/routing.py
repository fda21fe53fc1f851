"""Routes whose unit of work ends in the handler's own thread.

FastAPI runs a sync handler in the thread pool, and then, for a handler with a response model,
validates its answer in the thread pool again, a second hop that waits for a free thread. The
request's session (`SessionDep`) is closed only after that. A request that held a database
connection across that wait could wait forever: with every thread taken by requests waiting for
a connection, and every connection held by requests waiting for a thread, nothing moves (seen
at 200 board reads/s plus 20 submission GETs/s, with 15 connections and 40 threads: answers
after minutes, or 503 once the pool gave up).

So the request's session is committed at the end of the handler, in the handler's thread, and
its connection goes back to the pool there. What the request wrote is stored before its answer
is sent, as before; the session's exit then only closes it. A lazy load during validation takes
a connection for that one hop, and the exit (which FastAPI runs outside the thread limit) gives
it back.

Every router is made with `api_router`, so every route is one of these
(tests/app/kit/test_pool_deadlock.py checks the app's routes).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session


def commit_in_handler_thread(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """`endpoint`, committing the sessions it was given before it returns. An async endpoint
    is left as it is: it holds no thread while it waits (see `app.submissions.router`)."""
    if inspect.iscoroutinefunction(endpoint):
        return endpoint

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        result = endpoint(*args, **kwargs)
        for value in kwargs.values():
            if isinstance(value, Session):
                value.commit()
        return result

    return run


class UnitOfWorkRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, commit_in_handler_thread(endpoint), **kwargs)


def api_router(**kwargs: Any) -> APIRouter:
    """An `APIRouter` whose routes are `UnitOfWorkRoute`s."""
    return APIRouter(route_class=UnitOfWorkRoute, **kwargs)
