"""One statement as its own transaction, outside the request's ORM session.

For the hottest paths of the service — the caller lookup of an authenticated request, a
booking, and reading the cache generations — a single statement does the whole job. Run in
autocommit it is its own transaction: one round trip, with no BEGIN, COMMIT or ROLLBACK
around it and no ORM session. Every other database access goes through the ORM session.

The statement runs on a connection of the app's one pool (``db.engine``), switched to
autocommit for the call through SQLAlchemy's public execution options; the pool resets it on
return. The bind can be replaced through ``app.extensions[BIND_KEY]`` — the test suite puts
its per-test transaction there.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app
from sqlalchemy import Row, TextClause, text

from app.extensions import db

BIND_KEY = "autocommit_bind"


def autocommit_bind():
    """What autocommit statements run on: the app's engine in autocommit mode."""
    extensions = current_app.extensions
    bind = extensions.get(BIND_KEY)
    if bind is None:
        bind = db.engine.execution_options(isolation_level="AUTOCOMMIT")
        extensions[BIND_KEY] = bind
    return bind


def run_alone(statement: TextClause | str, params: Mapping[str, Any]) -> Row | None:
    """Run one statement in its own transaction and return its first row (or None).

    Errors arrive as SQLAlchemy's exceptions (IntegrityError, OperationalError, ...), as
    from the ORM, so the usual error mapping applies.
    """
    if isinstance(statement, str):
        statement = text(statement)
    with autocommit_bind().connect() as connection:
        return connection.execute(statement, dict(params)).first()
