"""Doctors: create, read, update and delete (with the active-bookings guard)."""
from __future__ import annotations

import datetime as dt

import pytest

from app.extensions import db
from app.models import Doctor, Registration, Schedule
from tests.assertions import assert_error

VALID = {"name": "李医生", "gender": "female", "email": "li@hospital.example",
         "phone_number": "+86 10 6552 8000", "description": "Paediatrician"}
FIELDS = {"id", "name", "gender", "email", "phone_number", "description", "created_at",
          "updated_at"}


def with_(**changes):
    body = dict(VALID)
    for key, value in changes.items():
        if value is ...:
            body.pop(key)
        else:
            body[key] = value
    return body


# --- create -----------------------------------------------------------------------------

def test_create_doctor(client, admin_headers):
    r = client.post("/doctors/", json=VALID, headers=admin_headers)
    assert r.status_code == 201, r.json
    assert set(r.json) == FIELDS
    assert {k: r.json[k] for k in VALID} == VALID
    assert client.get(f"/doctors/{r.json['id']}", headers=admin_headers).json == r.json


def test_create_doctor_description_optional_and_read_only_ignored(client, admin_headers):
    r = client.post("/doctors", headers=admin_headers,
                    json=with_(description=..., id=424242, updated_at="2001-01-01"))
    assert r.status_code == 201, r.json
    assert r.json["description"] is None
    assert r.json["id"] != 424242


@pytest.mark.parametrize("body,field", [
    (with_(name=...), "name"),
    (with_(name=""), "name"),
    (with_(name="x" * 101), "name"),
    (with_(gender=...), "gender"),
    (with_(gender="other"), "gender"),
    (with_(gender="Male"), "gender"),
    (with_(email=...), "email"),
    (with_(email="not-an-email"), "email"),
    (with_(email="a@b"), "email"),
    (with_(email="a b@example.com"), "email"),
    (with_(email="a@@example.com"), "email"),
    (with_(email="a" * 250 + "@example.com"), "email"),
    (with_(phone_number=...), "phone_number"),
    (with_(phone_number="1234"), "phone_number"),
    (with_(phone_number="call me maybe"), "phone_number"),
    (with_(phone_number="1" * 21), "phone_number"),
    (with_(description="d" * 2001), "description"),
    (with_(description=12), "description"),
    (with_(name=7), "name"),
], ids=["name-missing", "name-empty", "name-too-long", "gender-missing", "gender-unknown",
        "gender-case", "email-missing", "email-no-at", "email-no-dot-domain", "email-space",
        "email-double-at", "email-too-long", "phone-missing", "phone-too-short",
        "phone-letters", "phone-too-long", "description-too-long", "description-not-string",
        "name-not-string"])
def test_create_doctor_validation(client, admin_headers, body, field):
    r = client.post("/doctors/", json=body, headers=admin_headers)
    assert_error(r, 400, "validation_error")
    assert field in r.json["errors"]


def test_create_doctor_duplicate_phone(client, factory, admin_headers):
    factory.doctor(phone_number=VALID["phone_number"])
    r = client.post("/doctors/", json=VALID, headers=admin_headers)
    assert_error(r, 409, "duplicate_phone_number")
    assert "phone_number" in r.json["errors"]


def test_create_doctor_auth(client, user_headers):
    r = client.post("/doctors/", json=VALID)
    assert_error(r, 401, "invalid_token")
    r = client.post("/doctors/", json=VALID, headers=user_headers)
    assert_error(r, 403, "admin_required")


# --- read / update ------------------------------------------------------------------------

def test_get_doctor(client, factory, user_headers):
    doc = factory.doctor("Dr. House", gender="male")
    r = client.get(f"/doctors/{doc.id}", headers=user_headers)
    assert r.status_code == 200
    assert (r.json["name"], r.json["gender"]) == ("Dr. House", "male")
    r = client.get("/doctors/999999", headers=user_headers)
    assert_error(r, 404, "doctor_not_found")
    r = client.get(f"/doctors/{doc.id}")
    assert_error(r, 401, "invalid_token")


def test_update_doctor_is_partial(client, factory, admin_headers):
    doc = factory.doctor("Old name", email="old@example.com")
    r = client.put(f"/doctors/{doc.id}", json={"email": "new@example.org"},
                   headers=admin_headers)
    assert r.status_code == 200, r.json
    assert (r.json["name"], r.json["email"]) == ("Old name", "new@example.org")
    # the frontend sends whole objects back: read-only fields are ignored
    whole = dict(r.json, name="New name")
    r = client.put(f"/doctors/{doc.id}", json=whole, headers=admin_headers)
    assert r.status_code == 200, r.json
    assert r.json["name"] == "New name"
    assert r.json["id"] == doc.id


