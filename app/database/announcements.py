"""Telling the other processes at once what this one changed (Redis pub/sub).

The database's generations reach every process within CACHE_SYNC_SECONDS. So that no process
serves a stale answer in the meantime — a revoked token, lost admin rights, an old catalogue,
an old `available_slots` — the process that served a write also publishes the scopes it may
have changed (`callers`, `catalogue`, `slots`) on Redis before its response leaves. Every
process checks its subscription whenever it consults the generations (a non-blocking read of
its own socket: no round trip) and reads the generations afresh, before it next needs one of
those scopes. A booking announces only `slots`, so other processes' caller lookups stay free.

Without REDIS_URL nothing is announced (a single process needs no announcements). While Redis
fails, the generations' CACHE_SYNC_SECONDS bound still holds.
"""
from __future__ import annotations

import threading
import uuid

import redis
from redis.exceptions import RedisError

from app.web.redis_bounds import RedisBreaker, redis_client_options


class Announcements:
    """A Redis channel shared by the processes of one deployment."""

    def __init__(self, config) -> None:
        self.client = redis.Redis.from_url(config["REDIS_URL"], **redis_client_options(config))
        self.channel = f"{config['REDIS_KEY_PREFIX']}-changes"
        self.origin = uuid.uuid4().hex.encode()
        self.breaker = RedisBreaker(float(config["REDIS_RETRY_SECONDS"]))
        self._pubsub = None
        self._lock = threading.Lock()

    def publish(self, scopes: tuple[str, ...]) -> None:
        """Tell the other processes that this one changed `scopes`."""
        if not self.breaker.closed:
            return
        try:
            self.client.publish(self.channel, self.origin + b" " + " ".join(scopes).encode())
        except (RedisError, OSError):
            self.breaker.failed("announce")

    def heard(self, every: tuple[str, ...]) -> set[str]:
        """The scopes other processes announced changes to since the last call.

        `every` is what to assume when announcements may have been missed.
        """
        if not self.breaker.closed:
            return set()
        with self._lock:
            try:
                heard: set[str] = set()
                if self._pubsub is None:
                    self._pubsub = self.client.pubsub(ignore_subscribe_messages=True)
                    self._pubsub.subscribe(self.channel)
                    heard.update(every)  # announcements made while not subscribed were missed
                while (message := self._pubsub.get_message(timeout=0.0)) is not None:
                    origin, _, scopes = bytes(message.get("data") or b"").partition(b" ")
                    if origin != self.origin:
                        heard.update(scopes.decode().split())
                return heard
            except (RedisError, OSError):
                self._close()
                self.breaker.failed("subscription")
                return set(every)

    def _close(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                pubsub.close()
            except (RedisError, OSError):
                pass
