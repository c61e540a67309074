"""Webhooks against a real HTTP receiver on 127.0.0.1 that is stopped, failing and started
again: every event arrives, signed, in order per registration; a duplicate only after a
failure; and two worker processes never deliver one event twice."""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import text

from app.extensions import db
from app.ops.webhooks import run_webhook_job
from tests.api.test_booking_concurrency import http

ROOT = Path(__file__).resolve().parents[1]
SECRET = "test-webhook-secret-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """Records every POST it answers; `mode`: ok (200), fail (500, nothing recorded) or
    lost (recorded, then 500: the event was handled but the sender cannot know)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.mode = "ok"
        self.refuse: dict[int, int] = {}  # event id -> how many more times to answer 500
        self.received: list[tuple[dict, bytes]] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the http.server API)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                event_id = int(self.headers["X-Event-Id"])
                if receiver.refuse.get(event_id, 0) > 0:
                    receiver.refuse[event_id] -= 1
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if receiver.mode != "fail":
                    with receiver.lock:
                        receiver.received.append((dict(self.headers), body))
                self.send_response(200 if receiver.mode == "ok" else 500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.server = None


@pytest.fixture()
def receiver():
    r = Receiver()
    r.start()
    yield r
    if r.server is not None:
        r.stop()


@pytest.fixture()
def webhooks_on(app, monkeypatch, receiver):
    for key, value in {"WEBHOOK_URL": receiver.url, "WEBHOOK_SECRET": SECRET,
                       "WEBHOOK_BACKOFF_SECONDS": 0.05, "WEBHOOK_BACKOFF_MAX_SECONDS": 0.4,
                       "WEBHOOK_TIMEOUT_SECONDS": 2.0, "WEBHOOK_BATCH": 4}.items():
        monkeypatch.setitem(app.config, key, value)


def deliveries() -> dict:
    db.session.rollback()
    return {row.event_id: row for row in db.session.execute(text(
        "SELECT event_id, attempts, delivered_at, last_error FROM webhook_deliveries"))}


def drain(app, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run_webhook_job(app, budget_seconds=1)
        if deliveries() and all(d.delivered_at for d in deliveries().values()):
            return
        time.sleep(0.1)
    pending = [d for d in deliveries().values() if not d.delivered_at]
    raise AssertionError(f"still pending: {pending}")


def test_every_event_arrives_signed_in_order_through_outages(app, live_server, committing_db,
                                                             webhooks_on, receiver):
    factory = committing_db
    admin_headers = factory.headers(factory.admin())
    assert run_webhook_job(app, budget_seconds=1)["queued"] == 0  # starts from now
    user = factory.user()
    headers = factory.headers(user)
    schedule = factory.schedule(max_appointments=20)
    regs = []
    for _ in range(4):
        r = http(live_server, "POST", "/registrations/", headers,
                 {"patient_id": factory.patient(user).id, "schedule_id": schedule.id})
        assert r.status == 201
        regs.append(r.body["id"])

    receiver.stop()  # down: every attempt fails, nothing arrives
    run_webhook_job(app, budget_seconds=1)
    assert receiver.received == []
    status = http(live_server, "GET", "/events/webhook", admin_headers).body
    assert status["configured"] and status["failing"] >= 1 and status["delivered"] == 0
    assert "ConnectionRefused" in status["last_error"] or "URLError" in status["last_error"]

    # More changes while it is down, then back but answering 500 after handling them.
    for reg_id in regs[:2]:
        assert http(live_server, "PUT", f"/registrations/{reg_id}/cancel", headers).status == 200
    assert http(live_server, "PUT", "/settings/booking", admin_headers,
                {"booking_cutoff_minutes": 5}).status == 200
    receiver.start()
    receiver.mode = "lost"
    time.sleep(0.5)
    run_webhook_job(app, budget_seconds=1)
    lost = {json.loads(body)["id"] for _, body in receiver.received}
    assert lost, "nothing reached the failing receiver"
    receiver.mode = "ok"
    drain(app)

    db.session.rollback()
    events = db.session.execute(text(
        "SELECT id, registration_id FROM events WHERE id > (SELECT min(event_id) - 1"
        " FROM webhook_deliveries) ORDER BY id")).all()
    assert len(events) == 7
    arrivals = [json.loads(body)["id"] for _, body in receiver.received]
    assert {e.id for e in events} == set(arrivals)
    for headers_seen, body in receiver.received:
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers_seen["X-Signature"], expected)
        assert headers_seen["X-Event-Id"] == str(json.loads(body)["id"])
    # In id order per registration: each event first arrives after the ones before it.
    first = {}
    for position, event_id in enumerate(arrivals):
        first.setdefault(event_id, position)
    per_registration = defaultdict(list)
    for e in events:
        per_registration[e.registration_id or 0].append(first[e.id])
    assert all(seq == sorted(seq) for seq in per_registration.values()), per_registration
    # A duplicate only after a failed attempt.
    state = deliveries()
    duplicated = {i for i in arrivals if arrivals.count(i) > 1}
    assert duplicated and duplicated <= lost
    assert all(state[i].attempts >= 2 for i in duplicated)
    status = http(live_server, "GET", "/events/webhook", admin_headers).body
    assert (status["pending"], status["failing"], status["delivered"]) == (0, 0, 7)


def test_two_worker_processes_deliver_each_event_once(app, committing_db, test_database,
                                                      webhooks_on, receiver):
    factory = committing_db
    assert run_webhook_job(app, budget_seconds=1)["queued"] == 0
    schedule = factory.schedule(max_appointments=100)
    user = factory.user()
    for _ in range(40):
        factory.registration(factory.patient(user), schedule)  # 40 registration.booked
    db.session.close()
    env = dict(os.environ)
    env.update({"APP_ENV": "development", "DATABASE_URL": test_database.url,
                "SCHEDULER_ENABLED": "0", "ADMIN_BOOTSTRAP": "0", "LOG_LEVEL": "WARNING",
                "WEBHOOK_URL": receiver.url, "WEBHOOK_SECRET": SECRET, "WEBHOOK_BATCH": "3"})
    env.pop("TEST_DATABASE_URL", None)
    script = ("from app import create_app\n"
              "from app.ops.webhooks import run_webhook_job\n"
              "app = create_app()\n"
              "for _ in range(20):\n"
              "    run_webhook_job(app, budget_seconds=1)\n")
    workers = [subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env,
                                stderr=subprocess.PIPE) for _ in range(2)]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err.decode()[-2000:]
    arrivals = [json.loads(body)["id"] for _, body in receiver.received]
    assert len(arrivals) == 40 and len(set(arrivals)) == 40
    state = deliveries()
    assert len(state) == 40 and all(d.delivered_at and d.attempts == 1 for d in state.values())


