"""Dependency checks for /health."""
from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db

log = logging.getLogger(__name__)


def database_ok() -> bool:
    """True when a trivial query succeeds within the statement timeout."""
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
        return True
    except SQLAlchemyError:
        log.warning("health check: database unavailable")
        db.session.rollback()
        return False
