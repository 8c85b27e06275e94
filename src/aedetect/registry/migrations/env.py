"""Alembic environment of the registry. It runs on the connection handed over by
``aedetect.registry.migrate`` (``config.attributes["connection"]``) or, from the ``alembic`` command
line, on ``sqlalchemy.url`` / ``AEDETECT_DATABASE_URL``."""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from aedetect.registry.db import make_engine
from aedetect.registry.orm import Base

config = context.config
target_metadata = Base.metadata

if config.attributes.get("connection") is None and config.config_file_name:
    # Run from the alembic command line: log as alembic.ini says. Inside the service, leave logging be.
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = os.environ.get("AEDETECT_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set AEDETECT_DATABASE_URL or sqlalchemy.url to the registry database")
    return url


def run_migrations_offline() -> None:
    """Emit the SQL script instead of running it (``alembic upgrade head --sql``)."""
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate over the given connection, or over a fresh engine for the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
