"""A per-process cache of callers' rows (rights and token version).

Every authenticated request needs its caller's `users` row: to refuse a revoked token
(logout and password changes bump `token_version`) and to read admin and doctor rights.
Reading it on every request was the largest remaining cost of a cached catalogue read, so
each process keeps the rows it read, for at most AUTH_CACHE_SECONDS (0 turns this off).

An entry is only used while the `callers` generation it was read under is current
(app/database/generations.py): a committed change to `users`, by anyone, bumps it. So a
change made through this process takes effect on its very next request, and a change made
elsewhere (another process, SQL by hand) within CACHE_SYNC_SECONDS.
"""
from __future__ import annotations

import threading
import time
from typing import Any

from flask import current_app

EXTENSION_KEY = "caller_cache"


class CallerCache:
    """user id -> (row, generation, expiry); bounded in size."""

    def __init__(self, ttl: float, size: int = 10000) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: dict[int, tuple[Any, int, float]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """Whether rows are kept at all."""
        return self.ttl > 0

    def get(self, user_id: int, generation: int) -> Any | None:
        """The row while it is fresh and was read under `generation`, else None."""
        entry = self._entries.get(user_id)
        if entry is None or entry[1] != generation or entry[2] < time.monotonic():
            return None
        return entry[0]

    def put(self, user_id: int, row: Any, generation: int) -> None:
        """Keep a row read from the database after `generation` was read."""
        if not self.enabled:
            return
        with self._lock:  # evicting iterates the dict: not while another thread inserts
            while len(self._entries) >= self.size:
                self._entries.pop(next(iter(self._entries)), None)
            self._entries[user_id] = (row, generation, time.monotonic() + self.ttl)

    def clear(self) -> None:
        """Forget every row."""
        with self._lock:
            self._entries.clear()


def init_caller_cache(app) -> CallerCache:
    """Create the app's cache from AUTH_CACHE_SECONDS."""
    cache = CallerCache(float(app.config["AUTH_CACHE_SECONDS"]))
    app.extensions[EXTENSION_KEY] = cache
    return cache


def caller_cache() -> CallerCache:
    """The current app's cache."""
    return current_app.extensions[EXTENSION_KEY]
