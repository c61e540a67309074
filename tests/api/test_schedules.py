"""Schedules: create and read, with every schedule rule."""
from __future__ import annotations

import datetime as dt

import pytest

from app.services.schedule_rules import hospital_today
from tests.assertions import assert_error

FIELDS = {"id", "doctor_id", "department_id", "date", "start_time", "end_time",
          "max_appointments", "available_slots", "slot_minutes", "status", "suspend_reason",
          "release_at",
          "bookable", "created_at", "updated_at"}


@pytest.fixture()
def pair(factory):
    """An affiliated doctor and department."""
    doc, dep = factory.doctor(), factory.department()
    factory.affiliation(doc, dep)
    return doc, dep


@pytest.fixture()
def day():
    return hospital_today() + dt.timedelta(days=14)


def body_for(pair, day, **changes):
    doc, dep = pair
    body = {"doctor_id": doc.id, "department_id": dep.id, "date": day.isoformat(),
            "start_time": "08:00", "end_time": "12:00", "max_appointments": 20}
    for key, value in changes.items():
        if value is ...:
            body.pop(key)
        else:
            body[key] = value
    return body


# --- create -----------------------------------------------------------------------------

def test_create_schedule(client, pair, day, admin_headers):
    r = client.post("/schedules/", json=body_for(pair, day), headers=admin_headers)
    assert r.status_code == 201, r.json
    body = r.json
    assert set(body) == FIELDS
    assert (body["doctor_id"], body["department_id"]) == (pair[0].id, pair[1].id)
    assert body["date"] == day.isoformat()
    assert (body["start_time"], body["end_time"]) == ("08:00:00", "12:00:00")
    assert body["max_appointments"] == body["available_slots"] == 20
    assert body["created_at"].endswith("+00:00")
    assert client.get(f"/schedules/{body['id']}", headers=admin_headers).json == body


def test_create_schedule_ignores_read_only_fields(client, pair, day, admin_headers):
    r = client.post("/schedules", headers=admin_headers,
                    json=body_for(pair, day, id=777777, available_slots=1,
                                  start_time="09:30:15"))
    assert r.status_code == 201, r.json
    assert r.json["id"] != 777777
    assert r.json["available_slots"] == 20
    assert r.json["start_time"] == "09:30:15"


def test_admin_may_create_schedule_in_the_past(client, pair, admin_headers):
    past = hospital_today() - dt.timedelta(days=30)
    r = client.post("/schedules/", json=body_for(pair, past), headers=admin_headers)
    assert r.status_code == 201, r.json
    assert r.json["date"] == past.isoformat()


@pytest.mark.parametrize("changes,field", [
    ({"doctor_id": ...}, "doctor_id"),
    ({"department_id": ...}, "department_id"),
    ({"date": ...}, "date"),
    ({"start_time": ...}, "start_time"),
    ({"end_time": ...}, "end_time"),
    ({"max_appointments": ...}, "max_appointments"),
    ({"doctor_id": "1"}, "doctor_id"),
    ({"department_id": None}, "department_id"),
    ({"date": "2026-02-30"}, "date"),
    ({"date": "tomorrow"}, "date"),
    ({"date": 20261201}, "date"),
    ({"start_time": "25:00"}, "start_time"),
    ({"start_time": "8am"}, "start_time"),
    ({"end_time": "12:60"}, "end_time"),
    ({"max_appointments": 0}, "max_appointments"),
    ({"max_appointments": 1001}, "max_appointments"),
    ({"max_appointments": "10"}, "max_appointments"),
    ({"max_appointments": 2.5}, "max_appointments"),
    ({"max_appointments": -1}, "max_appointments"),
], ids=["no-doctor", "no-department", "no-date", "no-start", "no-end", "no-max",
        "doctor-string", "department-null", "impossible-date", "word-date", "number-date",
        "hour-25", "start-words", "minute-60", "max-zero", "max-1001", "max-string",
        "max-float", "max-negative"])
def test_create_schedule_validation(client, pair, day, admin_headers, changes, field):
    r = client.post("/schedules/", json=body_for(pair, day, **changes), headers=admin_headers)
    assert_error(r, 400, "validation_error")
    assert field in r.json["errors"]


@pytest.mark.parametrize("start,end", [("10:00", "10:00"), ("12:00", "08:00")],
                         ids=["equal", "reversed"])
def test_create_schedule_time_order(client, pair, day, admin_headers, start, end):
    r = client.post("/schedules/", json=body_for(pair, day, start_time=start, end_time=end),
                    headers=admin_headers)
    assert_error(r, 400, "invalid_time_range")
    assert "end_time" in r.json["errors"]


