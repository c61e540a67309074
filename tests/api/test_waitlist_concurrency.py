"""The waitlist (候补) and stop-clinic (停诊) under real concurrency: many threads, real HTTP.

While the storms run, a watcher reads the schedule in single statements (one snapshot each):
a committed state with a free place and a waiting entry would be a place a waiter was passed
over for.
"""
from __future__ import annotations

import datetime as dt
import random
import threading
from collections import Counter

import pytest
from sqlalchemy import text

from app.extensions import db
from tests.api.test_booking_concurrency import http, run_together

DAY = dt.date.today() + dt.timedelta(days=15)
CAPACITY = 4

WAITLIST_OK = {
    ("book", 201, None), ("book", 409, "schedule_full"), ("book", 409, "slot_full"),
    ("book", 409, "duplicate_registration"),
    ("join", 201, None), ("join", 409, "schedule_not_full"),
    ("join", 409, "duplicate_waitlist_entry"), ("join", 409, "duplicate_registration"),
    ("cancel", 200, None), ("cancel", 409, "invalid_status_transition"),
    ("delete", 204, None), ("delete", 404, "registration_not_found"),
    ("leave", 204, None), ("leave", 409, "not_waiting"),
}


class Watcher:
    """Reads (free places, waiting entries) of one schedule in one statement, again and again."""

    SQL = text("SELECT s.max_appointments - s.booked_count,"
               " (SELECT count(*) FROM waitlist_entries AS w"
               "   WHERE w.schedule_id = s.id AND w.status = 'waiting')"
               " FROM schedules AS s WHERE s.id = :id")

    def __init__(self, engine, schedule_id: int) -> None:
        self.engine, self.schedule_id = engine, schedule_id
        self.stop = threading.Event()
        self.reads = 0
        self.passed_over: list[tuple[int, int]] = []
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        with self.engine.connect() as conn:
            while not self.stop.is_set():
                free, waiting = conn.execute(self.SQL, {"id": self.schedule_id}).one()
                conn.rollback()
                self.reads += 1
                if free > 0 and waiting > 0:
                    self.passed_over.append((free, waiting))

    def __enter__(self) -> Watcher:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def waitlist_family(base: str, headers: dict[str, str], patient_ids: list[int],
                    schedule_id: int, seed: int, rounds: int) -> list[tuple]:
    """Book; when full, join the waitlist; now and then cancel, delete or leave."""
    rng = random.Random(seed)
    seen = []
    for _ in range(rounds):
        patient = rng.choice(patient_ids)
        action = rng.choice(["book", "book", "cancel", "delete", "leave"])
        if action == "book":
            reply = http(base, "POST", "/registrations/", headers,
                         {"patient_id": patient, "schedule_id": schedule_id})
            seen.append(("book", reply.status, reply.code))
            if reply.code in ("schedule_full", "slot_full"):
                reply = http(base, "POST", f"/schedules/{schedule_id}/waitlist", headers,
                             {"patient_id": patient})
                seen.append(("join", reply.status, reply.code))
            continue
        if action == "leave":
            entries = http(base, "GET", f"/patients/{patient}/waitlist?per_page=100",
                           headers).body["results"]
            waiting = [e["id"] for e in entries if e["status"] == "waiting"]
            if waiting:
                reply = http(base, "DELETE", f"/waitlist/{waiting[0]}", headers)
                seen.append(("leave", reply.status, reply.code))
            continue
        regs = http(base, "GET", f"/patients/{patient}/registrations?per_page=100",
                    headers).body["results"]
        active = [r["id"] for r in regs if r["status"] == "scheduled"]
        if not active:
            continue
        if action == "cancel":
            reply = http(base, "PUT", f"/registrations/{active[0]}/cancel", headers)
        else:
            reply = http(base, "DELETE", f"/registrations/{active[0]}", headers)
        seen.append((action, reply.status, reply.code))
    return seen


def committed(sql: str, **params):
    db.session.rollback()
    return db.session.execute(text(sql), params).all()


@pytest.mark.parametrize("slot_minutes", [None, 60])
def test_cancels_joins_and_bookings_at_once_keep_the_waitlist_promises(
        live_server, committing_db, slot_minutes):
    factory = committing_db
    schedule_id = factory.schedule(date=DAY, max_appointments=CAPACITY,
                                   slot_minutes=slot_minutes).id
    families = []
    for _ in range(10):
        user = factory.user()
        families.append((factory.headers(user), [factory.patient(user).id for _ in range(2)]))
    engine = db.engine
    db.session.close()

    calls = [(lambda h=h, p=p, i=i: waitlist_family(live_server, h, p, schedule_id, i, 24))
             for i, (h, p) in enumerate(families)]
    with Watcher(engine, schedule_id) as watcher:
        outcomes = [o for result in run_together(calls) for o in result]

    unexpected = [o for o in outcomes if o not in WAITLIST_OK]
    assert not unexpected, unexpected
    seen = Counter(o[:2] for o in outcomes)
    assert seen[("join", 201)] >= 5 and seen[("cancel", 200)] + seen[("delete", 204)] >= 5, seen
    assert watcher.reads > 50 and not watcher.passed_over, watcher.passed_over[:5]

    # Never over capacity; the counters equal their rows, per schedule and per slot.
    [(active, booked, capacity)] = committed(
        "SELECT (SELECT count(*) FROM registrations r WHERE r.schedule_id = s.id"
        " AND registration_holds_slot(r.status)), s.booked_count, s.max_appointments"
        " FROM schedules s WHERE s.id = :id", id=schedule_id)
    assert active == booked <= capacity
    assert committed(
        "SELECT sl.id FROM schedule_slots sl WHERE sl.schedule_id = :id AND sl.booked_count <>"
        " (SELECT count(*) FROM registrations r WHERE r.slot_id = sl.id"
        " AND registration_holds_slot(r.status))", id=schedule_id) == []
    entries = committed("SELECT id, status, patient_id, registration_id FROM waitlist_entries"
                        " WHERE schedule_id = :id ORDER BY id", id=schedule_id)
    booked_ids = [e.id for e in entries if e.status == "booked"]
    waiting_ids = [e.id for e in entries if e.status == "waiting"]
    assert booked_ids, "no waiter was ever booked"
    # Join order: nobody still waiting joined before anyone who was booked.
    assert not waiting_ids or min(waiting_ids) > max(booked_ids), (waiting_ids, booked_ids)
    # A waiter is left only while the schedule is full.
    assert not waiting_ids or active == capacity
    # Every booked entry got a registration of its own patient on this schedule.
    for entry in entries:
        if entry.status == "booked":
            [(patient, schedule)] = committed(
                "SELECT patient_id, schedule_id FROM registrations WHERE id = :id",
                id=entry.registration_id) or [(entry.patient_id, schedule_id)]
            assert (patient, schedule) == (entry.patient_id, schedule_id)


