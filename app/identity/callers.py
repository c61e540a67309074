"""A short-lived, per-process cache of callers' rows (rights and token version).

Every authenticated request needs its caller's `users` row: to refuse a revoked token
(logout and password changes bump `token_version`) and to read admin and doctor rights.
Reading it from the database on every request was the largest remaining cost of a cached
catalogue read, so each process keeps the rows it read for AUTH_CACHE_SECONDS (default 2;
0 turns the cache off).

What this means for revocation and rights:

* A change made through the service takes effect on the very next request served by the
  same process: the commit (and already the flush) that changes a user, deletes a doctor or
  runs a bulk statement on either table drops the affected rows from this process's cache.
* A change made elsewhere — another process serving the same database, or SQL run by hand
  — is seen by this process within AUTH_CACHE_SECONDS.

A row read while a change was being committed is not stored (an invalidation counter is
compared before and after the read), so a stale row cannot outlive the invalidation that
should have removed it.
"""
from __future__ import annotations

import threading
import time
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.database.statements import writes_to
from app.models import Doctor, User

EXTENSION_KEY = "caller_cache"
CHANGED_KEY = "callers_changed"
ALL = "all"
WATCHED_TABLES = frozenset({User.__table__.name, Doctor.__table__.name})


class CallerCache:
    """user id -> row, each entry valid for `ttl` seconds; bounded in size."""

    def __init__(self, ttl: float, size: int = 10000) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: dict[int, tuple[Any, float]] = {}
        self._epoch = 0
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """Whether rows are kept at all."""
        return self.ttl > 0

    def epoch(self) -> int:
        """Take before reading a row from the database; hand back to put()."""
        return self._epoch

    def get(self, user_id: int) -> Any | None:
        """The row while it is fresh, else None."""
        entry = self._entries.get(user_id)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, user_id: int, row: Any, epoch: int) -> None:
        """Keep a row read from the database, unless anything was invalidated meanwhile."""
        if not self.enabled:
            return
        with self._lock:
            if epoch != self._epoch:
                return
            while len(self._entries) >= self.size:
                self._entries.pop(next(iter(self._entries)), None)
            self._entries[user_id] = (row, time.monotonic() + self.ttl)

    def invalidate(self, user_ids: Any = ALL) -> None:
        """Forget some rows (an iterable of ids) or all of them (ALL)."""
        with self._lock:
            self._epoch += 1
            if user_ids == ALL:
                self._entries.clear()
            else:
                for user_id in user_ids:
                    self._entries.pop(user_id, None)


def init_caller_cache(app) -> CallerCache:
    """Create the app's cache from AUTH_CACHE_SECONDS."""
    cache = CallerCache(float(app.config["AUTH_CACHE_SECONDS"]))
    app.extensions[EXTENSION_KEY] = cache
    return cache


def caller_cache() -> CallerCache | None:
    """The current app's cache (None outside an app context)."""
    if not has_app_context():
        return None
    return current_app.extensions.get(EXTENSION_KEY)


def _note(session: Session, changed: Any) -> None:
    """Record what a session changed and drop it from the cache right away."""
    noted = session.info.get(CHANGED_KEY)
    if changed == ALL or noted == ALL:
        session.info[CHANGED_KEY] = ALL
    else:
        session.info[CHANGED_KEY] = (noted or set()) | set(changed)
    cache = caller_cache()
    if cache is not None:
        cache.invalidate(changed)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context) -> None:
    if any(isinstance(obj, Doctor) for obj in session.deleted):
        _note(session, ALL)  # users.doctor_id is set to NULL by the database
        return
    changed = {obj.id for obj in (*session.dirty, *session.deleted)
               if isinstance(obj, User) and obj.id is not None}
    if changed:
        _note(session, changed)


@event.listens_for(Session, "do_orm_execute")
def _bulk_statement(state) -> None:
    if writes_to(state, WATCHED_TABLES):
        _note(state.session, ALL)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _after_end(session: Session) -> None:
    # Again at the end: a row read between the flush and the commit held the old values.
    changed = session.info.pop(CHANGED_KEY, None)
    if changed:
        cache = caller_cache()
        if cache is not None:
            cache.invalidate(changed)
