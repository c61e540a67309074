"""The registration status machine: cancel, complete, admin status changes, reinstating."""
from __future__ import annotations

import datetime as dt

import pytest

from app.extensions import db
from app.models import Schedule
from tests.assertions import assert_error

STATUSES = ("scheduled", "completed", "cancelled", "no_show")
# (from, to) pairs an admin may make through PUT {status}.
ALLOWED = {("scheduled", "cancelled"), ("scheduled", "completed"), ("scheduled", "no_show"),
           ("cancelled", "scheduled")}


@pytest.fixture()
def patient(factory, owner):
    return factory.patient(owner)


@pytest.fixture()
def schedule(factory):
    return factory.schedule(max_appointments=2)


@pytest.fixture()
def started_schedule(factory):
    return factory.schedule(date=dt.date.today() - dt.timedelta(days=1), max_appointments=2)


def booked_count(schedule_id: int) -> int:
    db.session.expire_all()
    return db.session.get(Schedule, schedule_id).booked_count


# --- cancel -------------------------------------------------------------------------------

def test_owner_cancels_before_the_start(client, factory, owner_headers, patient, schedule):
    reg = factory.registration(patient, schedule)
    assert booked_count(schedule.id) == 1
    r = client.put(f"/registrations/{reg.id}/cancel", headers=owner_headers)
    assert r.status_code == 200, r.json
    assert r.json["status"] == "cancelled"
    assert r.json["queue_number"] == reg.queue_number
    assert booked_count(schedule.id) == 0


def test_cancel_accepts_an_empty_or_any_body(client, factory, owner_headers, patient, schedule):
    reg = factory.registration(patient, schedule)
    r = client.put(f"/registrations/{reg.id}/cancel", headers=owner_headers, data="",
                   content_type="application/json")
    assert r.status_code == 200, r.json


def test_owner_cannot_cancel_after_the_start(client, factory, owner_headers, patient,
                                             started_schedule):
    reg = factory.registration(patient, started_schedule)
    r = client.put(f"/registrations/{reg.id}/cancel", headers=owner_headers)
    assert_error(r, 409, "schedule_started")
    assert booked_count(started_schedule.id) == 1


def test_admin_cancels_any_time(client, factory, admin_headers, patient, started_schedule):
    reg = factory.registration(patient, started_schedule)
    r = client.put(f"/registrations/{reg.id}/cancel", headers=admin_headers)
    assert r.status_code == 200
    assert r.json["status"] == "cancelled"
    assert booked_count(started_schedule.id) == 0


@pytest.mark.parametrize("status", ["cancelled", "completed", "no_show"])
def test_cancel_only_from_scheduled(client, factory, admin_headers, patient, schedule, status):
    reg = factory.registration(patient, schedule, status=status)
    r = client.put(f"/registrations/{reg.id}/cancel", headers=admin_headers)
    assert_error(r, 409, "invalid_status_transition")


def test_cancel_of_another_users_registration_is_404(client, factory, user_headers,
                                                      patient, schedule):
    reg = factory.registration(patient, schedule)
    r = client.put(f"/registrations/{reg.id}/cancel", headers=user_headers)
    assert_error(r, 404, "registration_not_found")
    assert booked_count(schedule.id) == 1


def test_cancel_unknown_is_404_and_needs_a_token(client, owner_headers):
    r = client.put("/registrations/2147483647/cancel", headers=owner_headers)
    assert_error(r, 404, "registration_not_found")
    assert_error(client.put("/registrations/1/cancel"), 401, "invalid_token")


# --- complete -----------------------------------------------------------------------------

def test_admin_completes(client, factory, admin_headers, patient, schedule):
    reg = factory.registration(patient, schedule)
    r = client.put(f"/registrations/{reg.id}/complete", headers=admin_headers)
    assert r.status_code == 200, r.json
    assert r.json["status"] == "completed"
    assert booked_count(schedule.id) == 1  # a completed visit still holds its slot


def test_owner_cannot_complete(client, factory, owner_headers, patient, schedule):
    reg = factory.registration(patient, schedule)
    r = client.put(f"/registrations/{reg.id}/complete", headers=owner_headers)
    assert_error(r, 403, "admin_required")
    assert client.get(f"/registrations/{reg.id}", headers=owner_headers).json["status"] == \
        "scheduled"


def test_stranger_completing_gets_404(client, factory, user_headers, patient, schedule):
    reg = factory.registration(patient, schedule)
    r = client.put(f"/registrations/{reg.id}/complete", headers=user_headers)
    assert_error(r, 404, "registration_not_found")


@pytest.mark.parametrize("status", ["cancelled", "completed", "no_show"])
def test_complete_only_from_scheduled(client, factory, admin_headers, patient, schedule,
                                      status):
    reg = factory.registration(patient, schedule, status=status)
    r = client.put(f"/registrations/{reg.id}/complete", headers=admin_headers)
    assert_error(r, 409, "invalid_status_transition")


def test_complete_unknown_is_404_and_needs_a_token(client, admin_headers):
    r = client.put("/registrations/2147483647/complete", headers=admin_headers)
    assert_error(r, 404, "registration_not_found")
    assert_error(client.put("/registrations/1/complete"), 401, "invalid_token")