def test_suspensions_race_bookings_and_cancels_on_both_sessions(live_server, committing_db):
    factory = committing_db
    admin_headers = factory.headers(factory.admin())
    department = factory.department()
    rounds = []
    for i in range(3):
        day = DAY + dt.timedelta(days=i)
        stopped = factory.schedule(department=department, date=day, max_appointments=12)
        substitute = factory.schedule(department=department, date=day, start=dt.time(14),
                                      end=dt.time(18), max_appointments=12,
                                      slot_minutes=60 if i == 1 else None)
        rounds.append((stopped.id, substitute.id))
    families = []
    for _ in range(12):
        user = factory.user()
        families.append((factory.headers(user), factory.patient(user).id))
    # Both sessions half full before the race.
    regs = {}
    for stopped_id, substitute_id in rounds:
        for headers, patient in families[:6]:
            r = http(live_server, "POST", "/registrations/", headers,
                     {"patient_id": patient, "schedule_id": stopped_id})
            assert r.status == 201, r.body
            regs.setdefault(stopped_id, []).append((headers, r.body["id"]))
        for headers, patient in families[6:9]:
            r = http(live_server, "POST", "/registrations/", headers,
                     {"patient_id": patient, "schedule_id": substitute_id})
            assert r.status == 201, r.body
            regs.setdefault(substitute_id, []).append((headers, r.body["id"]))
    db.session.close()

    for stopped_id, substitute_id in rounds:
        calls = [lambda s=stopped_id, t=substitute_id: (
            "suspend", http(live_server, "POST", f"/schedules/{s}/suspend", admin_headers,
                            {"reason": "停诊", "substitute_schedule_id": t}))]
        for headers, patient in families[6:]:
            for target in (stopped_id, substitute_id):
                calls.append(lambda h=headers, p=patient, t=target: (
                    "book", http(live_server, "POST", "/registrations/", h,
                                 {"patient_id": p, "schedule_id": t})))
        for target in (stopped_id, substitute_id):
            for headers, reg_id in regs[target][:2]:
                calls.append(lambda h=headers, r=reg_id: (
                    "cancel", http(live_server, "PUT", f"/registrations/{r}/cancel", h)))
        random.Random(stopped_id).shuffle(calls)
        replies = run_together(calls)

        assert all(r.status < 500 for _, r in replies), [r.body for _, r in replies
                                                          if r.status >= 500]
        codes = Counter((kind, r.status, r.code) for kind, r in replies)
        assert not [c for c in codes if c[2] in ("retry_conflict", "conflict")], codes
        [(suspend_reply,)] = [(r,) for kind, r in replies if kind == "suspend"]
        assert suspend_reply.status in (200, 409), suspend_reply.body
        for schedule_id in (stopped_id, substitute_id):
            [(active, booked, capacity)] = committed(
                "SELECT (SELECT count(*) FROM registrations r WHERE r.schedule_id = s.id"
                " AND registration_holds_slot(r.status)), s.booked_count, s.max_appointments"
                " FROM schedules s WHERE s.id = :id", id=schedule_id)
            assert active == booked <= capacity, (schedule_id, active, booked)
        assert committed(
            "SELECT sl.id FROM schedule_slots sl WHERE sl.booked_count <> (SELECT count(*)"
            " FROM registrations r WHERE r.slot_id = sl.id"
            " AND registration_holds_slot(r.status))") == []
        if suspend_reply.status == 200:
            # Nothing scheduled is left behind; everything moved sits on the substitute.
            assert committed("SELECT id FROM registrations WHERE schedule_id = :id"
                             " AND status = 'scheduled'", id=stopped_id) == []
            moved = committed("SELECT schedule_id FROM registrations"
                              " WHERE moved_from_schedule_id = :id", id=stopped_id)
            assert moved and {m.schedule_id for m in moved} == {substitute_id}
            numbers = committed("SELECT queue_number FROM registrations"
                                " WHERE schedule_id = :id", id=substitute_id)
            assert len(numbers) == len({n.queue_number for n in numbers})
        else:
            assert suspend_reply.body["code"] == "substitute_too_small"
