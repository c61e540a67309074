"""The booking policy (号源规则): release (放号), cutoff, cancel deadline, admin bypasses."""
from __future__ import annotations

import datetime as dt

import pytest

from app.extensions import db
from app.models import Department
from tests.assertions import assert_error
from tests.clock import set_clock

DAY = dt.date.today() + dt.timedelta(days=40)
START = dt.datetime.combine(DAY, dt.time(8, 0))
DEFAULTS = {"horizon_days": None, "release_time": "00:00:00", "booking_cutoff_minutes": 0,
            "cancel_deadline_minutes": 0, "one_per_department_per_day": False,
            "max_active_per_person": None, "no_show_limit": 0, "no_show_window_days": 90,
            "no_show_suspend_days": 90, "require_id_number": False,
            "check_in_opens_minutes": 60}


def put_policy(client, headers, **changes):
    r = client.put("/settings/booking", headers=headers, json=changes)
    assert r.status_code == 200, r.json
    return r.json


def book(client, headers, patient_id, schedule_id, **extra):
    return client.post("/registrations/", headers=headers,
                       json={"patient_id": patient_id, "schedule_id": schedule_id, **extra})


@pytest.fixture()
def booked(factory, owner):
    """A schedule 08:00-12:00 on DAY and one patient of the owner."""
    return factory.schedule(date=DAY), factory.patient(owner)


# --- the policy resource ----------------------------------------------------------------

def test_the_default_policy_changes_nothing(client, user_headers):
    r = client.get("/settings/booking", headers=user_headers)
    assert r.status_code == 200
    assert {k: r.json[k] for k in DEFAULTS} == DEFAULTS
    assert set(r.json) == {*DEFAULTS, "updated_at"}


def test_put_is_partial_and_answers_the_whole_policy(client, admin_headers, user_headers):
    body = put_policy(client, admin_headers, horizon_days=7, release_time="07:00")
    assert body == {**DEFAULTS, "horizon_days": 7, "release_time": "07:00:00",
                    "updated_at": body["updated_at"]}
    body = put_policy(client, admin_headers, booking_cutoff_minutes=30,
                      id=5, updated_at="2000-01-01T00:00:00+00:00", unknown="ignored")
    assert (body["horizon_days"], body["booking_cutoff_minutes"]) == (7, 30)
    assert not body["updated_at"].startswith("2000")
    assert client.get("/settings/booking", headers=user_headers).json == body
    assert put_policy(client, admin_headers, horizon_days=None)["horizon_days"] is None


@pytest.mark.parametrize(("changes", "fields"), [
    ({"horizon_days": 0}, {"horizon_days"}),
    ({"horizon_days": 91}, {"horizon_days"}),
    ({"horizon_days": "7"}, {"horizon_days"}),
    ({"release_time": "25:00"}, {"release_time"}),
    ({"release_time": None}, {"release_time"}),
    ({"booking_cutoff_minutes": -1}, {"booking_cutoff_minutes"}),
    ({"booking_cutoff_minutes": 1441}, {"booking_cutoff_minutes"}),
    ({"booking_cutoff_minutes": None}, {"booking_cutoff_minutes"}),
    ({"cancel_deadline_minutes": 10081}, {"cancel_deadline_minutes"}),
    ({"cancel_deadline_minutes": True}, {"cancel_deadline_minutes"}),
    # Every bad field is named, and a good one beside them is not applied.
    ({"horizon_days": 3, "booking_cutoff_minutes": 5000, "release_time": "x"},
     {"booking_cutoff_minutes", "release_time"}),
])
def test_bad_values_are_400_naming_each_field_and_change_nothing(
        client, admin_headers, changes, fields):
    before = client.get("/settings/booking", headers=admin_headers).json
    body = assert_error(client.put("/settings/booking", headers=admin_headers, json=changes),
                        400, "validation_error")
    assert set(body["errors"]) == fields
    assert client.get("/settings/booking", headers=admin_headers).json == before


def test_policy_limits_are_accepted(client, admin_headers):
    body = put_policy(client, admin_headers, horizon_days=90, booking_cutoff_minutes=1440,
                      cancel_deadline_minutes=10080, release_time="23:59:59")
    assert (body["horizon_days"], body["booking_cutoff_minutes"],
            body["cancel_deadline_minutes"], body["release_time"]) == (90, 1440, 10080,
                                                                     "23:59:59")
    assert put_policy(client, admin_headers, horizon_days=1)["horizon_days"] == 1


