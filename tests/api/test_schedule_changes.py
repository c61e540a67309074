"""Schedules: update (every rule re-checked on the merged values) and delete."""
from __future__ import annotations

import datetime as dt

import pytest

from app.extensions import db
from app.models import Registration, Schedule
from app.services.schedule_rules import hospital_today
from tests.assertions import assert_error


@pytest.fixture()
def pair(factory):
    """An affiliated doctor and department."""
    doc, dep = factory.doctor(), factory.department()
    factory.affiliation(doc, dep)
    return doc, dep


@pytest.fixture()
def day():
    return hospital_today() + dt.timedelta(days=14)


# --- update -----------------------------------------------------------------------------

def test_update_schedule_is_partial(client, factory, pair, day, admin_headers):
    schedule = factory.schedule(*pair, date=day, max_appointments=10)
    r = client.put(f"/schedules/{schedule.id}", json={"max_appointments": 30},
                   headers=admin_headers)
    assert r.status_code == 200, r.json
    assert (r.json["max_appointments"], r.json["available_slots"]) == (30, 30)
    assert (r.json["start_time"], r.json["end_time"]) == ("08:00:00", "12:00:00")
    r = client.put(f"/schedules/{schedule.id}", json={"end_time": "11:00"},
                   headers=admin_headers)
    assert r.status_code == 200, r.json
    assert r.json["end_time"] == "11:00:00"
    assert r.json["max_appointments"] == 30


def test_update_schedule_accepts_the_whole_object_back(client, factory, pair, day,
                                                       admin_headers):
    schedule = factory.schedule(*pair, date=day)
    whole = client.get(f"/schedules/{schedule.id}", headers=admin_headers).json
    whole.update(start_time="09:00:00", available_slots=0, id=1)
    r = client.put(f"/schedules/{schedule.id}", json=whole, headers=admin_headers)
    assert r.status_code == 200, r.json
    assert r.json["id"] == schedule.id
    assert r.json["start_time"] == "09:00:00"
    assert r.json["available_slots"] == schedule.max_appointments


@pytest.mark.parametrize("changes,code", [
    ({"start_time": "12:00"}, "invalid_time_range"),
    ({"end_time": "07:00"}, "invalid_time_range"),
    ({"start_time": "13:00", "end_time": "13:00"}, "invalid_time_range"),
    ({"max_appointments": 0}, "validation_error"),
    ({"max_appointments": 1001}, "validation_error"),
    ({"date": "2026-13-01"}, "validation_error"),
], ids=["start-after-existing-end", "end-before-existing-start", "equal-times", "max-zero",
        "max-too-high", "bad-date"])
def test_update_schedule_rechecks_merged_values(client, factory, pair, day, admin_headers,
                                                changes, code):
    schedule = factory.schedule(*pair, date=day)
    r = client.put(f"/schedules/{schedule.id}", json=changes, headers=admin_headers)
    assert_error(r, 400, code)


def test_update_schedule_overlap(client, factory, pair, day, admin_headers):
    factory.schedule(*pair, date=day, start=dt.time(13), end=dt.time(17))
    schedule = factory.schedule(*pair, date=day, start=dt.time(8), end=dt.time(12))
    r = client.put(f"/schedules/{schedule.id}", json={"end_time": "13:30"},
                   headers=admin_headers)
    assert_error(r, 409, "schedule_overlap")
    # ending exactly when the next one starts is fine; so is keeping its own slot
    r = client.put(f"/schedules/{schedule.id}", json={"end_time": "13:00"},
                   headers=admin_headers)
    assert r.status_code == 200, r.json
    r = client.put(f"/schedules/{schedule.id}", json={"start_time": "08:30"},
                   headers=admin_headers)
    assert r.status_code == 200, r.json


def test_update_schedule_moving_date_into_overlap(client, factory, pair, day, admin_headers):
    factory.schedule(*pair, date=day + dt.timedelta(days=1))
    schedule = factory.schedule(*pair, date=day)
    r = client.put(f"/schedules/{schedule.id}",
                   json={"date": (day + dt.timedelta(days=1)).isoformat()},
                   headers=admin_headers)
    assert_error(r, 409, "schedule_overlap")


def test_update_schedule_max_below_booked(client, factory, pair, day, admin_headers):
    schedule = factory.schedule(*pair, date=day, max_appointments=5)
    owner = factory.user()
    for status in ("scheduled", "completed", "cancelled"):
        factory.registration(factory.patient(owner), schedule, status=status)
    r = client.put(f"/schedules/{schedule.id}", json={"max_appointments": 1},
                   headers=admin_headers)
    assert_error(r, 409, "max_below_booked")
    assert "max_appointments" in r.json["errors"]
    r = client.put(f"/schedules/{schedule.id}", json={"max_appointments": 2},
                   headers=admin_headers)
    assert r.status_code == 200, r.json
    assert r.json["available_slots"] == 0


