"""`read_scope`: a read-only unit of work on an autocommit connection (no BEGIN, no COMMIT round
trips), on both databases. A write in it fails loudly and writes nothing; the pooled connection
goes back to the pool in its normal transactional mode."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import func, select

from app.auth.models import Team
from app.kit.db import read_scope, session_scope


def _teams(url: str) -> int:
    with session_scope(url) as session:
        return session.scalar(select(func.count()).select_from(Team)) or 0


def test_reads_autocommit_and_refuse_writes(database_url: str) -> None:
    with session_scope(database_url) as session:
        session.add(Team(name="kept"))
    with read_scope(database_url) as session:
        connection = session.connection()
        assert connection.get_execution_options()["isolation_level"] == "AUTOCOMMIT"
        assert [t.name for t in session.scalars(select(Team))] == ["kept"]
        if database_url.startswith("postgresql"):
            # No transaction was opened for the SELECT: nothing to COMMIT.
            dbapi = connection.connection.dbapi_connection
            assert dbapi is not None and dbapi.autocommit
            assert dbapi.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        session.add(Team(name="sneaked in"))
        with pytest.raises(RuntimeError, match="does not write"):
            session.flush()
    assert _teams(database_url) == 1
    # The connection the read used is transactional again for the next unit of work.
    with session_scope(database_url) as session:
        assert "isolation_level" not in session.connection().get_execution_options()
        session.add(Team(name="second"))
        session.flush()
        session.rollback()
    assert _teams(database_url) == 1


def test_an_edit_of_a_loaded_row_is_refused_too(database_url: str) -> None:
    with session_scope(database_url) as session:
        session.add(Team(name="before"))
    with read_scope(database_url) as session:
        team = session.scalars(select(Team)).one()
        team.name = "after"
        with pytest.raises(RuntimeError):
            session.flush()
    with session_scope(database_url) as session:
        assert session.scalars(select(Team.name)).one() == "before"
