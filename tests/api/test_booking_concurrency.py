"""Booking under real concurrency: many threads, real HTTP, real commits (live_server).

Every request of a burst waits on one barrier so that they reach the server together.
"""
from __future__ import annotations

import json
import random
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Registration, Schedule, holds_slot


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def code(self) -> str | None:
        return self.body.get("code") if isinstance(self.body, dict) else None


def http(base: str, method: str, path: str, headers: dict[str, str] | None = None,
         body: Any = None) -> Reply:
    """One HTTP request on its own connection; never raises for an HTTP error status."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            raw, status, hdrs = resp.read(), resp.status, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        raw, status, hdrs = exc.read(), exc.code, dict(exc.headers)
    return Reply(status, json.loads(raw) if raw else None, hdrs)


def run_together(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call in its own thread, released at the same instant; return the results."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def worker(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert not any(thread.is_alive() for thread in threads), "a request never finished"
    return results


def schedule_counts(schedule_id: int) -> tuple[int, int, int]:
    """(active registrations, booked_count, last_queue_number) as committed in the database."""
    db.session.rollback()
    active = db.session.scalar(select(func.count()).select_from(Registration).where(
        Registration.schedule_id == schedule_id, holds_slot(Registration.status)))
    schedule = db.session.get(Schedule, schedule_id)
    db.session.refresh(schedule)
    return active, schedule.booked_count, schedule.last_queue_number


def booking_call(base: str, headers: dict[str, str], patient_id: int, schedule_id: int,
                 key: str | None = None) -> Callable[[], Reply]:
    extra = {"Idempotency-Key": key} if key else {}
    return lambda: http(base, "POST", "/registrations/", {**headers, **extra},
                        {"patient_id": patient_id, "schedule_id": schedule_id})


def test_fifty_families_book_ten_slots_at_once(live_server, committing_db):
    factory = committing_db
    schedule_id = factory.schedule(max_appointments=10).id
    families = []
    for _ in range(50):
        user = factory.user()
        families.append((factory.headers(user), factory.patient(user).id))
    db.session.close()

    replies = run_together([booking_call(live_server, headers, patient_id, schedule_id)
                            for headers, patient_id in families])

    assert all(r.status < 500 for r in replies), [r.body for r in replies if r.status >= 500]
    assert Counter(r.status for r in replies) == {201: 10, 409: 40}
    assert {r.code for r in replies if r.status == 409} == {"schedule_full"}
    assert sorted(r.body["queue_number"] for r in replies if r.status == 201) == list(
        range(1, 11))
    shown = http(live_server, "GET", f"/schedules/{schedule_id}", families[0][0])
    assert shown.status == 200, shown.body
    assert shown.body["available_slots"] == 0
    assert schedule_counts(schedule_id) == (10, 10, 10)


def test_one_patient_booked_twenty_times_at_once_gets_one_slot(live_server, committing_db):
    factory = committing_db
    user = factory.user()
    headers, patient_id = factory.headers(user), factory.patient(user).id
    schedule_id = factory.schedule(max_appointments=50).id
    db.session.close()

    replies = run_together([booking_call(live_server, headers, patient_id, schedule_id)
                            for _ in range(20)])

    assert Counter(r.status for r in replies) == {201: 1, 409: 19}
    assert {r.code for r in replies if r.status == 409} == {"duplicate_registration"}
    assert schedule_counts(schedule_id) == (1, 1, 1)


def test_same_idempotency_key_at_once_books_once(live_server, committing_db):
    factory = committing_db
    user = factory.user()
    headers, patient_id = factory.headers(user), factory.patient(user).id
    schedule_id = factory.schedule(max_appointments=5).id
    db.session.close()

    replies = run_together([booking_call(live_server, headers, patient_id, schedule_id,
                                         key="tap-tap-tap") for _ in range(10)])

    assert [r.status for r in replies] == [201] * 10, [r.body for r in replies]
    assert len({r.body["id"] for r in replies}) == 1
    assert all(r.body == replies[0].body for r in replies)
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in replies) == 9
    assert schedule_counts(schedule_id) == (1, 1, 1)


def test_same_idempotency_key_with_different_bodies_at_once(live_server, committing_db):
    factory = committing_db
    user = factory.user()
    headers = factory.headers(user)
    first, second = factory.patient(user).id, factory.patient(user).id
    schedule_id = factory.schedule(max_appointments=5).id
    db.session.close()

    replies = run_together([booking_call(live_server, headers, first, schedule_id, key="k"),
                            booking_call(live_server, headers, second, schedule_id, key="k")])

    assert sorted(r.status for r in replies) == [201, 409], [r.body for r in replies]
    assert [r.code for r in replies if r.status == 409] == ["idempotency_key_reused"]
    assert schedule_counts(schedule_id) == (1, 1, 1)


OK_REPLIES = {
    ("book", 201, None), ("book", 409, "schedule_full"),
    ("book", 409, "duplicate_registration"),
    ("cancel", 200, None), ("cancel", 409, "invalid_status_transition"),
    ("delete", 204, None),
    ("reinstate", 200, None), ("reinstate", 409, "schedule_full"),
    ("reinstate", 409, "duplicate_registration"),
    ("reinstate", 409, "invalid_status_transition"), ("reinstate", 404, "registration_not_found"),
}


def family_storm(base: str, headers: dict[str, str], patient_ids: list[int], schedule_id: int,
                 seed: int, rounds: int) -> list[tuple[str, int, str | None]]:
    """Random bookings, cancellations and deletions by one family."""
    rng = random.Random(seed)
    mine: list[int] = []
    seen = []
    for _ in range(rounds):
        action = rng.choice(["book", "book", "cancel", "delete"]) if mine else "book"
        if action == "book":
            reply = booking_call(base, headers, rng.choice(patient_ids), schedule_id)()
            if reply.status == 201:
                mine.append(reply.body["id"])
        elif action == "cancel":
            reply = http(base, "PUT", f"/registrations/{rng.choice(mine)}/cancel", headers)
        else:
            reply = http(base, "DELETE", f"/registrations/{mine.pop(rng.randrange(len(mine)))}",
                         headers)
        seen.append((action, reply.status, reply.code if reply.status >= 400 else None))
    return seen


def admin_storm(base: str, headers: dict[str, str], schedule_id: int, seed: int,
                rounds: int) -> list[tuple[str, int, str | None]]:
    """An admin reinstating cancelled registrations while the families book and cancel."""
    rng = random.Random(seed)
    seen = []
    for _ in range(rounds):
        listing = http(base, "GET", f"/schedules/{schedule_id}/registrations?per_page=100",
                       headers)
        cancelled = [x["id"] for x in listing.body["results"] if x["status"] == "cancelled"]
        if not cancelled:
            continue
        reply = http(base, "PUT", f"/registrations/{rng.choice(cancelled)}", headers,
                     {"status": "scheduled"})
        seen.append(("reinstate", reply.status, reply.code if reply.status >= 400 else None))
    return seen


@pytest.mark.parametrize("seed", [1, 2])
def test_a_storm_of_bookings_and_cancellations_keeps_the_counts_right(
        live_server, committing_db, seed):
    factory = committing_db
    schedule_id = factory.schedule(max_appointments=4).id
    admin_headers = factory.headers(factory.admin())
    families = []
    for _ in range(8):
        user = factory.user()
        families.append((factory.headers(user), [factory.patient(user).id for _ in range(3)]))
    db.session.close()

    calls = [
        (lambda h=h, p=p, i=i: family_storm(live_server, h, p, schedule_id, seed * 100 + i, 20))
        for i, (h, p) in enumerate(families)
    ]
    calls.append(lambda: admin_storm(live_server, admin_headers, schedule_id, seed, 20))
    outcomes = [item for result in run_together(calls) for item in result]

    unexpected = [o for o in outcomes if o not in OK_REPLIES]
    assert not unexpected, unexpected
    assert any(o[:2] == ("book", 201) for o in outcomes)
    assert any(o[2] == "schedule_full" for o in outcomes)
    active, booked, last_queue = schedule_counts(schedule_id)
    assert active == booked <= 4
    shown = http(live_server, "GET", f"/schedules/{schedule_id}", admin_headers)
    assert shown.body["available_slots"] == 4 - booked
    listing = http(live_server, "GET", f"/schedules/{schedule_id}/registrations?per_page=100",
                   admin_headers).body["results"]
    numbers = [x["queue_number"] for x in listing]
    assert len(numbers) == len(set(numbers))
    assert max(numbers, default=0) <= last_queue
    assert last_queue == sum(o[:2] == ("book", 201) for o in outcomes)
