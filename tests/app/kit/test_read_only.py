"""`read_only`: reads on an autocommit connection of a pool of their own (no BEGIN, no COMMIT,
no ping), on both databases. A write through it fails in the database itself and writes
nothing, whether it is plain SQL or an ORM flush. A connection the server dropped is replaced
and the read run once more; a real error is raised at once, never retried."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import Connection, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.auth.models import Team
from app.kit.db import get_engine, get_read_engine, read_only, session_scope


def _teams(url: str) -> int:
    with session_scope(url) as session:
        return session.scalar(select(func.count()).select_from(Team)) or 0


def test_reads_autocommit(database_url: str) -> None:
    with session_scope(database_url) as session:
        session.add(Team(name="kept"))

    def read(connection: Connection) -> list[str]:
        assert connection.get_execution_options()["isolation_level"] == "AUTOCOMMIT"
        names = list(connection.scalars(select(Team.name)))
        if database_url.startswith("postgresql"):
            # No transaction was opened for the SELECT: nothing to COMMIT.
            dbapi = connection.connection.dbapi_connection
            assert dbapi is not None and dbapi.autocommit
            assert dbapi.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        return names

    assert read_only(database_url, read) == ["kept"]
    assert get_read_engine(database_url) is not get_engine(database_url)


@pytest.mark.parametrize("how", ["sql", "orm"])
def test_a_write_fails_in_the_database_and_is_not_retried(database_url: str, how: str) -> None:
    calls = 0

    def sneak(connection: Connection) -> None:
        nonlocal calls
        calls += 1
        if how == "sql":
            connection.execute(text("INSERT INTO teams (id, name) VALUES ('x', 'sneaked in')"))
        else:
            session = Session(bind=connection)
            session.add(Team(name="sneaked in"))
            session.flush()

    with pytest.raises(DBAPIError, match="read-only|readonly") as caught:
        read_only(database_url, sneak)
    assert not caught.value.connection_invalidated
    assert calls == 1
    assert _teams(database_url) == 0
    # The main pool writes as before.
    with session_scope(database_url) as session:
        session.add(Team(name="written"))
    assert _teams(database_url) == 1


def test_a_connection_the_server_dropped_is_replaced(postgres_url: str) -> None:
    calls = 0

    def whoami(connection: Connection) -> int:
        nonlocal calls
        calls += 1
        return int(connection.scalar(text("SELECT pg_backend_pid()")) or 0)

    first = read_only(postgres_url, whoami)
    assert read_only(postgres_url, whoami) == first  # pooled: the same connection again
    with get_engine(postgres_url).connect() as admin:  # as a PostgreSQL restart would
        assert admin.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    calls = 0
    again = read_only(postgres_url, whoami)
    assert again != first
    assert calls == 2  # the dropped connection failed, the read ran again on a new one
    assert read_only(postgres_url, whoami) == again  # which stays in the pool


def test_a_database_that_is_down_is_a_database_error() -> None:
    calls = 0

    def read(connection: Connection) -> None:
        nonlocal calls
        calls += 1

    with pytest.raises(DBAPIError, match="refused|connect"):
        read_only("postgresql://postgres@127.0.0.1:1/nothing-listens-here", read)
    assert calls == 0
