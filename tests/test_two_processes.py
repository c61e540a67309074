"""Two waitress processes on one PostgreSQL and one Redis, as deployed behind a balancer.

They share the rate limit, see each other's cache invalidations, and the periodic job
runs once per period between them.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.models import JobRun, Registration, User
from tests.assertions import assert_error, wire_response

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_reachable() -> bool:
    host_port = REDIS_URL.split("//", 1)[1].split("/", 1)[0]
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port or 6379)), timeout=1):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not redis_reachable(),
                                reason=f"Redis not reachable at {REDIS_URL}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(base: str, method: str, path: str, body=None, token: str | None = None):
    """(status, json body or None, headers) of one request."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, (json.loads(raw) if raw else None), response.headers
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, (json.loads(raw) if raw else None), error.headers


@contextmanager
def serving_twice(test_database, **extra_env: str):
    """Two waitress processes of the app in production settings, sharing Redis."""
    env = dict(os.environ)
    env.update({
        "APP_ENV": "production",
        "DATABASE_URL": test_database.url,
        "SECRET_KEY": "two-process-secret-0123456789abcdefghij",
        "JWT_SECRET_KEY": "two-process-jwt-secret-long-enough-for-hs256",
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
        "RATELIMIT_ENABLED": "1",
        "RATELIMIT_LOGIN": "10 per minute",
        "SCHEDULER_ENABLED": "1",
        "NO_SHOW_INTERVAL_MINUTES": "1",
        "NO_SHOW_GRACE_MINUTES": "0",
        "ADMIN_BOOTSTRAP": "0",
        "LOG_LEVEL": "WARNING",
        **extra_env,
    })
    env.pop("TEST_DATABASE_URL", None)
    waitress = str(Path(sys.executable).with_name("waitress-serve"))
    servers = []
    for _ in range(2):
        port = free_port()
        process = subprocess.Popen(
            [waitress, "--host", "127.0.0.1", f"--port={port}", "--threads=4",
             "--call", "app:create_app"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        servers.append((f"http://127.0.0.1:{port}", process))
    try:
        for base, process in servers:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if call(base, "GET", "/health")[0] == 200:
                        break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(process.stderr.read().decode()[-2000:])
                time.sleep(0.2)
        yield servers
    finally:
        for _base, process in servers:
            process.terminate()
        for _base, process in servers:
            process.wait(timeout=10)


@pytest.fixture()
def two_servers(test_database, app, committing_db):
    with serving_twice(test_database) as servers:
        yield committing_db, servers


def seen_within(base: str, path: str, token: str, description: str, seconds: float) -> bool:
    """Whether GET path shows `description` within `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        status, body, _headers = call(base, "GET", path, token=token)
        if status == 200 and body["description"] == description:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def test_two_processes_share_limits_cache_and_job(two_servers):
    factory, servers = two_servers
    (a, proc_a), (b, proc_b) = servers
    admin = factory.admin(username="boss", password="boss-password")
    department = factory.department(name="皮肤科")
    ended = factory.schedule(date=dt.date.today() - dt.timedelta(days=1))
    booking = factory.registration(factory.patient(factory.user()), ended)
    assert admin.id and booking.status == "scheduled"

    # One rate limit: ten failures spread over both processes, then both refuse.
    attempt = {"username": "guesser", "password": "wrong-password"}
    for i in range(10):
        assert_error(wire_response(*call(a if i % 2 else b, "POST", "/users/login", attempt)),
                     401, "invalid_credentials")
    for base in (a, b):
        status, body, headers = call(base, "POST", "/users/login", attempt)
        assert_error(wire_response(status, body, headers), 429, "rate_limited")
        assert int(headers["Retry-After"]) > 0

    # One cache: both processes cache the department; a write through A is seen through B.
    status, body, _ = call(a, "POST", "/users/login",
                           {"username": "boss", "password": "boss-password"})
    assert status == 200
    token = body["access_token"]
    path = f"/departments/{department.id}"
    for base in (a, b):
        call(base, "GET", path, token=token)
        status, body, headers = call(base, "GET", path, token=token)
        assert status == 200 and headers["X-Cache"] == "hit"
        assert body["description"] is None
    assert call(a, "PUT", path, {"description": "皮肤病诊疗"}, token)[0] == 200
    # A serves its own write at once; B within CACHE_SYNC_SECONDS (1 s here).
    status, body, headers = call(a, "GET", path, token=token)
    assert headers["X-Cache"] == "miss" and body["description"] == "皮肤病诊疗"
    assert seen_within(b, path, token, "皮肤病诊疗", seconds=1.5)
    # A write that bypasses the service (SQL by hand, seed.py) reaches both caches too.
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE departments SET description = 'by hand' WHERE id = :id"),
                           {"id": department.id})
    for base in (a, b):
        assert seen_within(base, path, token, "by hand", seconds=1.5)

    # One job run per period: both schedulers fire each minute, one claims the period.
    deadline = time.monotonic() + 80
    runs = []
    while time.monotonic() < deadline:
        db.session.rollback()
        runs = db.session.scalars(select(JobRun)).all()
        if runs:
            break
        time.sleep(1)
    assert runs, "the no-show job never ran"
    time.sleep(3)  # let the other process fire for the same period too
    db.session.rollback()
    runs = db.session.scalars(select(JobRun)).all()
    periods = [run.period_start for run in runs]
    assert len(periods) == len(set(periods))
    pids = {str(proc_a.pid), str(proc_b.pid)}
    assert all(run.claimed_by.rsplit(":", 1)[1] in pids for run in runs)
    assert db.session.get(Registration, booking.id).status == "no_show"


def test_writes_through_one_process_show_in_the_other_at_once(
        test_database, app, committing_db):
    """Logout, losing admin rights and deletion take effect in every process on the very next
    request — announced through Redis, not waited for (the generations are read only every
    60 s here)."""
    factory = committing_db
    factory.admin(username="boss", password="boss-password")
    factory.admin(username="deputy", password="deputy-password")
    for n in range(5):
        factory.user(username=f"family{n}", password="family-password")
    with serving_twice(test_database, CACHE_SYNC_SECONDS="60", AUTH_CACHE_SECONDS="600",
                       RATELIMIT_ENABLED="0", SCHEDULER_ENABLED="0") as servers:
        (a, _), (b, _) = servers

        def login(base, username, password):
            status, body, _ = call(base, "POST", "/users/login",
                                   {"username": username, "password": password})
            assert status == 200, body
            return body

        for n in range(5):  # logout through A, then straight to B
            tokens = login(a, f"family{n}", "family-password")
            assert call(b, "GET", "/users/me", token=tokens["access_token"])[0] == 200
            assert call(a, "POST", "/users/logout", token=tokens["access_token"])[0] == 204
            status, body, headers = call(b, "GET", "/users/me", token=tokens["access_token"])
            assert (status, body["code"]) == (401, "invalid_token"), (n, body)
            assert headers["WWW-Authenticate"].startswith("Bearer")
            status, body, _ = call(b, "POST", "/users/refresh", token=tokens["refresh_token"])
            assert (status, body["code"]) == (401, "invalid_token"), (n, body)

        boss = login(a, "boss", "boss-password")["access_token"]
        deputy_login = login(b, "deputy", "deputy-password")
        deputy, deputy_id = deputy_login["access_token"], deputy_login["user"]["id"]
        assert call(b, "GET", "/users/", token=deputy)[0] == 200
        status, body, _ = call(a, "POST", "/users/revoke_admin",
                               {"user_id": deputy_id, "admin_password": "boss-password"}, boss)
        assert status == 200, body
        status, body, _ = call(b, "GET", "/users/", token=deputy)
        assert (status, body["code"]) == (403, "admin_required")

        # A booking through A shows in B's cached available_slots on B's next read.
        schedule_id = factory.schedule(max_appointments=5).id
        patient_id = factory.patient(db.session.get(User, deputy_id)).id
        db.session.close()
        path = f"/schedules/{schedule_id}"
        reader = login(b, "family1", "family-password")["access_token"]
        assert call(b, "GET", path, token=reader)[1]["available_slots"] == 5
        assert call(b, "GET", path, token=reader)[2]["X-Cache"] == "hit"
        status, body, _ = call(a, "POST", "/registrations/",
                               {"patient_id": patient_id, "schedule_id": schedule_id}, deputy)
        assert status == 201, body
        status, body, _ = call(b, "GET", path, token=reader)
        assert (status, body["available_slots"]) == (200, 4)

        family = login(b, "family0", "family-password")["access_token"]
        assert call(b, "GET", "/users/me", token=family)[0] == 200
        assert call(a, "DELETE", "/users/me", token=family)[0] == 204
        status, body, _ = call(b, "GET", "/users/me", token=family)
        assert (status, body["code"]) == (401, "invalid_token")
