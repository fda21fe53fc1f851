"""The migrations are the schema: they match the models, and go down and up again cleanly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.kit.db import get_engine
from app.kit.migrate import downgrade, upgrade
from app.models import Base


def test_models_match_migrations(database_url: str) -> None:
    with get_engine(database_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_downgrade_to_base_and_back(database_url: str) -> None:
    downgrade(database_url, "base")
    with get_engine(database_url).connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() is None
    upgrade(database_url)
    with get_engine(database_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