# --- admin PUT {status}: the whole table ---------------------------------------------------

TRANSITIONS = [(old, new) for old in STATUSES for new in STATUSES if old != new]


@pytest.mark.parametrize("old,new", TRANSITIONS, ids=[f"{o}-to-{n}" for o, n in TRANSITIONS])
def test_status_transitions(client, factory, admin_headers, patient, schedule, old, new):
    reg = factory.registration(patient, schedule, status=old)
    r = client.put(f"/registrations/{reg.id}", headers=admin_headers, json={"status": new})
    if (old, new) in ALLOWED:
        assert r.status_code == 200, r.json
        assert r.json["status"] == new
        expected = 1 if new in ("scheduled", "completed") else 0
    else:
        assert_error(r, 409, "invalid_status_transition")
        expected = 1 if old in ("scheduled", "completed") else 0
    assert booked_count(schedule.id) == expected


def test_admin_status_change_after_the_start(client, factory, admin_headers, patient,
                                             started_schedule):
    reg = factory.registration(patient, started_schedule)
    r = client.put(f"/registrations/{reg.id}", headers=admin_headers, json={"status": "no_show"})
    assert r.status_code == 200
    assert r.json["status"] == "no_show"
    assert booked_count(started_schedule.id) == 0


def test_reinstating_needs_a_free_slot(client, factory, admin_headers, owner, patient):
    schedule = factory.schedule(max_appointments=1)
    cancelled = factory.registration(patient, schedule, status="cancelled")
    taken = factory.registration(factory.patient(owner), schedule)
    r = client.put(f"/registrations/{cancelled.id}", headers=admin_headers,
                   json={"status": "scheduled"})
    assert_error(r, 409, "schedule_full")
    client.put(f"/registrations/{taken.id}/cancel", headers=admin_headers)
    r = client.put(f"/registrations/{cancelled.id}", headers=admin_headers,
                   json={"status": "scheduled"})
    assert r.status_code == 200
    assert r.json["status"] == "scheduled"
    assert r.json["queue_number"] == cancelled.queue_number
    assert booked_count(schedule.id) == 1


def test_reinstating_when_the_patient_rebooked_is_409(client, factory, admin_headers, patient,
                                                      schedule):
    cancelled = factory.registration(patient, schedule, status="cancelled")
    factory.registration(patient, schedule)
    r = client.put(f"/registrations/{cancelled.id}", headers=admin_headers,
                   json={"status": "scheduled"})
    assert_error(r, 409, "duplicate_registration")


def test_owner_put_cannot_change_status(client, factory, owner_headers, patient, schedule):
    reg = factory.registration(patient, schedule, status="cancelled")
    r = client.put(f"/registrations/{reg.id}", headers=owner_headers,
                   json={"status": "scheduled", "notes": "please"})
    assert r.status_code == 200
    assert (r.json["status"], r.json["notes"]) == ("cancelled", "please")
    assert booked_count(schedule.id) == 0


def test_failed_status_change_keeps_notes_unchanged(client, factory, admin_headers, patient,
                                                    schedule):
    reg = factory.registration(patient, schedule, status="completed", notes="old")
    r = client.put(f"/registrations/{reg.id}", headers=admin_headers,
                   json={"status": "cancelled", "notes": "new"})
    assert_error(r, 409, "invalid_status_transition")
    r = client.get(f"/registrations/{reg.id}", headers=admin_headers)
    assert (r.json["status"], r.json["notes"]) == ("completed", "old")


def test_put_unknown_registration_is_404(client, admin_headers):
    r = client.put("/registrations/2147483647", headers=admin_headers, json={"notes": "x"})
    assert_error(r, 404, "registration_not_found")


def test_put_needs_a_token(client):
    assert_error(client.put("/registrations/1", json={"notes": "x"}), 401, "invalid_token")


# --- delete and the clock ------------------------------------------------------------------

def test_owner_cannot_delete_a_scheduled_registration_once_started(
        client, factory, owner_headers, patient, started_schedule):
    reg = factory.registration(patient, started_schedule)
    r = client.delete(f"/registrations/{reg.id}", headers=owner_headers)
    assert_error(r, 409, "schedule_started")
    assert client.get(f"/registrations/{reg.id}", headers=owner_headers).status_code == 200
    assert booked_count(started_schedule.id) == 1


@pytest.mark.parametrize("status", ["cancelled", "completed", "no_show"])
def test_owner_deletes_a_past_registration_that_is_not_scheduled(
        client, factory, owner_headers, patient, started_schedule, status):
    reg = factory.registration(patient, started_schedule, status=status)
    assert client.delete(f"/registrations/{reg.id}", headers=owner_headers).status_code == 204


def test_admin_deletes_a_scheduled_registration_after_the_start(
        client, factory, admin_headers, patient, started_schedule):
    reg = factory.registration(patient, started_schedule)
    assert client.delete(f"/registrations/{reg.id}", headers=admin_headers).status_code == 204
    assert booked_count(started_schedule.id) == 0
