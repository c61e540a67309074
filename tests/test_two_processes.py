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
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import JobRun, Registration

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


@pytest.fixture()
def two_servers(test_database, app, committing_db):
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
        yield committing_db, servers
    finally:
        for _base, process in servers:
            process.terminate()
        for _base, process in servers:
            process.wait(timeout=10)


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
    statuses = [call(a if i % 2 else b, "POST", "/users/login", attempt)[0] for i in range(10)]
    assert statuses == [401] * 10
    for base in (a, b):
        status, body, headers = call(base, "POST", "/users/login", attempt)
        assert status == 429 and body["code"] == "rate_limited"
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
    status, body, headers = call(b, "GET", path, token=token)
    assert headers["X-Cache"] == "miss" and body["description"] == "皮肤病诊疗"

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