def test_only_admins_change_the_policy(client, user_headers):
    assert_error(client.put("/settings/booking", headers=user_headers,
                            json={"horizon_days": 7}), 403, "admin_required")
    assert client.get("/settings/booking", headers=user_headers).json["horizon_days"] is None


# --- release (放号) ------------------------------------------------------------------------

def test_release_at_follows_the_policy_and_the_department_override(
        client, admin_headers, factory):
    department = factory.department()
    schedule = factory.schedule(department=department, date=DAY)
    shown = client.get(f"/schedules/{schedule.id}", headers=admin_headers).json
    assert shown["release_at"] is None and shown["bookable"] is True
    assert shown["status"] == "open" and shown["slot_minutes"] is None

    put_policy(client, admin_headers, horizon_days=7, release_time="07:00")
    released = DAY - dt.timedelta(days=7)
    shown = client.get(f"/schedules/{schedule.id}", headers=admin_headers).json
    assert shown["release_at"] == f"{released.isoformat()}T07:00:00+08:00"

    r = client.put(f"/departments/{department.id}", headers=admin_headers,
                   json={"horizon_days": 14, "release_time": "08:30"})
    assert r.status_code == 200, r.json
    assert (r.json["horizon_days"], r.json["release_time"]) == (14, "08:30:00")
    shown = client.get(f"/schedules/{schedule.id}", headers=admin_headers).json
    released = DAY - dt.timedelta(days=14)
    assert shown["release_at"] == f"{released.isoformat()}T08:30:00+08:00"

    # Only the time overridden: the hospital's horizon with the department's time.
    client.put(f"/departments/{department.id}", headers=admin_headers,
               json={"horizon_days": None})
    shown = client.get(f"/schedules/{schedule.id}", headers=admin_headers).json
    released = DAY - dt.timedelta(days=7)
    assert shown["release_at"] == f"{released.isoformat()}T08:30:00+08:00"


def test_a_department_horizon_applies_without_a_hospital_horizon(client, admin_headers,
                                                                  factory):
    r = client.post("/departments/", headers=admin_headers,
                    json={"name": "Ophthalmology", "horizon_days": 3})
    assert r.status_code == 201 and r.json["horizon_days"] == 3
    assert r.json["release_time"] is None
    department = db.session.get(Department, r.json["id"])
    schedule = factory.schedule(department=department, date=DAY)
    shown = client.get(f"/schedules/{schedule.id}", headers=admin_headers).json
    assert shown["release_at"] == f"{(DAY - dt.timedelta(days=3)).isoformat()}T00:00:00+08:00"


@pytest.mark.parametrize("value", [0, 91, "3", 1.5])
def test_bad_department_horizons_are_400(client, admin_headers, value):
    body = assert_error(client.post("/departments/", headers=admin_headers,
                                    json={"name": "X", "horizon_days": value}),
                        400, "validation_error")
    assert set(body["errors"]) == {"horizon_days"}


def test_booking_before_the_release_is_refused_with_release_at(
        client, monkeypatch, admin_headers, owner_headers, booked):
    schedule, patient = booked
    put_policy(client, admin_headers, horizon_days=7, release_time="07:00")
    release = dt.datetime.combine(DAY - dt.timedelta(days=7), dt.time(7, 0))
    set_clock(monkeypatch, release - dt.timedelta(seconds=1))
    shown = client.get(f"/schedules/{schedule.id}", headers=owner_headers).json
    assert shown["bookable"] is False
    body = assert_error(book(client, owner_headers, patient.id, schedule.id), 409,
                        "not_yet_released")
    assert body["release_at"] == release.isoformat() + "+08:00"
    assert client.get(f"/schedules/{schedule.id}", headers=owner_headers).json[
        "available_slots"] == 10

    set_clock(monkeypatch, release)
    assert client.get(f"/schedules/{schedule.id}", headers=owner_headers).json["bookable"]
    assert book(client, owner_headers, patient.id, schedule.id).status_code == 201


