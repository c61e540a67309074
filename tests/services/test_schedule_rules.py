"""Schedule rules without HTTP: hospital time, the database backstops, the bookings guard."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.models import Schedule
from app.services import schedule_rules, schedules
from app.services.schedule_rules import (
    aware,
    check_schedule,
    guard_active_registrations,
    hospital_now,
    hospital_today,
)


@pytest.fixture()
def pair(factory):
    doc, dep = factory.doctor(), factory.department()
    factory.affiliation(doc, dep)
    return doc, dep


def values(pair, day, start=8, end=12, **extra):
    doc, dep = pair
    return {"doctor_id": doc.id, "department_id": dep.id, "date": day,
            "start_time": dt.time(start), "end_time": dt.time(end), "max_appointments": 10,
            **extra}


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Shanghai"],
                         ids=["utc+14", "utc-11", "shanghai"])
def test_hospital_now_uses_the_configured_timezone(app, db_session, monkeypatch, zone):
    monkeypatch.setitem(app.config, "HOSPITAL_TIMEZONE", zone)
    expected = dt.datetime.now(ZoneInfo(zone)).replace(tzinfo=None)
    now = hospital_now()
    assert now.tzinfo is None
    assert abs(now - expected) < dt.timedelta(seconds=5)
    assert hospital_today() in {expected.date(), (expected + dt.timedelta(seconds=5)).date()}


def test_database_rejects_overlap_without_the_python_check(app, factory, pair, monkeypatch):
    day = hospital_today() + dt.timedelta(days=5)
    schedules.create_schedule(**values(pair, day))
    monkeypatch.setattr(schedules, "check_schedule", lambda **_: None)
    with pytest.raises(Conflict) as err:
        schedules.create_schedule(**values(pair, day, start=11, end=13))
    assert err.value.code == "schedule_overlap"
    # touching ends are not an overlap for the exclusion constraint either
    schedules.create_schedule(**values(pair, day, start=12, end=13))
    assert db.session.scalar(db.select(db.func.count(Schedule.id))) == 2


def test_database_rejects_reversed_times_without_the_python_check(app, factory, pair,
                                                                  monkeypatch):
    monkeypatch.setattr(schedules, "check_schedule", lambda **_: None)
    with pytest.raises(ValidationFailed):
        schedules.create_schedule(**values(pair, hospital_today(), start=12, end=9))


def test_check_schedule_order_of_failures(app, factory, pair):
    day = hospital_today() + dt.timedelta(days=2)
    with pytest.raises(ValidationFailed) as err:
        check_schedule(**values(pair, day, start=12, end=8, doctor_id=999999))
    assert err.value.code == "invalid_time_range"
    with pytest.raises(NotFound) as err:
        check_schedule(**values(pair, day, doctor_id=999999))
    assert err.value.code == "doctor_not_found"
    with pytest.raises(Conflict) as err:
        check_schedule(**values(pair, day, max_appointments=2, booked_count=3))
    assert err.value.code == "max_below_booked"
    check_schedule(**values(pair, day, max_appointments=3, booked_count=3))


def test_update_excludes_the_schedule_itself(app, factory, pair):
    day = hospital_today() + dt.timedelta(days=2)
    created = schedules.create_schedule(**values(pair, day))
    updated = schedules.update_schedule(created.id, {"start_time": dt.time(9)})
    assert updated.start_time == dt.time(9)
    assert updated.available_slots == 10


@pytest.mark.parametrize("start,now,counted", [
    (dt.time(10), dt.time(9, 59, 59), True),
    (dt.time(10), dt.time(10), False),
    (dt.time(10), dt.time(11), False),
], ids=["later-today", "starting-now", "started"])
def test_guard_counts_only_schedules_that_have_not_started(app, factory, monkeypatch,
                                                           start, now, counted):
    day = hospital_today() + dt.timedelta(days=1)
    schedule = factory.schedule(date=day, start=start, end=dt.time(12))
    factory.registration(factory.patient(factory.user()), schedule)
    monkeypatch.setattr(schedule_rules, "hospital_now", lambda: dt.datetime.combine(day, now))
    scope = Schedule.id == schedule.id
    if counted:
        with pytest.raises(Conflict) as err:
            guard_active_registrations(scope, "Schedule", force=False)
        assert err.value.code == "active_registrations"
        assert guard_active_registrations(scope, "Schedule", force=True) == 1
    else:
        assert guard_active_registrations(scope, "Schedule", force=False) == 0


def test_guard_counts_future_dates_and_ignores_past_ones(app, factory, monkeypatch):
    doc = factory.doctor()
    today = hospital_today()
    owner = factory.user()
    for offset in (-1, 1, 2):
        schedule = factory.schedule(doc, date=today + dt.timedelta(days=offset))
        factory.registration(factory.patient(owner), schedule)
    with pytest.raises(Conflict) as err:
        guard_active_registrations(Schedule.doctor_id == doc.id, "Doctor", force=False)
    assert err.value.errors == {"registrations": "2 future scheduled registrations"}


def test_aware_times_carry_whole_minute_offsets(app):
    with app.app_context():
        assert aware(dt.datetime(2026, 12, 1, 7, 0)).isoformat() == "2026-12-01T07:00:00+08:00"
        # Shanghai's local mean time (+08:05:43) before 1901: given in UTC instead.
        assert aware(dt.datetime(94, 3, 1, 8, 0)).isoformat() == "0094-02-28T23:54:17+00:00"
        assert aware(None) is None