def test_update_schedule_to_unaffiliated_department(client, factory, pair, day,
                                                    admin_headers):
    schedule = factory.schedule(*pair, date=day)
    elsewhere = factory.department()
    r = client.put(f"/schedules/{schedule.id}", json={"department_id": elsewhere.id},
                   headers=admin_headers)
    assert_error(r, 409, "not_affiliated")
    factory.affiliation(pair[0], elsewhere)
    r = client.put(f"/schedules/{schedule.id}", json={"department_id": elsewhere.id},
                   headers=admin_headers)
    assert r.status_code == 200, r.json
    assert r.json["department_id"] == elsewhere.id


@pytest.mark.parametrize("changes,code", [
    ({"doctor_id": 999999}, "doctor_not_found"),
    ({"department_id": 999999}, "department_not_found"),
], ids=["doctor", "department"])
def test_update_schedule_unknown_reference(client, factory, pair, day, admin_headers,
                                           changes, code):
    schedule = factory.schedule(*pair, date=day)
    r = client.put(f"/schedules/{schedule.id}", json=changes, headers=admin_headers)
    assert_error(r, 404, code)


def test_update_schedule_errors(client, factory, admin_headers, user_headers):
    schedule = factory.schedule()
    r = client.put("/schedules/999999", json={"max_appointments": 3}, headers=admin_headers)
    assert_error(r, 404, "schedule_not_found")
    r = client.put(f"/schedules/{schedule.id}", json={"max_appointments": 3},
                   headers=user_headers)
    assert_error(r, 403, "admin_required")
    r = client.put(f"/schedules/{schedule.id}", json={"max_appointments": 3})
    assert_error(r, 401, "invalid_token")
    r = client.put(f"/schedules/{schedule.id}", data="{", headers=admin_headers,
                   content_type="application/json")
    assert_error(r, 400, "invalid_json")


# --- delete -----------------------------------------------------------------------------

def test_delete_schedule(client, factory, admin_headers):
    schedule = factory.schedule()
    r = client.delete(f"/schedules/{schedule.id}", headers=admin_headers)
    assert r.status_code == 204
    assert r.data == b""
    r = client.get(f"/schedules/{schedule.id}", headers=admin_headers)
    assert_error(r, 404, "schedule_not_found")


def test_delete_schedule_with_future_bookings(client, factory, admin_headers):
    schedule = factory.schedule()
    owner = factory.user()
    reg_ids = [factory.registration(factory.patient(owner), schedule).id for _ in range(3)]
    factory.registration(factory.patient(owner), schedule, status="cancelled")
    schedule_id = schedule.id
    r = client.delete(f"/schedules/{schedule.id}", headers=admin_headers)
    assert_error(r, 409, "active_registrations")
    assert "3 future scheduled registrations" in r.json["message"]
    r = client.delete(f"/schedules/{schedule.id}?force=yes", headers=admin_headers)
    assert r.status_code == 204
    db.session.expire_all()
    assert db.session.get(Schedule, schedule_id) is None
    assert all(db.session.get(Registration, reg_id) is None for reg_id in reg_ids)


def test_delete_started_schedule_is_not_guarded(client, factory, admin_headers, monkeypatch):
    from app.services import schedule_rules

    day = hospital_today() + dt.timedelta(days=3)
    schedule = factory.schedule(date=day, start=dt.time(8), end=dt.time(12))
    factory.registration(factory.patient(factory.user()), schedule)
    monkeypatch.setattr(schedule_rules, "hospital_now",
                        lambda: dt.datetime.combine(day, dt.time(8, 0, 1)))
    r = client.delete(f"/schedules/{schedule.id}", headers=admin_headers)
    assert r.status_code == 204


def test_delete_schedule_errors(client, factory, admin_headers, user_headers):
    schedule = factory.schedule()
    r = client.delete(f"/schedules/{schedule.id}?force=2", headers=admin_headers)
    assert_error(r, 400, "validation_error")
    assert "force" in r.json["errors"]
    r = client.delete("/schedules/999999", headers=admin_headers)
    assert_error(r, 404, "schedule_not_found")
    r = client.delete(f"/schedules/{schedule.id}", headers=user_headers)
    assert_error(r, 403, "admin_required")
    r = client.delete(f"/schedules/{schedule.id}")
    assert_error(r, 401, "invalid_token")
