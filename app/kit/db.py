"""Database plumbing: declarative base, engines, sessions.

The FastAPI session dependency (and `session_scope` for workers/CLI) owns commit and rollback;
services only `flush()`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    DateTime,
    Dialect,
    Engine,
    MetaData,
    String,
    TypeDecorator,
    create_engine,
    event,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every database (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class IdMixin:
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while the worker writes; busy_timeout turns lock contention into waits.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True)


@lru_cache(maxsize=8)
def get_sessionmaker(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


_AFTER_COMMIT = "podium_after_commit"


def run_after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run `callback` once the session's transaction has committed (never on rollback)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_callbacks(session: Session) -> None:
    for callback in session.info.pop(_AFTER_COMMIT, []):
        callback()


@event.listens_for(Session, "after_rollback")
def _drop_callbacks(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A unit of work: commits when the block ends normally, rolls back on error."""
    session = get_sessionmaker(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _read_only_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


@lru_cache(maxsize=8)
def get_read_engine(url: str) -> Engine:
    """A second pool, for `read_only`: its connections refuse every write (PostgreSQL's
    `default_transaction_read_only`, SQLite's `query_only`) and are lent without a ping."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "connect", _read_only_sqlite)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(
        url, pool_pre_ping=False, connect_args={"options": "-c default_transaction_read_only=on"}
    )


def read_only(url: str, read: Callable[[Connection], T]) -> T:
    """`read(connection)` on a connection that only reads, each statement on its own
    (autocommit: no BEGIN, no COMMIT), for reads that need no snapshot across statements and
    are run often, such as the submission GET that teams poll.

    A write through it fails in the database itself. Its pool lends connections without the
    ping (`pool_pre_ping`, one more round trip per request) that the main pool does: a
    connection the server dropped (restart, idle timeout) fails at its first statement instead,
    the pool discards it and the connections opened before it, and `read`, having changed
    nothing, is run once more on a fresh connection. A database that is down fails both times
    (503 from the API's handler)."""
    engine = get_read_engine(url)
    for attempt in (1, 2):
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                return read(connection)
        except DBAPIError as exc:
            if attempt == 2 or not exc.connection_invalidated:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def dispose_engines(url: str) -> None:
    """Close every pooled connection to `url`, of both pools (before dropping a database)."""
    get_engine(url).dispose()
    get_read_engine(url).dispose()
