"""Bounded cost per request: a deadline, and a cap on expensive requests in flight.

A process has a fixed number of threads (waitress) and connections (the pool). Without
bounds, a burst of slow requests — broad admin searches over a million registrations — holds
every thread, and everything else, /health included, queues behind them while no single
statement is slow enough for DB_STATEMENT_TIMEOUT_MS. So:

* **Expensive requests** (searches and statistics) run at most EXPENSIVE_CONCURRENCY at a
  time per process. One that finds no free place within EXPENSIVE_WAIT_SECONDS is answered
  503 `server_busy` with `Retry-After` at once, which gives its thread back.
* **A deadline per request**: REQUEST_TIMEOUT_SECONDS from when the request reached the
  service — the proxy's `X-Request-Start` when behind a trusted proxy, so time spent queueing
  counts — covers waiting for a thread, for a pooled connection and for earlier statements. A
  request past its deadline starts no further statement: it is answered 503
  `request_timeout`. Each statement is still bounded by DB_STATEMENT_TIMEOUT_MS, so a
  request's database time never exceeds the deadline plus one statement.
* `/health` is exempt from both, so it answers while the service is saturated.
"""
from __future__ import annotations

import re
import threading
import time

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import event

from app.errors import ServiceUnavailable
from app.extensions import db

EXPENSIVE_PATH = re.compile(r"^/.*/search/?$|^/registrations/stats/?$|^/stats/overview/?$")
EXEMPT_PATHS = frozenset({"/health", "/health/"})
SLOTS_KEY = "expensive_slots"


def busy() -> ServiceUnavailable:
    """503 server_busy (the client may retry shortly)."""
    return ServiceUnavailable("The service is busy with other expensive requests; retry "
                              "shortly", "server_busy", headers={"Retry-After": "1"})


def request_started_at() -> float:
    """When the request reached the service (epoch seconds).

    Behind a trusted proxy (PROXY_FIX_COUNT > 0) nginx's `X-Request-Start: t=<seconds>`
    says when it arrived there; otherwise it is when a thread picked it up.
    """
    now = time.time()
    if current_app.config["PROXY_FIX_COUNT"]:
        raw = request.headers.get("X-Request-Start", "")
        try:
            started = float(raw[2:] if raw.startswith("t=") else raw)
        except ValueError:
            return now
        if now - 3600 < started <= now:
            return started
    return now


def init_load_limits(app: Flask) -> None:
    """Register the deadline, the cap on expensive requests and the statement check."""
    app.extensions[SLOTS_KEY] = threading.BoundedSemaphore(
        max(1, int(app.config["EXPENSIVE_CONCURRENCY"])))
    with app.app_context():
        watch_statements(db.engine)

    @app.before_request
    def _bound_the_request() -> None:
        if request.path in EXEMPT_PATHS:
            return
        config = current_app.config
        g.deadline = request_started_at() + float(config["REQUEST_TIMEOUT_SECONDS"])
        if time.time() > g.deadline:
            raise ServiceUnavailable("The request waited too long before it could be served",
                                     "request_timeout", headers={"Retry-After": "1"})
        if EXPENSIVE_PATH.match(request.path):
            slots = current_app.extensions[SLOTS_KEY]
            if not slots.acquire(timeout=float(config["EXPENSIVE_WAIT_SECONDS"])):
                raise busy()
            g.expensive_slot = slots

    @app.teardown_request
    def _release(_exc) -> None:
        slots = g.pop("expensive_slot", None)
        if slots is not None:
            slots.release()


def check_deadline(conn, cursor, statement, parameters, context, executemany) -> None:
    """Engine hook: a request past its deadline starts no further statement."""
    if has_request_context():
        deadline = g.get("deadline")
        if deadline is not None and time.time() > deadline:
            raise ServiceUnavailable("The request ran out of time", "request_timeout",
                                     headers={"Retry-After": "1"})


def watch_statements(engine) -> None:
    """Check the request's deadline before every statement on `engine`."""
    if not event.contains(engine, "before_cursor_execute", check_deadline):
        event.listen(engine, "before_cursor_execute", check_deadline)
