"""What the database says has changed: the generations that key this process's caches.

Statement-level triggers (migration 0004) bump counters in ``cache_generations`` inside every
transaction that writes a watched table, whoever writes: the API, ``seed.py``,
``manage.py``, another process, a PL/pgSQL function or psql. The counters are read only as
committed, so a sum that changed means a committed write. Scopes:

* ``catalogue`` — departments, doctors, affiliations, and schedules except their counters;
* ``slots`` — the counters behind ``available_slots`` (bookings, cancellations, ...);
* ``callers`` — users (rights, token versions, doctor links).

A process reads the sums at most every ``CACHE_SYNC_SECONDS`` (one autocommit statement,
made by the request that finds the last reading too old), and at once after it served a
write itself. So a change made through this process shows on its very next request, and any
other committed change within ``CACHE_SYNC_SECONDS``. A reader takes the generations before
it reads the data it caches, so data can only be stored under a generation at least as old
as itself: never stale data under a new generation.
"""
from __future__ import annotations

import logging
import threading
import time

from flask import current_app, has_request_context, request
from sqlalchemy.exc import SQLAlchemyError

from app.database.announcements import Announcements
from app.database.autocommit import Statement, run_alone

log = logging.getLogger(__name__)
EXTENSION_KEY = "generations"
SCOPES = ("epoch", "catalogue", "slots", "callers")
READ_SQL = Statement(
    "SELECT " + ", ".join(
        f"COALESCE(sum(generation) FILTER (WHERE scope = '{scope}'), -1)::bigint"
        for scope in SCOPES)
    + " FROM cache_generations"
)


CHANGING = ("catalogue", "slots", "callers")  # the scopes a write can move
HEARD_KEY = "hospital.announcements_heard"  # in the request's environ


class Generations:
    """This process's last reading of the generations, refreshed when due.

    A reading is due after CACHE_SYNC_SECONDS, or when this process served a write to a
    scope the caller needs: a booking (scope `slots`) makes the next cached schedule read
    look again, but not the next caller lookup (scope `callers`).
    """

    def __init__(self, interval: float, announcements: Announcements | None = None) -> None:
        self.interval = interval
        self.announcements = announcements
        self._values: dict[str, int] | None = None
        self._read_at = float("-inf")
        self._writes = dict.fromkeys(CHANGING, 0)  # writes served by this process, per scope
        self._writes_seen = dict.fromkeys(CHANGING, 0)  # ... when the last reading started
        self._lock = threading.Lock()

    def note_write(self, scopes: tuple[str, ...] = CHANGING) -> None:
        """This process served a write to `scopes`: read again before they are next used."""
        for scope in scopes:
            self._writes[scope] += 1

    def _note_heard(self, scopes: tuple[str, ...]) -> None:
        self.note_write(tuple(scope for scope in scopes if scope in self._writes))

    def announce(self, scopes: tuple[str, ...] = CHANGING) -> None:
        """This process served a write to `scopes`; tell the other processes too."""
        self.note_write(scopes)
        if self.announcements is not None:
            self.announcements.publish(scopes)

    def _listen(self) -> None:
        """Read the announcements: once per request (its caller lookup and its cache then
        judge by the same reading), on every call outside one."""
        if self.announcements is None:
            return
        if has_request_context():
            if request.environ.get(HEARD_KEY):
                return
            request.environ[HEARD_KEY] = True
        self.announcements.heard(CHANGING, self._note_heard)

    def _due(self, needed: tuple[str, ...]) -> bool:
        return (any(self._writes[scope] != self._writes_seen[scope] for scope in needed)
                or time.monotonic() - self._read_at >= self.interval)

    def current(self, needed: tuple[str, ...] = CHANGING) -> dict[str, int] | None:
        """The generations, fresh for the scopes `needed`; None when they cannot be read
        (then caches step aside)."""
        self._listen()
        if not self._due(needed):
            return self._values
        with self._lock:
            if not self._due(needed):  # another thread read them meanwhile
                return self._values
            started, writes = time.monotonic(), dict(self._writes)
            try:
                row = run_alone(READ_SQL, {})
            except SQLAlchemyError:
                log.warning("cannot read cache generations; caches bypassed", exc_info=True)
                self._values = None
                return None
            values = dict(zip(SCOPES, row, strict=True))
            # A scope without rows (the table was emptied by hand) cannot say what changed.
            self._values = None if min(values.values()) < 0 else values
            self._read_at, self._writes_seen = started, writes
            return self._values

    def settled(self, scope: str) -> bool:
        """Whether the last reading still holds for `scope`: no write to it served or heard
        since, and read less than CACHE_SYNC_SECONDS ago (call after current())."""
        return (self._values is not None and self._writes[scope] == self._writes_seen[scope]
                and time.monotonic() - self._read_at < self.interval)

    def forget(self) -> None:
        """Read again on the next call (used when a test rolls back its writes)."""
        with self._lock:
            self._values = None
            self._read_at = float("-inf")


def init_generations(app) -> Generations:
    """Create the app's generations from CACHE_SYNC_SECONDS."""
    announcements = Announcements(app.config) if app.config.get("REDIS_URL") else None
    generations = Generations(float(app.config["CACHE_SYNC_SECONDS"]), announcements)
    app.extensions[EXTENSION_KEY] = generations
    return generations


def generations() -> Generations:
    """The current app's generations."""
    return current_app.extensions[EXTENSION_KEY]
