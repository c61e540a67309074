"""The waitlist (候补): joining a full schedule, leaving, and automatic booking in join order."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import WaitlistEntry
from tests.assertions import assert_error
from tests.clock import set_clock

DAY = dt.date.today() + dt.timedelta(days=20)


def book(client, headers, patient_id, schedule_id):
    r = client.post("/registrations/", headers=headers,
                    json={"patient_id": patient_id, "schedule_id": schedule_id})
    assert r.status_code == 201, r.json
    return r.json


def join(client, headers, schedule_id, patient_id):
    return client.post(f"/schedules/{schedule_id}/waitlist", headers=headers,
                       json={"patient_id": patient_id})


def entries(client, admin_headers, schedule_id):
    r = client.get(f"/schedules/{schedule_id}/waitlist?per_page=100", headers=admin_headers)
    assert r.status_code == 200, r.json
    return r.json["results"]


@pytest.fixture()
def full(factory, client, owner, owner_headers):
    """A schedule of two places, both booked by the owner's patients."""
    schedule = factory.schedule(date=DAY, max_appointments=2)
    regs = [book(client, owner_headers, factory.patient(owner).id, schedule.id)
            for _ in range(2)]
    return schedule, regs


@pytest.fixture()
def waiter(factory):
    """Another account and one of its patients: (headers, patient id)."""
    user = factory.user()
    return factory.headers(user), factory.patient(user).id


def test_joining_a_full_schedule(client, full, waiter):
    schedule, _ = full
    headers, patient_id = waiter
    r = join(client, headers, schedule.id, patient_id)
    assert r.status_code == 201, r.json
    assert set(r.json) == {"id", "schedule_id", "patient_id", "status", "position",
                           "registration_id", "reason", "created_at", "updated_at"}
    assert (r.json["status"], r.json["position"], r.json["registration_id"]) == (
        "waiting", 1, None)
    listed = client.get(f"/patients/{patient_id}/waitlist", headers=headers).json
    assert [e["id"] for e in listed["results"]] == [r.json["id"]] and listed["count"] == 1


def test_join_refusals(client, factory, owner, owner_headers, full, waiter, admin_headers):
    schedule, regs = full
    headers, patient_id = waiter
    assert_error(join(client, headers, 999999, patient_id), 404, "schedule_not_found")
    assert_error(join(client, headers, schedule.id, 999999), 404, "patient_not_found")
    mine = factory.patient(owner)
    assert_error(join(client, headers, schedule.id, mine.id), 404, "patient_not_found")
    for bad in ({}, {"patient_id": "x"}, {"patient_id": 0}, {"patient_id": None}):
        assert_error(client.post(f"/schedules/{schedule.id}/waitlist", headers=headers,
                                 json=bad), 400, "validation_error")
    assert_error(join(client, owner_headers, schedule.id, regs[0]["patient_id"]), 409,
                 "duplicate_registration")
    assert join(client, headers, schedule.id, patient_id).status_code == 201
    assert_error(join(client, headers, schedule.id, patient_id), 409,
                 "duplicate_waitlist_entry")
    roomy = factory.schedule(date=DAY, max_appointments=3)
    assert_error(join(client, headers, roomy.id, patient_id), 409, "schedule_not_full")
    # An admin joins for anyone's patient.
    other = factory.patient(factory.user())
    assert join(client, admin_headers, schedule.id, other.id).status_code == 201


def test_join_follows_the_booking_policy(client, factory, owner, owner_headers, admin_headers,
                                         waiter, monkeypatch):
    headers, patient_id = waiter
    schedule = factory.schedule(date=DAY, max_appointments=1)
    book(client, owner_headers, factory.patient(owner).id, schedule.id)
    assert client.put("/settings/booking", headers=admin_headers,
                      json={"horizon_days": 7, "release_time": "07:00",
                            "booking_cutoff_minutes": 60}).status_code == 200
    set_clock(monkeypatch, dt.datetime.combine(DAY - dt.timedelta(days=8), dt.time(9)))
    body = assert_error(join(client, headers, schedule.id, patient_id), 409,
                        "not_yet_released")
    assert body["release_at"].startswith((DAY - dt.timedelta(days=7)).isoformat())
    set_clock(monkeypatch, dt.datetime.combine(DAY, dt.time(7, 30)))
    assert_error(join(client, headers, schedule.id, patient_id), 409, "booking_closed")
    set_clock(monkeypatch, dt.datetime.combine(DAY, dt.time(8, 0)))
    assert_error(join(client, headers, schedule.id, patient_id), 409, "schedule_started")
    set_clock(monkeypatch, dt.datetime.combine(DAY, dt.time(6, 0)))
    assert client.post(f"/schedules/{schedule.id}/suspend", headers=admin_headers,
                       json={"reason": "停诊"}).status_code == 200
    assert_error(join(client, headers, schedule.id, patient_id), 409, "schedule_suspended")


