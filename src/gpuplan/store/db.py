"""Where the database is, how to connect, and migrating it to the code's schema.

SQLite in the user's data directory by default (``platformdirs``), in WAL mode
with a busy timeout so the server, a CLI apply and a reader never trip over each
other; PostgreSQL (or any SQLAlchemy URL) through ``GPUPLAN_DATABASE_URL``.
``postgresql://`` URLs use psycopg 3. Migrations ship inside the package and run
on every start, so a newer gpuplan upgrades an older database in place.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from gpuplan.errors import StoreError

__all__ = [
    "DATABASE_URL_ENV",
    "database_url",
    "default_sqlite_path",
    "downgrade",
    "make_engine",
    "migrate",
    "schema_revision",
]

DATABASE_URL_ENV = "GPUPLAN_DATABASE_URL"
HEAD = "head"
HEAD_REVISION = "0001"
"""The newest migration; bump with every new one (a test checks it is the head)."""


def default_sqlite_path() -> Path:
    """``gpuplan.db`` in the user's data directory (e.g. ~/.local/share/gpuplan)."""
    from platformdirs import user_data_path

    return user_data_path("gpuplan", appauthor=False) / "gpuplan.db"


def database_url(explicit: str | None = None) -> str:
    """The URL to use: ``explicit``, else ``GPUPLAN_DATABASE_URL``, else the SQLite file."""
    url = explicit or os.environ.get(DATABASE_URL_ENV, "").strip()
    if url:
        if url.startswith(("postgresql://", "postgres://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url
    return f"sqlite:///{default_sqlite_path()}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str | None = None) -> Engine:
    """An engine for ``database_url(url)``; creates the SQLite file's directory."""
    resolved = database_url(url)
    try:
        parsed = make_url(resolved)
    except ArgumentError as error:
        raise StoreError(
            f"{DATABASE_URL_ENV}={resolved!r} is not a database URL",
            hint="use postgresql://user@host:5432/db or sqlite:////path/to/gpuplan.db",
        ) from error
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    try:
        return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)
    except (ArgumentError, ImportError) as error:
        raise StoreError(f"cannot use database {parsed!r}: {error}") from error


def _alembic_config(engine_connection: Any) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(files("gpuplan.store") / "migrations"))
    config.attributes["connection"] = engine_connection
    return config


def migrate(engine: Engine, revision: str = HEAD) -> None:
    """Upgrade the schema to ``revision`` (default: the code's own)."""
    from alembic import command

    try:
        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), revision)
    except SQLAlchemyError as error:
        raise StoreError(
            f"cannot migrate the database at {engine.url!r}: {error}",
            hint=f"check {DATABASE_URL_ENV} and that the server is running",
        ) from error


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Downgrade the schema to ``revision`` (default: no tables at all)."""
    from alembic import command

    with engine.begin() as connection:
        command.downgrade(_alembic_config(connection), revision)


def schema_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it has never been migrated."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        current: str | None = MigrationContext.configure(connection).get_current_revision()
        return current