def test_update_doctor_duplicate_phone(client, factory, admin_headers):
    factory.doctor(phone_number="010-1234567")
    doc = factory.doctor()
    r = client.put(f"/doctors/{doc.id}", json={"phone_number": "010-1234567"},
                   headers=admin_headers)
    assert_error(r, 409, "duplicate_phone_number")
    r = client.put(f"/doctors/{doc.id}", json={"phone_number": doc.phone_number},
                   headers=admin_headers)
    assert r.status_code == 200


@pytest.mark.parametrize("body,field", [
    ({"gender": "x"}, "gender"), ({"email": "nope"}, "email"), ({"name": ""}, "name"),
    ({"phone_number": "abc"}, "phone_number"), ({"email": None}, "email"),
], ids=["gender", "email", "name", "phone", "email-null"])
def test_update_doctor_validation(client, factory, admin_headers, body, field):
    doc = factory.doctor()
    r = client.put(f"/doctors/{doc.id}", json=body, headers=admin_headers)
    assert_error(r, 400, "validation_error")
    assert field in r.json["errors"]


def test_update_doctor_errors(client, factory, admin_headers, user_headers):
    doc = factory.doctor()
    r = client.put("/doctors/999999", json={"name": "X"}, headers=admin_headers)
    assert_error(r, 404, "doctor_not_found")
    r = client.put(f"/doctors/{doc.id}", json={"name": "X"}, headers=user_headers)
    assert_error(r, 403, "admin_required")
    r = client.put(f"/doctors/{doc.id}", json={"name": "X"})
    assert_error(r, 401, "invalid_token")


# --- delete -----------------------------------------------------------------------------

def _booked_doctor(factory, *, days_ahead=10, status="scheduled", bookings=1):
    doc = factory.doctor()
    schedule = factory.schedule(doc, date=dt.date.today() + dt.timedelta(days=days_ahead))
    owner = factory.user()
    regs = [factory.registration(factory.patient(owner), schedule, status=status)
            for _ in range(bookings)]
    return doc, schedule, regs


def test_delete_doctor(client, factory, admin_headers):
    doc = factory.doctor()
    factory.schedule(doc)
    r = client.delete(f"/doctors/{doc.id}", headers=admin_headers)
    assert r.status_code == 204
    assert r.data == b""
    assert_error(client.get(f"/doctors/{doc.id}", headers=admin_headers), 404,
                 "doctor_not_found")


def test_delete_doctor_with_future_bookings_conflicts(client, factory, admin_headers):
    doc, _, _ = _booked_doctor(factory, bookings=2)
    r = client.delete(f"/doctors/{doc.id}", headers=admin_headers)
    assert_error(r, 409, "active_registrations")
    assert "2 future scheduled registrations" in r.json["message"]
    assert r.json["errors"]["registrations"] == "2 future scheduled registrations"


def test_delete_doctor_force(client, factory, admin_headers):
    doc, schedule, regs = _booked_doctor(factory)
    schedule_id, reg_id = schedule.id, regs[0].id
    r = client.delete(f"/doctors/{doc.id}?force=true", headers=admin_headers)
    assert r.status_code == 204
    db.session.expire_all()
    assert db.session.get(Doctor, doc.id) is None
    assert db.session.get(Schedule, schedule_id) is None
    assert db.session.get(Registration, reg_id) is None


def test_delete_doctor_force_false_still_guards(client, factory, admin_headers):
    doc, _, _ = _booked_doctor(factory)
    r = client.delete(f"/doctors/{doc.id}?force=false", headers=admin_headers)
    assert_error(r, 409, "active_registrations")


@pytest.mark.parametrize("days_ahead,status", [(-1, "scheduled"), (5, "cancelled"),
                                               (5, "no_show")],
                         ids=["past", "cancelled", "no-show"])
def test_delete_doctor_inactive_bookings_do_not_block(client, factory, admin_headers,
                                                      days_ahead, status):
    doc, _, _ = _booked_doctor(factory, days_ahead=days_ahead, status=status)
    r = client.delete(f"/doctors/{doc.id}", headers=admin_headers)
    assert r.status_code == 204


def test_delete_doctor_errors(client, factory, admin_headers, user_headers):
    doc = factory.doctor()
    r = client.delete(f"/doctors/{doc.id}?force=perhaps", headers=admin_headers)
    assert_error(r, 400, "validation_error")
    r = client.delete("/doctors/999999", headers=admin_headers)
    assert_error(r, 404, "doctor_not_found")
    r = client.delete(f"/doctors/{doc.id}", headers=user_headers)
    assert_error(r, 403, "admin_required")
    r = client.delete(f"/doctors/{doc.id}")
    assert_error(r, 401, "invalid_token")