def test_the_join_answer_is_what_the_waitlist_shows(client, factory, full, admin_headers):
    schedule, _ = full
    answers = []
    for _ in range(3):
        user = factory.user()
        answers.append(join(client, factory.headers(user), schedule.id,
                            factory.patient(user).id).json)
    assert [a["position"] for a in answers] == [1, 2, 3]
    assert answers == entries(client, admin_headers, schedule.id)


def test_a_slotted_session_closes_for_joins_at_its_last_slot(client, factory, owner,
                                                             owner_headers, admin_headers,
                                                             waiter, monkeypatch):
    headers, patient_id = waiter
    schedule = factory.schedule(date=DAY, max_appointments=2, slot_minutes=120)  # 08, 10
    for _ in range(2):
        book(client, owner_headers, factory.patient(owner).id, schedule.id)
    factory.policy(booking_cutoff_minutes=150)  # 08:00 closes at 05:30, 10:00 at 07:30
    set_clock(monkeypatch, dt.datetime.combine(DAY, dt.time(6, 0)))
    assert join(client, headers, schedule.id, patient_id).status_code == 201
    other = factory.user()
    set_clock(monkeypatch, dt.datetime.combine(DAY, dt.time(7, 30)))
    assert_error(join(client, factory.headers(other), schedule.id,
                      factory.patient(other).id), 409, "booking_closed")
    # The office still puts a patient on the list until the session starts.
    assert join(client, admin_headers, schedule.id, factory.patient(other).id
                ).status_code == 201


def test_a_cancel_books_the_first_waiter(client, factory, owner_headers, admin_headers, full):
    schedule, regs = full
    waiters = []
    for _ in range(3):
        user = factory.user()
        headers = factory.headers(user)
        patient_id = factory.patient(user).id
        entry = join(client, headers, schedule.id, patient_id).json
        waiters.append((headers, patient_id, entry))
    assert [e["position"] for e in entries(client, admin_headers, schedule.id)] == [1, 2, 3]
    r = client.put(f"/registrations/{regs[0]['id']}/cancel", headers=owner_headers)
    assert r.status_code == 200
    listed = entries(client, admin_headers, schedule.id)
    assert [(e["status"], e["position"]) for e in listed] == [
        ("booked", None), ("waiting", 1), ("waiting", 2)]
    headers, patient_id, _ = waiters[0]
    reg = client.get(f"/registrations/{listed[0]['registration_id']}", headers=headers).json
    assert (reg["patient_id"], reg["schedule_id"], reg["status"]) == (
        patient_id, schedule.id, "scheduled")
    assert client.get(f"/schedules/{schedule.id}", headers=headers).json[
        "available_slots"] == 0


def test_delete_admin_status_and_capacity_increase_book_waiters(
        client, factory, owner_headers, admin_headers, full):
    schedule, regs = full
    for _ in range(4):
        user = factory.user()
        assert join(client, factory.headers(user), schedule.id,
                    factory.patient(user).id).status_code == 201
    assert client.delete(f"/registrations/{regs[0]['id']}",
                         headers=owner_headers).status_code == 204
    assert client.put(f"/registrations/{regs[1]['id']}", headers=admin_headers,
                      json={"status": "cancelled"}).status_code == 200
    r = client.put(f"/schedules/{schedule.id}", headers=admin_headers,
                   json={"max_appointments": 4})
    assert r.status_code == 200 and r.json["available_slots"] == 0, r.json
    assert [e["status"] for e in entries(client, admin_headers, schedule.id)] == [
        "booked"] * 4


