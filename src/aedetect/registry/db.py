"""Engine and session plumbing of the registry: one place for the SQLite pragmas and for the
managed session that commits or rolls back. Safe for several threads: each unit of work opens its
own session from a shared, thread-safe factory."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite connection waits for another writer before giving up with 'database is locked'."""

WRITE_OPTION = "aedetect_write"
"""Execution option that makes a SQLite transaction take the write lock when it begins."""


def _is_memory_sqlite(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"


def _prepare_sqlite_file(url: URL) -> None:
    """Create the directory of a SQLite database file so a fresh data directory just works."""
    if url.database and not _is_memory_sqlite(url) and not url.database.startswith("file:"):
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _install_sqlite_pragmas(engine: Engine, *, wal: bool) -> None:
    """Pragmas on every new connection, and transactions begun by SQLAlchemy rather than the driver.

    The sqlite3 driver normally issues ``BEGIN`` lazily and never for reads, which defeats
    ``BEGIN IMMEDIATE``; the recipe from the SQLAlchemy SQLite dialect docs takes that over, so a
    write unit of work holds the write lock from its first read (no lost update between a
    ``max() + 1`` read and the insert) while reads stay concurrent under WAL.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if wal:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str | URL, *, echo: bool = False) -> Engine:
    """An engine for ``url`` (SQLite file or memory, PostgreSQL, ...) with the registry's settings.

    SQLite gets ``foreign_keys=ON``, WAL journaling (files only), a busy timeout, and connections
    usable from any thread; a file database's directory is created if missing.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, echo=echo, pool_pre_ping=True)
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    memory = _is_memory_sqlite(parsed)
    if memory:
        # One shared connection, otherwise every pooled connection would see its own empty database.
        kwargs["poolclass"] = StaticPool
    else:
        _prepare_sqlite_file(parsed)
    engine = create_engine(parsed, echo=echo, **kwargs)
    _install_sqlite_pragmas(engine, wal=not memory)
    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose loaded rows stay readable after commit (they are converted right away)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session], *, write: bool = False) -> Iterator[Session]:
    """One unit of work: commit when the block ends, roll back if it raises, always close.

    ``write=True`` marks a unit of work that will write; on SQLite it takes the write lock at the
    start so concurrent writers queue (up to the busy timeout) instead of failing mid-way.
    """
    session = factory()
    if write:
        session.connection(execution_options={WRITE_OPTION: True})
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
