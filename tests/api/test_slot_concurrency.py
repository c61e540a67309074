"""Capacity per time slot under real concurrency: many threads, real HTTP, real commits."""
from __future__ import annotations

import random
from collections import Counter

from sqlalchemy import text

from app.extensions import db
from tests.api.test_booking_concurrency import http, run_together, schedule_counts


def slot_rows(schedule_id: int) -> list[tuple[int, int, int, int]]:
    """(slot id, capacity, booked_count, active registrations) of each slot, as committed."""
    db.session.rollback()
    return [tuple(row) for row in db.session.execute(text(
        "SELECT sl.id, sl.capacity, sl.booked_count, count(r.id) FILTER (WHERE"
        " registration_holds_slot(r.status)) FROM schedule_slots sl LEFT JOIN registrations r"
        " ON r.slot_id = sl.id WHERE sl.schedule_id = :id GROUP BY sl.id ORDER BY sl.ordinal"),
        {"id": schedule_id})]


def families(factory, n: int) -> list[tuple[dict, int]]:
    out = []
    for _ in range(n):
        user = factory.user()
        out.append((factory.headers(user), factory.patient(user).id))
    return out


def test_forty_families_choose_one_slot_of_three_places(live_server, committing_db):
    factory = committing_db
    schedule_id = factory.schedule(max_appointments=12, slot_minutes=60).id  # 3, 3, 3, 3
    slot_id = slot_rows(schedule_id)[1][0]
    crowd = families(factory, 40)
    db.session.close()

    replies = run_together([
        (lambda h=h, p=p: http(live_server, "POST", "/registrations/", h,
                               {"patient_id": p, "schedule_id": schedule_id,
                                "slot_id": slot_id}))
        for h, p in crowd])

    assert all(r.status < 500 for r in replies), [r.body for r in replies if r.status >= 500]
    assert Counter(r.status for r in replies) == {201: 3, 409: 37}
    assert {r.code for r in replies if r.status == 409} == {"slot_full"}
    assert {r.body["slot_id"] for r in replies if r.status == 201} == {slot_id}
    assert [row[1:] for row in slot_rows(schedule_id)] == [(3, 0, 0), (3, 3, 3), (3, 0, 0),
                                                           (3, 0, 0)]
    assert schedule_counts(schedule_id)[:2] == (3, 3)


def test_sixty_families_book_one_slotted_schedule_every_which_way(live_server, committing_db):
    """Earliest-free and chosen slots at once: no slot and no schedule over capacity."""
    factory = committing_db
    # 8 slots holding 3, 3, 3, 3, 2, 2, 2, 2
    schedule_id = factory.schedule(max_appointments=20, slot_minutes=30).id
    slots = [row[0] for row in slot_rows(schedule_id)]
    crowd = families(factory, 60)
    db.session.close()
    rng = random.Random(7)
    bodies = [{"patient_id": p, "schedule_id": schedule_id,
               **({"slot_id": rng.choice(slots)} if i % 2 else {})}
              for i, (_, p) in enumerate(crowd)]

    replies = run_together([
        (lambda h=h, b=b: http(live_server, "POST", "/registrations/", h, b))
        for (h, _), b in zip(crowd, bodies, strict=True)])

    assert all(r.status < 500 for r in replies), [r.body for r in replies if r.status >= 500]
    booked = [r for r in replies if r.status == 201]
    assert len(booked) == 20
    assert {r.code for r in replies if r.status == 409} <= {"slot_full", "schedule_full"}
    rows = slot_rows(schedule_id)
    assert all(booked_count == active <= capacity for _, capacity, booked_count, active in rows)
    assert sum(row[3] for row in rows) == 20
    assert Counter(r.body["slot_id"] for r in booked) == {row[0]: row[3] for row in rows}
    assert schedule_counts(schedule_id) == (20, 20, 20)
