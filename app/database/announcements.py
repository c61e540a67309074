"""Telling the other processes at once that this one changed something (Redis pub/sub).

The database's generations reach every process within CACHE_SYNC_SECONDS. For the changes
whose delay matters — accounts (logout, password changes, admin rights, deletion) and the
catalogue — the process that served the write also publishes a message on Redis before its
response leaves. Every process checks its subscription whenever it consults the generations
(a non-blocking read of its own socket: no round trip) and reads the generations afresh when
another process announced a change. So a token revoked through one process is refused by
every process from the next request on.

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

    def publish(self) -> None:
        """Tell the other processes that this one changed something."""
        if not self.breaker.closed:
            return
        try:
            self.client.publish(self.channel, self.origin)
        except (RedisError, OSError):
            self.breaker.failed("announce")

    def heard(self) -> bool:
        """Whether another process announced a change since the last call."""
        if not self.breaker.closed:
            return False
        with self._lock:
            try:
                heard = False
                if self._pubsub is None:
                    self._pubsub = self.client.pubsub(ignore_subscribe_messages=True)
                    self._pubsub.subscribe(self.channel)
                    heard = True  # announcements made while not subscribed were missed
                while (message := self._pubsub.get_message(timeout=0.0)) is not None:
                    heard = heard or message.get("data") != self.origin
                return heard
            except (RedisError, OSError):
                self._close()
                self.breaker.failed("subscription")
                return True

    def _close(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                pubsub.close()
            except (RedisError, OSError):
                pass
