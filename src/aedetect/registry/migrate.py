"""Schema migration of the registry database through Alembic, without an ``alembic.ini`` on disk:
the migration scripts ship inside the package, so an installed package can upgrade its database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

from aedetect.registry.db import WRITE_OPTION

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
POSTGRES_LOCK_KEY = 0x61656465  # "aede": the advisory lock that serialises concurrent migrations


def alembic_config() -> Config:
    """An Alembic config for the packaged scripts."""
    config = Config(MIGRATIONS_DIR / "alembic.ini")
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database behind ``engine`` to ``revision`` (default: the newest schema).

    Processes starting together (server and worker) migrate one after the other: the migration
    transaction first takes the SQLite write lock or a PostgreSQL advisory lock, so the second
    one finds the schema current and does nothing.
    """
    config = alembic_config()
    with engine.connect() as connection, connection.execution_options(**{WRITE_OPTION: True}).begin():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_LOCK_KEY})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
