"""Health for load balancers and operators: liveness, readiness per component, and a database
outage answered as 503 with Retry-After instead of a plain-text 500.

`/healthz` is liveness: the process is up and serving; restarting it fixes nothing that a
broken database or broker causes, so it never looks at them. `/healthz/ready` is readiness:
the database and the broker are what every API answer or submission needs, so it is 503 when
either is down and a load balancer can route around this instance. The Docker engine belongs to
the workers (the API never uses one): its state, as the live workers report it, is shown for
operators but does not make the API unready.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Literal

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import presence
from app.config import Settings
from app.kit.db import get_engine
from app.kit.routing import api_router
from app.queue import BUILD_QUEUE, EVALUATE_QUEUE

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5
"""What a client is told to wait while the database is unavailable: outages seen here lasted
4-11 s, and a pooled connection reconnects on the first request after."""
DATABASE_UNAVAILABLE = "the database is unavailable; try again shortly"
CHECK_TIMEOUT_S = 3.0
QUEUES = (BUILD_QUEUE, EVALUATE_QUEUE)
# kombu's Redis transport keeps priorities 3, 6 and 9 of a queue in lists of their own.
REDIS_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")

State = Literal["ok", "down", "unknown"]


def is_database_unavailable(exc: BaseException) -> bool:
    """A lost or refused connection, a pool with none free, a locked SQLite: errors of the
    database's availability, which pass. Not constraint violations or bad SQL, which are bugs."""
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
        return True
    return isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated


def database_unavailable_response() -> JSONResponse:
    return JSONResponse(
        status_code=503,
        content={"detail": DATABASE_UNAVAILABLE},
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


async def database_unavailable(_: Request, exc: Exception) -> JSONResponse:
    """Exception handler for SQLAlchemy's errors raised by a route or its dependencies."""
    if not is_database_unavailable(exc):
        raise exc
    log.warning("answered 503: the database is unavailable (%s)", type(exc).__name__)
    return database_unavailable_response()


class DatabaseUnavailableMiddleware:
    """The same 503 for what runs before routing (the token check of app/kit/body_limit.py
    reads the database too), where exception handlers do not reach. Outermost."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as exc:
            if started or not is_database_unavailable(exc):
                raise
            log.warning("answered 503: the database is unavailable (%s)", type(exc).__name__)
            await database_unavailable_response()(scope, receive, send)


class Component(BaseModel):
    status: State
    required: bool
    detail: str = ""
    latency_ms: float | None = None


class Readiness(BaseModel):
    status: Literal["ready", "unready"]
    components: dict[str, Component]


def check_database(settings: Settings) -> None:
    with get_engine(settings.database_url).connect() as conn:
        conn.execute(text("SELECT 1"))


def check_broker(settings: Settings) -> None:
    if presence.uses_redis(settings):
        presence.redis_client(settings.broker_url).ping()
    elif settings.uses_filesystem_broker:
        folder = settings.broker_dir / "queue"
        if not folder.is_dir():
            raise OSError(f"the filesystem broker's folder {folder} does not exist")
    # memory:// (tests) lives in this process: up while the process is.


def queue_depths(settings: Settings) -> dict[str, int]:
    """Tasks waiting per queue, as the broker holds them (none for the in-memory broker)."""
    if presence.uses_redis(settings):
        client = presence.redis_client(settings.broker_url)
        pipe = client.pipeline()
        for queue in QUEUES:
            for suffix in REDIS_PRIORITY_SUFFIXES:
                pipe.llen(queue + suffix)
        lengths = [int(n) for n in pipe.execute()]
        step = len(REDIS_PRIORITY_SUFFIXES)
        return {q: sum(lengths[i * step : (i + 1) * step]) for i, q in enumerate(QUEUES)}
    if settings.uses_filesystem_broker:
        folder = settings.broker_dir / "queue"
        names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
        return {q: sum(1 for n in names if n.endswith(f".{q}.msg")) for q in QUEUES}
    return {}


async def _timed(
    check: Callable[[Settings], None], settings: Settings, required: bool
) -> Component:
    began = time.monotonic()
    try:
        # A thread, and a bound on the wait: a database that hangs (no refusal, no answer)
        # must not hang the probe the load balancer is waiting on.
        await asyncio.wait_for(asyncio.to_thread(check, settings), CHECK_TIMEOUT_S)
    except TimeoutError:
        return Component(
            status="down", required=required, detail=f"no answer in {CHECK_TIMEOUT_S:.0f} s"
        )
    except Exception as exc:
        return Component(status="down", required=required, detail=_short(exc))
    return Component(
        status="ok", required=required, latency_ms=round((time.monotonic() - began) * 1000, 1)
    )


def _short(exc: BaseException) -> str:
    first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"[:300]


def engine_component(settings: Settings) -> Component:
    """The Docker engine as the live workers last saw it (none alive: unknown)."""
    try:
        alive = [b for b in presence.beats(settings) if b.alive(settings)]
    except Exception as exc:
        return Component(status="unknown", required=False, detail=f"workers unreadable: {exc}")
    if not alive:
        return Component(status="unknown", required=False, detail="no worker is alive")
    down = [b for b in alive if b.engine == "down"]
    if down:
        names = ", ".join(f"{b.name}: {b.engine_error}" for b in down)
        return Component(status="down", required=False, detail=f"engine down on {names}")
    if all(b.engine == "unknown" for b in alive):
        return Component(status="unknown", required=False, detail="no worker has checked it yet")
    return Component(status="ok", required=False, detail=f"{len(alive)} worker(s) alive")


async def readiness(settings: Settings) -> Readiness:
    database, broker = await asyncio.gather(
        _timed(check_database, settings, required=True),
        _timed(check_broker, settings, required=True),
    )
    engine = await asyncio.to_thread(engine_component, settings)
    components = {"database": database, "broker": broker, "engine": engine}
    ready = all(c.status == "ok" for c in components.values() if c.required)
    return Readiness(status="ready" if ready else "unready", components=components)


router = api_router(tags=["health"])


class Health(BaseModel):
    status: str


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """Liveness: this process serves requests. Looks at nothing else."""
    return Health(status="ok")


@router.get("/healthz/ready", response_model=Readiness, responses={503: {"model": Readiness}})
async def healthz_ready(request: Request) -> JSONResponse:
    """Readiness: 200 when the database and the broker answer, 503 otherwise; each component's
    state in the body."""
    report = await readiness(request.app.state.settings)
    return JSONResponse(
        status_code=200 if report.status == "ready" else 503,
        content=report.model_dump(mode="json"),
        headers={} if report.status == "ready" else {"Retry-After": str(RETRY_AFTER_S)},
    )
