"""Dependency checks for /health."""
from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from app.database.autocommit import Statement, run_alone

log = logging.getLogger(__name__)


PING = Statement("SELECT 1")


def database_ok() -> bool:
    """True when a trivial query succeeds (one autocommit round trip, no transaction)."""
    try:
        run_alone(PING, {})
        return True
    except SQLAlchemyError:
        log.warning("health check: database unavailable")
        return False