def test_a_refused_waiter_is_skipped_with_the_reason(client, factory, owner, owner_headers,
                                                     admin_headers, full):
    schedule, regs = full
    assert client.put("/settings/booking", headers=admin_headers,
                      json={"max_active_per_person": 1}).status_code == 200
    busy_user = factory.user()
    busy_headers = factory.headers(busy_user)
    busy = factory.patient(busy_user)
    book(client, busy_headers, busy.id, factory.schedule(date=DAY + dt.timedelta(days=1)).id)
    assert join(client, busy_headers, schedule.id, busy.id).status_code == 201
    free_user = factory.user()
    free = factory.patient(free_user)
    assert join(client, factory.headers(free_user), schedule.id, free.id).status_code == 201
    assert client.put(f"/registrations/{regs[0]['id']}/cancel",
                      headers=owner_headers).status_code == 200
    listed = entries(client, admin_headers, schedule.id)
    assert [(e["status"], e["reason"]) for e in listed] == [
        ("skipped", "too_many_active"), ("booked", None)]


def test_leaving(client, factory, full, waiter, admin_headers, owner_headers):
    schedule, regs = full
    headers, patient_id = waiter
    entry = join(client, headers, schedule.id, patient_id).json
    assert_error(client.delete(f"/waitlist/{entry['id']}", headers=owner_headers), 404,
                 "waitlist_entry_not_found")
    assert client.delete(f"/waitlist/{entry['id']}", headers=headers).status_code == 204
    assert entries(client, admin_headers, schedule.id)[0]["status"] == "left"
    assert_error(client.delete(f"/waitlist/{entry['id']}", headers=headers), 409,
                 "not_waiting")
    assert_error(client.delete("/waitlist/999999", headers=headers), 404,
                 "waitlist_entry_not_found")
    # Left means left: a freed place stays free.
    assert client.put(f"/registrations/{regs[0]['id']}/cancel",
                      headers=owner_headers).status_code == 200
    assert client.get(f"/schedules/{schedule.id}", headers=headers).json[
        "available_slots"] == 1
    # And joining again is possible once it is full again.
    book(client, owner_headers, regs[0]["patient_id"], schedule.id)
    assert join(client, headers, schedule.id, patient_id).status_code == 201


def test_waiting_entries_expire_on_suspend_and_on_start(client, factory, full, waiter,
                                                         admin_headers, owner_headers,
                                                         monkeypatch):
    schedule, regs = full
    headers, patient_id = waiter
    assert join(client, headers, schedule.id, patient_id).status_code == 201
    assert client.post(f"/schedules/{schedule.id}/suspend", headers=admin_headers,
                       json={"reason": "停诊"}).status_code == 200
    listed = entries(client, admin_headers, schedule.id)
    assert [(e["status"], e["registration_id"]) for e in listed] == [("expired", None)]

    other = factory.schedule(date=DAY + dt.timedelta(days=1), max_appointments=1)
    book(client, owner_headers, regs[0]["patient_id"], other.id)
    assert join(client, headers, other.id, patient_id).status_code == 201
    set_clock(monkeypatch, dt.datetime.combine(other.date, dt.time(8, 0)))
    mine = client.get(f"/patients/{patient_id}/waitlist", headers=headers).json["results"]
    assert [e["status"] for e in mine] == ["expired", "expired"]


def test_the_job_expires_started_schedules_waiters(app, client, factory, full, waiter):
    from app.ops.jobs import run_no_show_job

    schedule, _ = full
    headers, patient_id = waiter
    assert join(client, headers, schedule.id, patient_id).status_code == 201
    run_no_show_job(app, dt.datetime.now(dt.UTC) + dt.timedelta(days=21))
    db.session.expire_all()
    assert db.session.scalars(select(WaitlistEntry.status)).all() == ["expired"]


def test_who_sees_which_waitlist(client, factory, full, waiter, owner_headers):
    schedule, _ = full
    headers, patient_id = waiter
    assert join(client, headers, schedule.id, patient_id).status_code == 201
    assert_error(client.get(f"/schedules/{schedule.id}/waitlist", headers=headers), 403,
                 "admin_required")
    assert_error(client.get(f"/patients/{patient_id}/waitlist", headers=owner_headers), 404,
                 "patient_not_found")
    assert_error(client.get("/schedules/999999/waitlist", headers=headers), 403,
                 "admin_required")
