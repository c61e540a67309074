"""The PostgreSQL the suite runs on: TEST_DATABASE_URL's server, or an embedded one."""
from __future__ import annotations

import os
import tempfile
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg2
from psycopg2 import sql

from app import normalize_database_url


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


class TestDatabase:
    """A fresh database created for one test run and dropped afterwards."""

    def __init__(self) -> None:
        self.name = f"hospital_test_{uuid.uuid4().hex[:8]}"
        self._server = None
        base = os.environ.get("TEST_DATABASE_URL")
        if base:
            self.admin_url = base.replace("postgresql+psycopg2://", "postgresql://")
            self.kind = "external"
        else:
            from app.database.embedded import start_embedded_server

            self._tmp = tempfile.mkdtemp(prefix="hospital-test-pg-")
            self._server = start_embedded_server(os.path.join(self._tmp, "pgdata"),
                                                 delete_on_exit=True)
            self.admin_url = self._server.get_uri()
            self.kind = "embedded"
        self._execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        self.url = normalize_database_url(_with_database(self.admin_url, self.name))
        self.libpq_url = self.url.replace("postgresql+psycopg2://", "postgresql://")

    def _execute(self, statement) -> None:
        conn = psycopg2.connect(self.admin_url)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(statement)
        finally:
            conn.close()

    def drop(self) -> None:
        """Drop the database (and stop an embedded server)."""
        try:
            self._execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(self.name)))
        finally:
            if self._server is not None:
                self._server.cleanup()
