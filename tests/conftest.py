"""Shared fixtures: real databases built by the migrations, on SQLite and on PostgreSQL.

A test that needs PostgreSQL, Redis or Docker fails when the service is missing and CI is set;
outside CI it is skipped with the reason (see `require`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from app.config import Settings
from app.kit.db import Base, dispose_engines, get_engine
from app.kit.migrate import upgrade
from tests import leaks

POSTGRES_ADMIN_URL = os.environ.get(
    "PODIUM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("PODIUM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
SCENARIO_DATA = Path(
    os.environ.get(
        "PODIUM_SCENARIO_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "scenarios")
    )
)


_SESSION_MARK = pytest.StashKey[str]()
_BASETEMP = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_SESSION_MARK] = leaks.mark_session()


@pytest.fixture(scope="session", autouse=True)
def _remember_basetemp(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> None:
    request.config.stash[_BASETEMP] = tmp_path_factory.getbasetemp()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Fail the run when it left a process or a submission image behind (tests/leaks.py), after
    removing it, so the next run starts clean."""
    found: list[str] = []
    survivors = leaks.surviving_processes(session.config.stash[_SESSION_MARK])
    leaks.kill(survivors)
    found += [f"process {p.pid} (parent {p.ppid}): {p.cmdline[:200]}" for p in survivors]
    if _BASETEMP in session.config.stash:
        ids = leaks.session_submission_ids(session.config.stash[_BASETEMP])
        found += leaks.remove_submission_artifacts(ids)
    if not found:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = ["the tests left these behind (now removed); the test that started them must stop it:"]
    for line in [*lines, *(f"  {item}" for item in found)]:
        if reporter is not None:
            reporter.write_line(line, red=True)
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def require(condition: bool, what: str) -> None:
    """Fail in CI, skip elsewhere, when a real service a test needs is missing."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI but is not available")
    pytest.skip(f"{what} is not available here")


def _postgres_available() -> bool:
    try:
        with create_engine(POSTGRES_ADMIN_URL).connect() as conn:
            conn.execute(text("select 1"))
        return True
    except Exception:
        return False


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new PostgreSQL database with the schema built by the migrations; dropped afterwards."""
    require(_postgres_available(), f"PostgreSQL at {POSTGRES_ADMIN_URL}")
    name = f"podium_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        upgrade(url)
        yield url
    finally:
        dispose_engines(url)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'podium.db'}"
    upgrade(url)
    return url


def _wipe(url: str) -> None:
    with get_engine(url).begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each test using this runs twice: on SQLite and on PostgreSQL, schema from migrations."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    _wipe(url)
    yield url
    _wipe(url)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path / "data",
        database_url=database_url,
        broker_url="memory://",
        scenario_data=SCENARIO_DATA,
        max_context_bytes=5 * 1024 * 1024,
        max_upload_bytes=20 * 1024 * 1024,
        max_archive_files=200,
    )
