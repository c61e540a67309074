"""A Redis that accepts connections but never answers costs each request little: every
Redis call has a short deadline, the response cache leaves a failing Redis alone for a
while, and the rate limits fall back to memory."""
from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.assertions import assert_error
from tests.conftest import build_app, rolled_back_transaction
from tests.factories import Factory


class SilentRedis:
    """A TCP server that accepts every connection, reads, and never answers."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(128)
        self.port = self.server.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.connections.append(connection)  # kept open, never answered

    def close(self) -> None:
        self.stopped = True
        self.server.close()
        for connection in self.connections:
            connection.close()


@pytest.fixture()
def silent_redis():
    server = SilentRedis()
    yield f"redis://127.0.0.1:{server.port}/0"
    server.close()


@pytest.fixture()
def hung(test_database, app, silent_redis, monkeypatch):
    from app.web.ratelimit import limiter

    monkeypatch.setattr(limiter, "enabled", limiter.enabled)
    started = time.monotonic()
    hung_app = build_app(test_database, REDIS_URL=silent_redis, RATELIMIT_ENABLED=True,
                         CACHE_ENABLED=True, REDIS_TIMEOUT_SECONDS=0.2,
                         REDIS_RETRY_SECONDS=30)
    assert time.monotonic() - started < 3
    with rolled_back_transaction(hung_app):
        yield hung_app


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_logins_stay_fast_and_limited_with_a_hung_redis(hung):
    client = hung.test_client()
    attempt = {"username": "ghost", "password": "wrong-password"}
    durations = []
    for _ in range(10):
        r, seconds = timed(lambda: client.post("/users/login", json=attempt))
        assert_error(r, 401, "invalid_credentials")
        durations.append(seconds)
    assert durations[0] < 2.0, durations  # a few calls hit the deadline, then memory
    assert max(durations[1:]) < 0.5, durations
    # The limits still hold, counted in memory.
    assert_error(client.post("/users/login", json=attempt), 429, "rate_limited")


def test_cached_reads_stay_fast_with_a_hung_redis(hung):
    factory = Factory(hung)
    user = factory.user()
    factory.department(name="眼科")
    headers = factory.headers(user)
    client = hung.test_client()
    durations = []
    for _ in range(5):
        r, seconds = timed(lambda: client.get("/departments/", headers=headers))
        assert r.status_code == 200 and r.get_json()["count"] == 1
        assert "X-Cache" not in r.headers  # served from the database
        durations.append(seconds)
    assert durations[0] < 1.0, durations  # one deadline at most
    assert max(durations[1:]) < 0.3, durations  # the breaker is open: Redis not called