def test_admins_book_before_the_release(client, monkeypatch, admin_headers, booked):
    schedule, patient = booked
    put_policy(client, admin_headers, horizon_days=1)
    set_clock(monkeypatch, START - dt.timedelta(days=5))
    r = book(client, admin_headers, patient.id, schedule.id)
    assert r.status_code == 201, r.json


# --- the cutoff ------------------------------------------------------------------------------

def test_booking_closes_at_the_cutoff(client, monkeypatch, admin_headers, owner, owner_headers,
                                      factory, booked):
    schedule, patient = booked
    put_policy(client, admin_headers, booking_cutoff_minutes=30)
    set_clock(monkeypatch, START - dt.timedelta(minutes=30, seconds=1))
    assert client.get(f"/schedules/{schedule.id}", headers=owner_headers).json["bookable"]
    assert book(client, owner_headers, patient.id, schedule.id).status_code == 201

    set_clock(monkeypatch, START - dt.timedelta(minutes=30))
    assert not client.get(f"/schedules/{schedule.id}", headers=owner_headers).json["bookable"]
    assert_error(book(client, owner_headers, factory.patient(owner).id,
                      schedule.id), 409, "booking_closed")
    # The registration counter (an admin) still books until the start ...
    assert book(client, admin_headers, factory.patient(owner).id,
                schedule.id).status_code == 201
    # ... but not once the schedule has started.
    set_clock(monkeypatch, START)
    assert_error(book(client, admin_headers, factory.patient(owner).id, schedule.id),
                 409, "schedule_started")


def test_a_slotted_cutoff_counts_from_each_slot(client, monkeypatch, admin_headers, owner,
                                                owner_headers, factory):
    # 08:00-12:00 in 2-hour slots of 1 place each; a 60-minute cutoff.
    schedule = factory.schedule(date=DAY, max_appointments=2, slot_minutes=120)
    slots = client.get(f"/schedules/{schedule.id}/slots", headers=owner_headers).json[
        "results"]
    put_policy(client, admin_headers, booking_cutoff_minutes=60)
    set_clock(monkeypatch, START - dt.timedelta(minutes=60))  # first slot closed, second open
    shown = client.get(f"/schedules/{schedule.id}", headers=owner_headers).json
    assert shown["bookable"] is True
    assert_error(book(client, owner_headers, factory.patient(owner).id, schedule.id,
                      slot_id=slots[0]["id"]), 409, "booking_closed")
    r = book(client, owner_headers, factory.patient(owner).id, schedule.id)
    assert (r.status_code, r.json["slot_id"]) == (201, slots[1]["id"])
    # The place left is in the closed slot: closed for patients, not for the counter.
    assert not client.get(f"/schedules/{schedule.id}", headers=owner_headers).json["bookable"]
    assert_error(book(client, owner_headers, factory.patient(owner).id, schedule.id), 409,
                 "booking_closed")
    r = book(client, admin_headers, factory.patient(owner).id, schedule.id)
    assert (r.status_code, r.json["slot_id"]) == (201, slots[0]["id"])
    # Every slot past the cutoff (now full too): closed comes before capacity.
    put_policy(client, admin_headers, booking_cutoff_minutes=180)
    assert_error(book(client, owner_headers, factory.patient(owner).id, schedule.id), 409,
                 "booking_closed")


def test_refusals_come_in_the_documented_order(client, monkeypatch, admin_headers, owner,
                                               owner_headers, factory):
    schedule = factory.schedule(date=DAY, max_appointments=1)
    patient = factory.patient(owner)
    book(client, admin_headers, factory.patient(owner).id, schedule.id)  # now full
    # Released the day before at 12:00; booking closes 24 hours before the start (08:00).
    put_policy(client, admin_headers, horizon_days=1, release_time="12:00",
               booking_cutoff_minutes=1440)
    eve = DAY - dt.timedelta(days=1)
    # Not released, past the cutoff and full: not yet released comes first.
    set_clock(monkeypatch, dt.datetime.combine(eve, dt.time(10)))
    assert_error(book(client, owner_headers, patient.id, schedule.id), 409, "not_yet_released")
    # Released, past the cutoff and full: closed.
    set_clock(monkeypatch, dt.datetime.combine(eve, dt.time(13)))
    assert_error(book(client, owner_headers, patient.id, schedule.id), 409, "booking_closed")
    # Suspended wins over the policy, for admins too; started wins over everything.
    db.session.execute(db.text("UPDATE schedules SET status = 'suspended' WHERE id = :id"),
                       {"id": schedule.id})
    assert_error(book(client, owner_headers, patient.id, schedule.id), 409,
                 "schedule_suspended")
    assert_error(book(client, admin_headers, patient.id, schedule.id), 409,
                 "schedule_suspended")
    set_clock(monkeypatch, START)
    assert_error(book(client, owner_headers, patient.id, schedule.id), 409, "schedule_started")
    # Open again and without the policy in the way, capacity answers.
    set_clock(monkeypatch, dt.datetime.combine(eve, dt.time(13)))
    db.session.execute(db.text("UPDATE schedules SET status = 'open' WHERE id = :id"),
                       {"id": schedule.id})
    put_policy(client, admin_headers, horizon_days=None, booking_cutoff_minutes=0)
    assert_error(book(client, owner_headers, patient.id, schedule.id), 409, "schedule_full")


