from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.auth.models import Role
from app.auth.service import create_token
from app.config import Settings, get_settings
from app.kit.db import session_scope


@pytest.fixture
def admin(settings: Settings) -> dict[str, str]:
    with session_scope(settings.database_url) as session:
        token = create_token(session, Role.admin, label="test admin")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(autouse=True)
def _fresh_settings_cache() -> Iterator[None]:
    # `podium admin --data-dir` points the process-wide settings at a test directory.
    yield
    get_settings.cache_clear()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
