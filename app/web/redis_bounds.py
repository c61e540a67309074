"""Bounded use of Redis: every call has a deadline, and a Redis that keeps failing is left
alone for a while.

Redis serves the shared rate limits and the shared response cache; neither is worth waiting
for. A Redis that accepts connections but never answers would otherwise hold each request
for redis-py's default timeouts and retries (seconds). So every client gets connect and
socket timeouts of REDIS_TIMEOUT_SECONDS and no retries, and after a failure:

* the response cache skips Redis for REDIS_RETRY_SECONDS (reads go to the database), via
  `RedisBreaker` below;
* the rate limits fall back to per-process memory — Flask-Limiter's own in-memory fallback,
  which probes the storage again with exponential backoff.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)


def redis_client_options(config) -> dict[str, Any]:
    """Keyword arguments for redis.from_url: short timeouts, no retries."""
    timeout = float(config["REDIS_TIMEOUT_SECONDS"])
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
        "health_check_interval": 0,
    }


class RedisBreaker:
    """Open for `pause` seconds after a failure: callers skip Redis meanwhile."""

    def __init__(self, pause: float) -> None:
        self.pause = pause
        self._open_until = 0.0
        self._lock = threading.Lock()

    @property
    def closed(self) -> bool:
        """Whether Redis may be called now."""
        return time.monotonic() >= self._open_until

    def failed(self, what: str) -> None:
        """Record a failure: stop calling Redis for a while."""
        with self._lock:
            was_closed = self.closed
            self._open_until = time.monotonic() + self.pause
        if was_closed:
            log.warning("Redis failed (%s); not used for %.1f s", what, self.pause,
                        exc_info=True)
