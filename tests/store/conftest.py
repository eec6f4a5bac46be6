"""Every store test runs on SQLite and on a real PostgreSQL server."""

from tests.dbfixtures import db_url, postgres_server

__all__ = ["db_url", "postgres_server"]
