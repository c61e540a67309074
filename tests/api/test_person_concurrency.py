"""Per-person quotas under real concurrency: one person, two accounts, many threads at once."""
from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

from sqlalchemy import text

from app.extensions import db
from app.services.id_numbers import make_number
from tests.api.test_booking_concurrency import http, run_together

TODAY = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
NUMBER = make_number("320102", dt.date(1975, 6, 1), 457)


def person_setup(live_server, factory, admin_headers, policy: dict) -> list[tuple[dict, int]]:
    """Two accounts holding the same person; the policy set through the API."""
    pairs = []
    for _ in range(2):
        user = factory.user()
        headers = factory.headers(user)
        r = http(live_server, "POST", "/patients/", headers, {
            "name": "王芳", "gender": "male", "birthday": "1975-06-01",
            "phone_number": "137 0000 0000", "id_number": NUMBER})
        assert r.status == 201, r.body
        pairs.append((headers, r.body["id"]))
    assert http(live_server, "PUT", "/settings/booking", admin_headers, policy).status == 200
    return pairs


def active_of_person() -> int:
    db.session.rollback()
    return db.session.scalar(text(
        "SELECT count(*) FROM registrations r JOIN patients p ON p.id = r.patient_id"
        " JOIN persons pe ON pe.id = p.person_id WHERE registration_holds_slot(r.status)"
        " AND pe.id_number_hash IS NOT NULL"))


def test_two_accounts_booking_one_person_at_once_get_exactly_the_quota(live_server,
                                                                       committing_db):
    factory = committing_db
    admin_headers = factory.headers(factory.admin())
    pairs = person_setup(live_server, factory, admin_headers, {"max_active_per_person": 3})
    schedules = [factory.schedule(date=TODAY + dt.timedelta(days=3 + i)).id for i in range(24)]
    db.session.close()

    calls = [(lambda h=pairs[i % 2][0], p=pairs[i % 2][1], s=s:
              http(live_server, "POST", "/registrations/", h,
                   {"patient_id": p, "schedule_id": s}))
             for i, s in enumerate(schedules)]
    replies = run_together(calls)

    assert all(r.status < 500 for r in replies), [r.body for r in replies if r.status >= 500]
    assert Counter(r.status for r in replies) == {201: 3, 409: 21}
    assert {r.code for r in replies if r.status == 409} == {"too_many_active"}
    assert active_of_person() == 3


def test_one_per_department_per_day_holds_at_once(live_server, committing_db):
    factory = committing_db
    admin_headers = factory.headers(factory.admin())
    pairs = person_setup(live_server, factory, admin_headers,
                         {"one_per_department_per_day": True})
    department = factory.department()
    day = TODAY + dt.timedelta(days=4)
    schedules = [factory.schedule(department=department, date=day).id for _ in range(40)]
    db.session.close()

    replies = run_together([
        (lambda h=pairs[i % 2][0], p=pairs[i % 2][1], s=s:
         http(live_server, "POST", "/registrations/", h, {"patient_id": p, "schedule_id": s}))
        for i, s in enumerate(schedules)])

    assert all(r.status < 500 for r in replies), [r.body for r in replies if r.status >= 500]
    assert Counter(r.status for r in replies) == {201: 1, 409: 39}
    assert {r.code for r in replies if r.status == 409} == {"daily_department_limit"}
    assert active_of_person() == 1
