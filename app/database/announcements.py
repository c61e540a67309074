"""Telling the other processes at once what this one changed (counters in Redis).

The database's generations reach every process within CACHE_SYNC_SECONDS. So that no process
serves a stale answer in the meantime — a revoked token, lost admin rights, an old catalogue,
an old `available_slots` — the process that served a write also counts it, per scope it may
have changed (`callers`, `catalogue`, `slots`), in one Redis hash before its response leaves
(one HINCRBY per scope, pipelined: one round trip). Every process reads the hash when a
request first consults the generations (one HGETALL per request) and reads the generations
afresh before it next needs a scope whose counter moved. A booking counts only `slots`, so
other processes' caller lookups stay free.

Counters, not pub/sub messages: an increment is done before the writer answers, so a request
that starts after that answer — in any process — reads it. A published message reaches the
subscribers' sockets some time after the publisher's reply, so under load the very next
request in another process could miss it (a logout through one process was seen accepted by
another).

Without REDIS_URL nothing is announced (a single process needs no announcements). While Redis
fails, the generations' CACHE_SYNC_SECONDS bound still holds.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

import redis
from redis.exceptions import RedisError

from app.web.redis_bounds import RedisBreaker, redis_client_options


class Announcements:
    """A Redis hash of write counters shared by the processes of one deployment."""

    def __init__(self, config) -> None:
        self.client = redis.Redis.from_url(config["REDIS_URL"], **redis_client_options(config))
        self.key = f"{config['REDIS_KEY_PREFIX']}-writes"
        self.breaker = RedisBreaker(float(config["REDIS_RETRY_SECONDS"]))
        self._seen: dict[bytes, bytes] | None = None  # None: nothing read yet
        self._lock = threading.Lock()

    def publish(self, scopes: tuple[str, ...]) -> None:
        """Count a write to `scopes` (done before this process answers the write)."""
        if not self.breaker.closed:
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            for scope in scopes:
                pipe.hincrby(self.key, scope, 1)
            pipe.execute()
        except (RedisError, OSError):
            self.breaker.failed("announce")

    def heard(self, every: tuple[str, ...], note: Callable[[tuple[str, ...]], None]) -> None:
        """Call `note` with the scopes whose counters moved since the last reading (this
        process's own writes included; it has noted those already).

        `note` runs under this object's lock, so a thread that finds nothing new knows that
        whoever found it first has noted it already. `every` is what to assume when writes
        may have been missed: on the first reading and after Redis failed.
        """
        if not self.breaker.closed:
            with self._lock:
                self._seen = None  # counted meanwhile without us: assume everything moved
            return
        try:
            counters = self.client.hgetall(self.key)
        except (RedisError, OSError):
            self.breaker.failed("announcements")
            with self._lock:
                self._seen = None
                note(every)
            return
        with self._lock:
            seen, self._seen = self._seen, counters
            if seen is None:
                note(every)
                return
            moved = tuple(scope.decode() for scope, value in counters.items()
                          if seen.get(scope) != value)
            if moved:
                note(moved)
