"""A burst of slow, expensive requests cannot starve the process: the excess is answered 503
`server_busy` at once (its thread freed), and /health answers within a second meanwhile."""
from __future__ import annotations

import threading
import time
from collections import Counter

from sqlalchemy import text

from app.extensions import db
from app.services import registrations as registration_service
from tests.api.test_booking_concurrency import http
from tests.assertions import assert_error, wire_response
from tests.conftest import serving

SLOW_SECONDS = 1.5


def test_slow_searches_cannot_starve_health(app, committing_db, monkeypatch):
    factory = committing_db
    admin = factory.admin()
    headers = factory.headers(admin)
    db.session.close()
    original = registration_service.search_registrations

    def slow_search(actor, params):
        db.session.execute(text("SELECT pg_sleep(:s)"), {"s": SLOW_SECONDS})
        return original(actor, params)

    monkeypatch.setattr(registration_service, "search_registrations", slow_search)
    monkeypatch.setitem(app.config, "REQUEST_TIMEOUT_SECONDS", 30.0)
    with serving(app, threads=4) as base:
        replies, health = [], []

        def search():
            replies.append(http(base, "POST", "/registrations/search", headers,
                                {"query": "王"}))

        searchers = [threading.Thread(target=search) for _ in range(30)]
        for thread in searchers:
            thread.start()
        time.sleep(0.3)  # the burst is in
        for _ in range(5):
            started = time.monotonic()
            reply = http(base, "GET", "/health")
            health.append((reply.status, reply.body, time.monotonic() - started))
            time.sleep(0.1)
        for thread in searchers:
            thread.join(timeout=60)

    assert all(status == 200 and body == {"status": "ok", "database": "ok"}
               for status, body, _ in health), health
    assert max(seconds for _, _, seconds in health) < 1.0, health
    statuses = Counter(r.status for r in replies)
    assert set(statuses) <= {200, 503} and statuses[200] >= 2, statuses
    busy = [r for r in replies if r.status == 503]
    assert busy
    for reply in busy:
        assert_error(wire_response(reply.status, reply.body, reply.headers), 503,
                     "server_busy")
        assert reply.headers["Retry-After"] == "1"


def test_a_request_queued_past_its_deadline_is_not_served(app, client, db_session,
                                                          monkeypatch, factory):
    """Behind a proxy, X-Request-Start says when the request arrived: time spent queueing
    counts against REQUEST_TIMEOUT_SECONDS."""
    monkeypatch.setitem(app.config, "PROXY_FIX_COUNT", 1)
    headers = factory.headers(factory.user())
    stale = {**headers, "X-Request-Start": f"t={time.time() - 60:.3f}"}
    assert_error(client.get("/users/me", headers=stale), 503, "request_timeout")
    fresh = {**headers, "X-Request-Start": f"t={time.time():.3f}"}
    assert client.get("/users/me", headers=fresh).status_code == 200
    assert client.get("/health", headers=stale).status_code == 200  # never refused


def test_no_statement_starts_after_the_deadline(app, client, db_session, monkeypatch, factory):
    headers = factory.headers(factory.admin())
    monkeypatch.setitem(app.config, "REQUEST_TIMEOUT_SECONDS", 0.5)
    original = registration_service.search_registrations

    def slow_then_query(actor, params):
        db.session.execute(text("SELECT pg_sleep(0.8)"))
        return original(actor, params)  # its statements would start after the deadline

    monkeypatch.setattr(registration_service, "search_registrations", slow_then_query)
    r = client.post("/registrations/search", headers=headers, json={"query": "x"})
    assert_error(r, 503, "request_timeout")
