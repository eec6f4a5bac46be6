"""Store stage: the saved GPU configuration, detected devices, settings and history.

``open_store`` is the one entry point: it connects (SQLite in the user's data
directory, or ``GPUPLAN_DATABASE_URL``), migrates to the code's schema, and
returns the ``Repository`` every command and route queries through. Importing
this package imports SQLAlchemy: commands import it inside their functions.
"""

from __future__ import annotations

from gpuplan.store.db import DATABASE_URL_ENV, database_url, make_engine, migrate
from gpuplan.store.model import (
    DeviceRecord,
    GpuConfig,
    HistoryEntry,
    SavedConfig,
    ServiceConfig,
)
from gpuplan.store.repository import Repository

__all__ = [
    "DATABASE_URL_ENV",
    "DeviceRecord",
    "GpuConfig",
    "HistoryEntry",
    "Repository",
    "SavedConfig",
    "ServiceConfig",
    "database_url",
    "open_existing_store",
    "open_store",
]


def open_store(url: str | None = None, *, run_migrations: bool = True) -> Repository:
    """The repository for ``url`` (default: ``GPUPLAN_DATABASE_URL`` or the SQLite file)."""
    engine = make_engine(url)
    if run_migrations:
        migrate(engine)
    repository = Repository(engine)
    repository.ensure_state()
    return repository


def open_existing_store(url: str | None = None) -> Repository | None:
    """The repository if the database already exists and is migrated, else None.

    For read-only commands (``apply --dry-run``): never creates a file, a table or
    a row.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from gpuplan.store.db import HEAD_REVISION, schema_revision

    resolved = database_url(url)
    parsed = make_url(resolved)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        from pathlib import Path

        if not Path(parsed.database).expanduser().exists():
            return None
    engine = make_engine(resolved)
    try:
        if schema_revision(engine) != HEAD_REVISION:
            return None
    except SQLAlchemyError:
        engine.dispose()
        return None
    return Repository(engine)