def test_a_failing_event_holds_back_the_later_events_of_its_registration(
        app, committing_db, webhooks_on, receiver):
    factory = committing_db
    assert run_webhook_job(app, budget_seconds=1)["queued"] == 0
    schedule = factory.schedule(max_appointments=10)
    user = factory.user()
    reg = factory.registration(factory.patient(user), schedule)
    reg_id = reg.id
    for status in ("cancelled", "scheduled", "cancelled"):  # cancelled, reinstated, ...
        reg.status = status
        db.session.commit()
    other = factory.registration(factory.patient(user), schedule)  # another registration
    other_id = other.id
    db.session.close()
    ids = db.session.scalars(text(
        "SELECT id FROM events WHERE registration_id = :r ORDER BY id"), {"r": reg_id}).all()
    assert len(ids) == 4
    receiver.refuse = {ids[0]: 3}  # the registration's first event fails three times
    drain(app)
    arrivals = [json.loads(body) for _, body in receiver.received]
    mine = [e["id"] for e in arrivals if e["registration_id"] == reg_id]
    assert mine == ids  # the later ones waited for the first
    assert [e["registration_id"] for e in arrivals].index(other_id) < \
        [e["id"] for e in arrivals].index(ids[0])  # other registrations did not wait
    assert deliveries()[ids[0]].attempts == 4
