from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.auth.models import Role
from app.auth.service import create_team, create_token
from app.config import Settings
from app.kit.db import session_scope
from app.main import create_app
from app.queue import RecordingQueue


@pytest.fixture
def queue() -> RecordingQueue:
    return RecordingQueue()


@pytest.fixture
def client(settings: Settings, queue: RecordingQueue) -> Iterator[TestClient]:
    with TestClient(create_app(settings, queue)) as c:
        yield c


def _team(settings: Settings, name: str) -> dict[str, str]:
    with session_scope(settings.database_url) as session:
        _, token = create_team(session, name)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def team_a(settings: Settings) -> dict[str, str]:
    return _team(settings, "alpha")


@pytest.fixture
def team_b(settings: Settings) -> dict[str, str]:
    return _team(settings, "beta")


@pytest.fixture
def organizer(settings: Settings) -> dict[str, str]:
    with session_scope(settings.database_url) as session:
        token = create_token(session, Role.organizer)
    return {"Authorization": f"Bearer {token}"}
