"""The feed's promise: a poller that asks for what follows the last id it saw never misses an
event, although transactions take event ids in one order and commit in another.

Writers here are raw database transactions calling record_event(), the function every
event trigger calls; the poller is a real HTTP client of GET /events.
"""
from __future__ import annotations

import datetime as dt
import json
import random
import threading
import time

from sqlalchemy import text

from app.extensions import db
from tests.api.test_booking_concurrency import http

RECORD = "SELECT record_event('policy.changed', NULL, NULL, NULL, %s::jsonb)"


def writer(engine):
    """A connection of its own (its own transaction), in manual commit mode."""
    connection = engine.raw_connection()
    return connection, connection.cursor()


def write_event(cursor, label: str, n: int) -> int:
    cursor.execute(RECORD, (json.dumps({"test": label, "n": n}),))
    cursor.execute("SELECT currval('events_id_seq')")
    return cursor.fetchone()[0]


def poll(base: str, headers: dict, after_id: int, limit: int = 100) -> dict:
    reply = http(base, "GET", f"/events?after_id={after_id}&limit={limit}", headers)
    assert reply.status == 200, reply.body
    return reply.body


def test_an_event_committed_late_below_a_seen_one_is_not_skipped(live_server,
                                                                 committing_db):
    factory = committing_db
    headers = factory.headers(factory.admin())
    engine = db.engine
    db.session.close()
    a, a_cur = writer(engine)
    b, b_cur = writer(engine)
    try:
        first = write_event(a_cur, "late", 1)        # takes the lower id, commits last
        second = write_event(b_cur, "late", 2)
        assert second > first
        b.commit()
        # While A is open the feed cannot answer past it: after its wait, nothing new.
        started = time.monotonic()
        body = poll(live_server, headers, first - 1)
        assert time.monotonic() - started >= 0.9
        assert (body["results"], body["more"], body["last_id"]) == ([], True, first - 1)
        # A commits while a poller waits: the poller gets both, in id order.
        answer = {}
        poller = threading.Thread(
            target=lambda: answer.update(poll(live_server, headers, first - 1)))
        poller.start()
        time.sleep(0.3)
        a.commit()
        poller.join(timeout=10)
        assert [e["id"] for e in answer["results"]] == [first, second]
    finally:
        a.close()
        b.close()


def test_a_poller_never_misses_an_event_while_transactions_commit_out_of_order(
        live_server, committing_db):
    factory = committing_db
    headers = factory.headers(factory.admin())
    engine = db.engine
    start_id = db.session.scalar(text("SELECT coalesce(max(id), 0) FROM events"))
    db.session.close()
    done = threading.Event()
    errors: list[BaseException] = []

    def write(seed: int) -> None:
        rng = random.Random(seed)
        connection, cursor = writer(engine)
        try:
            for n in range(15):
                write_event(cursor, "stress", seed * 100 + n)
                time.sleep(rng.uniform(0, 0.03))
                if rng.random() < 0.3:
                    write_event(cursor, "stress", seed * 100 + 50 + n)
                    time.sleep(rng.uniform(0, 0.02))
                if rng.random() < 0.1:
                    connection.rollback()
                else:
                    connection.commit()
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    seen: list[int] = []

    def read() -> None:
        last = start_id
        try:
            while True:
                finished = done.is_set()
                body = poll(live_server, headers, last, limit=7)
                seen.extend(e["id"] for e in body["results"]
                            if e["data"].get("test") == "stress")
                last = body["last_id"]
                if finished and not body["results"] and not body["more"]:
                    return
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(seed,)) for seed in range(6)]
    reader = threading.Thread(target=read)
    reader.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join(timeout=60)
    done.set()
    reader.join(timeout=60)
    assert not errors, errors
    committed = db.session.scalars(text(
        "SELECT id FROM events WHERE data->>'test' = 'stress' ORDER BY id")).all()
    assert len(committed) > 60
    assert seen == sorted(set(seen)), "the feed answered out of order or twice"
    assert seen == committed, sorted(set(committed) - set(seen))[:10]


def test_the_no_show_job_writes_its_events_as_the_system(app, live_server, committing_db):
    from app.ops.jobs import run_no_show_job

    factory = committing_db
    user = factory.user()
    user_id = user.id
    headers = factory.headers(user)
    schedule = factory.schedule(max_appointments=5)
    reply = http(live_server, "POST", "/registrations/", headers,
                 {"patient_id": factory.patient(user).id, "schedule_id": schedule.id})
    assert reply.status == 201
    db.session.close()
    run_no_show_job(app, dt.datetime.now(dt.UTC) + dt.timedelta(days=40))
    rows = db.session.execute(text(
        "SELECT type, actor_user_id, actor_role, request_id FROM events"
        " WHERE registration_id = :id ORDER BY id"), {"id": reply.body["id"]}).all()
    request_id = {k.lower(): v for k, v in reply.headers.items()}["x-request-id"]
    assert rows == [("registration.booked", user_id, "user", request_id),
                    ("registration.no_show", None, None, None)]
