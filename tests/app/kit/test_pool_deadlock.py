"""A crowd of authenticated requests against a database pool smaller than the thread pool.

A request used to keep its session's connection while it waited for a thread: for its handler
after the token lookup, for the validation of its answer after the handler. With every thread
taken by requests waiting for a connection, none could go on: each waited out the pool timeout
and answered 503 (seen at 200 board reads/s plus 20 submission GETs/s: answers after minutes).
Now the token lookup has its own unit of work, and the handler ends the request's
(app/kit/routing.py), so a connection is only held inside one thread-pool hop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from app.auth.service import create_team
from app.config import Settings
from app.kit import db
from app.kit.db import get_engine, session_scope
from app.kit.routing import UnitOfWorkRoute
from app.main import create_app
from app.queue import RecordingQueue
from tests.conftest import SCENARIO_DATA

CROWD = 80  # twice anyio's 40 threads
POOL = 2


@pytest.fixture
def small_pool_url(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The test database behind an engine of its own with a pool of 2 and no overflow."""
    url = postgres_url + "?application_name=podium_small_pool"
    real = db.create_engine

    def small(target: Any, **kwargs: Any) -> Any:
        return real(target, **{**kwargs, "pool_size": POOL, "max_overflow": 0, "pool_timeout": 5})

    monkeypatch.setattr(db, "create_engine", small)
    # A URL of its own, so `get_engine` makes (and caches) a new engine for it, and only it.
    # Never clear that cache here: sessionmakers made before would keep the old engines.
    try:
        yield url
    finally:
        db.dispose_engines(url)


def _settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path / "data",
        database_url=database_url,
        broker_url="memory://",
        scenario_data=SCENARIO_DATA,
    )


def test_a_crowd_larger_than_the_pool_is_served(small_pool_url: str, tmp_path: Path) -> None:
    settings = _settings(small_pool_url, tmp_path)
    with session_scope(small_pool_url) as session:
        _, token = create_team(session, "crowd-pool")
    app = create_app(settings, RecordingQueue())
    headers = {"Authorization": f"Bearer {token}"}
    routes = ["/api/v1/submissions", "/api/v1/leaderboard", "/api/v1/competitions"]

    async def crowd() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://podium") as client:
            answers = await asyncio.gather(
                *(client.get(routes[i % len(routes)], headers=headers) for i in range(CROWD))
            )
        return [a.status_code for a in answers]

    statuses = asyncio.run(asyncio.wait_for(crowd(), timeout=60))
    assert statuses == [200] * CROWD
    assert get_engine(small_pool_url).pool.size() == POOL  # the small pool was the one used


def test_every_route_ends_its_unit_of_work_in_the_handler(tmp_path: Path) -> None:
    """A router made without `api_router` would bring the wait back for its routes."""
    settings = _settings(f"sqlite:///{tmp_path / 'p.db'}", tmp_path)

    def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
        for route in routes:
            included = getattr(route, "original_router", None)  # FastAPI includes routers lazily
            if included is not None:
                yield from api_routes(included.routes)
            elif isinstance(route, APIRoute):
                yield route

    routes = list(api_routes(create_app(settings, RecordingQueue()).routes))
    assert len(routes) > 30
    assert [r.path for r in routes if not isinstance(r, UnitOfWorkRoute)] == []
