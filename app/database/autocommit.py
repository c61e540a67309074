"""Single SQL statements run straight on the driver, outside the request's ORM session.

For the two hottest paths of the service — the caller lookup every authenticated request
makes, and a booking — one statement does the whole job. Run on a connection in autocommit
mode it is its own transaction: one round trip, with no BEGIN, COMMIT or ROLLBACK around it
and none of the ORM's per-statement work.

The autocommit connections come from a second engine with its own pool (same URL and
options as the app's engine). Where the app is bound to a connection instead of an engine —
the test suite runs each test inside one transaction that is rolled back — the statement
runs on that connection, so it sees and is undone with the test's data. A write there first
commits the session (which only releases the session's savepoint), so that a later rollback
of the session cannot undo what, on an engine, would already be committed.
"""
from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from flask import current_app
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.exc import DBAPIError

from app.extensions import db

_engine_lock = threading.Lock()
EXTENSION_KEY = "autocommit_engine"


def autocommit_engine(engine: Engine) -> Engine:
    """The app's engine for autocommit statements, created on first use."""
    app = current_app._get_current_object()
    direct = app.extensions.get(EXTENSION_KEY)
    if direct is None or direct.url != engine.url:
        with _engine_lock:
            direct = app.extensions.get(EXTENSION_KEY)
            if direct is None or direct.url != engine.url:
                options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
                options["isolation_level"] = "AUTOCOMMIT"
                options["pool_reset_on_return"] = None  # never inside a transaction
                direct = create_engine(engine.url, **options)
                app.extensions[EXTENSION_KEY] = direct
    return direct


def fetch_one(sql: str, params: Mapping[str, Any], *, writes: bool = False) -> tuple | None:
    """Run one statement (driver paramstyle: ``%(name)s``) and return its first row.

    Errors arrive as SQLAlchemy's exceptions (IntegrityError, OperationalError, ...), as
    from the ORM, so the usual error mapping applies.
    """
    bind = db.engine
    if isinstance(bind, Engine):
        return _fetch_on_engine(autocommit_engine(bind), sql, params)
    return _fetch_on_connection(bind, sql, params, writes)


def _fetch_on_engine(engine: Engine, sql: str, params: Mapping[str, Any]) -> tuple | None:
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
            return cursor.fetchone()
        finally:
            cursor.close()
    except dbapi.Error as exc:
        lost = isinstance(exc, dbapi.InterfaceError) or \
            engine.dialect.is_disconnect(exc, connection.dbapi_connection, None)
        if lost:
            # As SQLAlchemy does for its own connections: the database probably restarted, so
            # drop this connection and every idle one; the next requests reconnect.
            connection.invalidate(exc)
            engine.dispose()
        raise DBAPIError.instance(sql, dict(params), exc, dbapi.Error,
                                  connection_invalidated=lost, dialect=engine.dialect) from exc
    finally:
        connection.close()  # back to the pool


def _fetch_on_connection(connection: Connection, sql: str, params: Mapping[str, Any],
                         writes: bool) -> tuple | None:
    if not writes:
        return connection.exec_driver_sql(sql, dict(params)).first()
    db.session.commit()
    with connection.begin_nested():
        return connection.exec_driver_sql(sql, dict(params)).first()
