"""One statement as its own transaction, outside the request's ORM session.

For the hottest paths of the service — the caller lookup of an authenticated request, a
booking, reading the cache generations and /health — a single statement does the whole job.
Run in autocommit it is its own transaction: one round trip, with no BEGIN, COMMIT or
ROLLBACK around it and no ORM session. Every other database access goes through the ORM
session.

The statements run on a second engine of the same URL and options whose connections are in
autocommit mode from the moment they connect (`isolation_level="AUTOCOMMIT"` on the engine):
switching connections of the ORM's pool back and forth costs a round trip on every return
(psycopg2 sends the isolation level again), which measured as 30% of a booking's CPU. So each
process has two pools; the README's sizing counts both. A statement goes straight to a pooled
driver connection's cursor (SQLAlchemy's `Engine.raw_connection()`), without building a Core
result — on a booking that is a tenth of the server's CPU; errors are turned into SQLAlchemy's
exceptions, and a lost connection empties the pool, as SQLAlchemy does for its own.

`app.extensions[BIND_KEY]` holds the object that runs them (anything with `fetch_first`);
the test suite puts one there that runs them inside its per-test transaction.
"""
from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from flask import current_app
from sqlalchemy import Engine, TextClause, create_engine, text
from sqlalchemy.dialects.postgresql import psycopg2
from sqlalchemy.exc import DBAPIError

from app.extensions import db

BIND_KEY = "autocommit_bind"
_create_lock = threading.Lock()


class Statement:
    """A statement written once with `:name` parameters, usable both ways.

    `clause` runs through the ORM session (inside a transaction); `driver_sql` is the same
    text in the driver's own parameter style, which run_alone() hands to the driver as is.
    """

    def __init__(self, sql: str) -> None:
        self.clause: TextClause = text(sql)
        self.driver_sql: str = str(self.clause.compile(dialect=psycopg2.dialect()))


class AutocommitEngine:
    """Runs single statements on pooled connections that stay in autocommit mode."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def fetch_first(self, sql: str, params: Mapping[str, Any]) -> tuple | None:
        """Run `sql` (driver parameter style) and return its first row (or None)."""
        engine = self.engine
        dbapi = engine.dialect.loaded_dbapi
        try:
            connection = engine.raw_connection()
        except dbapi.Error as exc:  # the pool hands out the driver's own connect errors
            raise DBAPIError.instance(None, None, exc, dbapi.Error, connection_invalidated=True,
                                      dialect=engine.dialect) from exc
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, params)
                return cursor.fetchone() if cursor.description is not None else None
            finally:
                cursor.close()
        except dbapi.Error as exc:
            lost = isinstance(exc, dbapi.InterfaceError) or engine.dialect.is_disconnect(
                exc, connection.dbapi_connection, None)
            if lost:
                # The database probably restarted: drop this connection and the idle ones.
                connection.invalidate(exc)
                engine.dispose()
            raise DBAPIError.instance(sql, dict(params), exc, dbapi.Error,
                                      connection_invalidated=lost,
                                      dialect=engine.dialect) from exc
        finally:
            connection.close()  # back to the pool


def autocommit_bind():
    """What autocommit statements run on (made on first use)."""
    extensions = current_app.extensions
    bind = extensions.get(BIND_KEY)
    if bind is None:
        with _create_lock:
            bind = extensions.get(BIND_KEY)
            if bind is None:
                options = dict(current_app.config["SQLALCHEMY_ENGINE_OPTIONS"])
                options["isolation_level"] = "AUTOCOMMIT"
                options["pool_reset_on_return"] = None  # never inside a transaction
                bind = AutocommitEngine(create_engine(db.engine.url, **options))
                extensions[BIND_KEY] = bind
    return bind


def run_alone(statement: Statement, params: Mapping[str, Any]) -> tuple | None:
    """Run one statement in its own transaction and return its first row (or None).

    Errors arrive as SQLAlchemy's exceptions (IntegrityError, OperationalError, ...), as
    from the ORM, so the usual error mapping applies.
    """
    return autocommit_bind().fetch_first(statement.driver_sql, params)