def test_a_suspended_schedule_is_not_bookable(client, owner_headers, factory):
    schedule = factory.schedule(date=DAY)
    db.session.execute(db.text("UPDATE schedules SET status = 'suspended' WHERE id = :id"),
                       {"id": schedule.id})
    shown = client.get(f"/schedules/{schedule.id}", headers=owner_headers).json
    assert (shown["status"], shown["bookable"]) == ("suspended", False)


# --- the cancel deadline -----------------------------------------------------------------

@pytest.mark.parametrize("how", ["cancel", "delete"])
def test_owners_cancel_only_before_the_deadline(client, monkeypatch, admin_headers, owner_headers,
                                                booked, how):
    schedule, patient = booked
    registration = book(client, owner_headers, patient.id, schedule.id).json
    put_policy(client, admin_headers, cancel_deadline_minutes=120)

    def cancel(headers):
        if how == "cancel":
            return client.put(f"/registrations/{registration['id']}/cancel", headers=headers)
        return client.delete(f"/registrations/{registration['id']}", headers=headers)

    set_clock(monkeypatch, START - dt.timedelta(minutes=120))
    assert_error(cancel(owner_headers), 409, "cancel_deadline_passed")
    assert client.get(f"/registrations/{registration['id']}", headers=owner_headers).json[
        "status"] == "scheduled"
    set_clock(monkeypatch, START - dt.timedelta(minutes=120, seconds=1))
    assert cancel(owner_headers).status_code in (200, 204)


def test_admins_cancel_after_the_deadline(client, monkeypatch, admin_headers, owner_headers,
                                          booked):
    schedule, patient = booked
    registration = book(client, owner_headers, patient.id, schedule.id).json
    put_policy(client, admin_headers, cancel_deadline_minutes=10080)
    set_clock(monkeypatch, START - dt.timedelta(minutes=5))
    r = client.put(f"/registrations/{registration['id']}/cancel", headers=admin_headers)
    assert (r.status_code, r.json["status"]) == (200, "cancelled")


def test_the_deadline_of_a_slotted_booking_counts_from_its_slot(
        client, monkeypatch, admin_headers, owner, owner_headers, factory):
    schedule = factory.schedule(date=DAY, max_appointments=2, slot_minutes=120)
    slots = client.get(f"/schedules/{schedule.id}/slots", headers=owner_headers).json[
        "results"]
    registration = book(client, owner_headers, factory.patient(owner).id, schedule.id,
                        slot_id=slots[1]["id"]).json
    assert registration["visit_start"] == f"{DAY.isoformat()}T10:00:00+08:00"
    put_policy(client, admin_headers, cancel_deadline_minutes=60)
    set_clock(monkeypatch, dt.datetime.combine(DAY, dt.time(7, 30)))  # 150 min before 10:00
    r = client.put(f"/registrations/{registration['id']}/cancel", headers=owner_headers)
    assert r.status_code == 200, r.json


def test_the_started_rule_comes_before_the_deadline(client, monkeypatch, admin_headers,
                                                    owner_headers, booked):
    schedule, patient = booked
    registration = book(client, owner_headers, patient.id, schedule.id).json
    put_policy(client, admin_headers, cancel_deadline_minutes=60)
    set_clock(monkeypatch, START)
    assert_error(client.put(f"/registrations/{registration['id']}/cancel",
                            headers=owner_headers), 409, "schedule_started")