def test_create_schedule_capacity_bounds_are_inclusive(client, pair, day, admin_headers):
    r = client.post("/schedules/", json=body_for(pair, day, max_appointments=1),
                    headers=admin_headers)
    assert r.status_code == 201, r.json
    r = client.post("/schedules/", headers=admin_headers,
                    json=body_for(pair, day, start_time="13:00", end_time="14:00",
                                  max_appointments=1000))
    assert r.status_code == 201, r.json


@pytest.mark.parametrize("which,code", [("doctor_id", "doctor_not_found"),
                                        ("department_id", "department_not_found")],
                         ids=["doctor", "department"])
def test_create_schedule_unknown_reference(client, pair, day, admin_headers, which, code):
    r = client.post("/schedules/", json=body_for(pair, day, **{which: 999999}),
                    headers=admin_headers)
    assert_error(r, 404, code)


def test_create_schedule_not_affiliated(client, factory, day, admin_headers):
    doc, dep = factory.doctor(), factory.department()
    r = client.post("/schedules/", json=body_for((doc, dep), day), headers=admin_headers)
    assert_error(r, 409, "not_affiliated")


@pytest.mark.parametrize("start,end", [
    ("08:00", "12:00"), ("07:00", "08:01"), ("11:59", "13:00"), ("09:00", "10:00"),
    ("06:00", "14:00"),
], ids=["same", "overlaps-start", "overlaps-end", "inside", "around"])
def test_create_schedule_overlap(client, factory, pair, day, admin_headers, start, end):
    factory.schedule(*pair, date=day, start=dt.time(8), end=dt.time(12))
    r = client.post("/schedules/", json=body_for(pair, day, start_time=start, end_time=end),
                    headers=admin_headers)
    assert_error(r, 409, "schedule_overlap")
    assert "start_time" in r.json["errors"]


def test_overlap_applies_across_departments(client, factory, pair, day, admin_headers):
    doc, _ = pair
    other = factory.department()
    factory.affiliation(doc, other)
    factory.schedule(*pair, date=day, start=dt.time(8), end=dt.time(12))
    r = client.post("/schedules/", json=body_for((doc, other), day, start_time="10:00",
                                                 end_time="11:00"), headers=admin_headers)
    assert_error(r, 409, "schedule_overlap")


@pytest.mark.parametrize("start,end,shift_days", [
    ("12:00", "13:00", 0), ("07:00", "08:00", 0), ("08:00", "12:00", 1),
], ids=["adjacent-after", "adjacent-before", "next-day"])
def test_non_overlapping_schedules(client, factory, pair, day, admin_headers,
                                   start, end, shift_days):
    factory.schedule(*pair, date=day, start=dt.time(8), end=dt.time(12))
    date = day + dt.timedelta(days=shift_days)
    r = client.post("/schedules/", json=body_for(pair, date, start_time=start, end_time=end),
                    headers=admin_headers)
    assert r.status_code == 201, r.json


def test_other_doctor_same_time_is_fine(client, factory, pair, day, admin_headers):
    factory.schedule(*pair, date=day, start=dt.time(8), end=dt.time(12))
    colleague = factory.doctor()
    factory.affiliation(colleague, pair[1])
    r = client.post("/schedules/", json=body_for((colleague, pair[1]), day),
                    headers=admin_headers)
    assert r.status_code == 201, r.json


def test_create_schedule_auth(client, pair, day, user_headers):
    r = client.post("/schedules/", json=body_for(pair, day))
    assert_error(r, 401, "invalid_token")
    r = client.post("/schedules/", json=body_for(pair, day), headers=user_headers)
    assert_error(r, 403, "admin_required")


# --- read -------------------------------------------------------------------------------

def test_get_schedule_counts_active_bookings(client, factory, pair, user_headers):
    schedule = factory.schedule(*pair, max_appointments=5)
    owner = factory.user()
    for status in ("scheduled", "completed", "cancelled", "no_show"):
        factory.registration(factory.patient(owner), schedule, status=status)
    r = client.get(f"/schedules/{schedule.id}", headers=user_headers)
    assert r.status_code == 200
    assert r.json["max_appointments"] == 5
    assert r.json["available_slots"] == 3


def test_get_schedule_errors(client, factory, user_headers):
    schedule = factory.schedule()
    r = client.get("/schedules/999999", headers=user_headers)
    assert_error(r, 404, "schedule_not_found")
    r = client.get(f"/schedules/{schedule.id}")
    assert_error(r, 401, "invalid_token")
