"""Stop-clinic (停诊) and substitution (替诊): suspend and resume a schedule."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.models import Registration, Schedule
from tests.assertions import assert_error
from tests.clock import set_clock

DAY = dt.date.today() + dt.timedelta(days=20)


def suspend(client, headers, schedule_id, **body):
    return client.post(f"/schedules/{schedule_id}/suspend", headers=headers,
                       json={"reason": "医生临时出诊", **body})


def book(client, headers, patient_id, schedule_id, **extra):
    r = client.post("/registrations/", headers=headers,
                    json={"patient_id": patient_id, "schedule_id": schedule_id, **extra})
    assert r.status_code == 201, r.json
    return r.json


def rows(schedule_id=None):
    db.session.expire_all()
    stmt = select(Registration).order_by(Registration.id)
    if schedule_id is not None:
        stmt = stmt.where(Registration.schedule_id == schedule_id)
    return list(db.session.scalars(stmt))


@pytest.fixture()
def booked(factory, client, owner, owner_headers):
    """A schedule with three scheduled bookings (and one cancelled) of the owner's patients."""
    doctor, department = factory.doctor(), factory.department()
    schedule = factory.schedule(doctor, department, date=DAY, max_appointments=5)
    patients = [factory.patient(owner) for _ in range(4)]
    regs = [book(client, owner_headers, p.id, schedule.id) for p in patients]
    r = client.put(f"/registrations/{regs[3]['id']}/cancel", headers=owner_headers)
    assert r.status_code == 200 and r.json["cancelled_by"] == "patient"
    return schedule, department, patients, regs


def test_suspending_without_substitute_cancels_every_scheduled_booking(
        client, admin_headers, owner_headers, booked):
    schedule, _, _, regs = booked
    r = suspend(client, admin_headers, schedule.id)
    assert r.status_code == 200, r.json
    assert r.json["status"] == "suspended" and r.json["suspend_reason"] == "医生临时出诊"
    assert r.json["bookable"] is False and r.json["available_slots"] == 5
    for reg in regs[:3]:
        body = client.get(f"/registrations/{reg['id']}", headers=owner_headers).json
        assert (body["status"], body["cancelled_by"], body["cancel_reason"]) == (
            "cancelled", "hospital", "医生临时出诊")
    # The owner's own cancel keeps its author.
    body = client.get(f"/registrations/{regs[3]['id']}", headers=owner_headers).json
    assert (body["cancelled_by"], body["cancel_reason"]) == ("patient", None)


def test_a_suspended_schedule_refuses_bookings_and_reinstating(
        client, admin_headers, owner, owner_headers, factory, booked):
    schedule, _, _, regs = booked
    assert suspend(client, admin_headers, schedule.id).status_code == 200
    patient = factory.patient(owner)
    assert_error(client.post("/registrations/", headers=owner_headers,
                             json={"patient_id": patient.id, "schedule_id": schedule.id}),
                 409, "schedule_suspended")
    assert_error(client.put(f"/registrations/{regs[0]['id']}", headers=admin_headers,
                            json={"status": "scheduled"}), 409, "schedule_suspended")


def test_resume_reopens_and_cancelled_stay_cancelled(client, admin_headers, booked):
    schedule, _, _, regs = booked
    assert suspend(client, admin_headers, schedule.id).status_code == 200
    r = client.post(f"/schedules/{schedule.id}/resume", headers=admin_headers)
    assert r.status_code == 200, r.json
    assert r.json["status"] == "open" and r.json["suspend_reason"] is None
    assert r.json["bookable"] is True
    assert [x.status for x in rows(schedule.id)] == ["cancelled"] * 4
    assert_error(client.post(f"/schedules/{schedule.id}/resume", headers=admin_headers),
                 409, "not_suspended")


def test_suspend_refusals(client, admin_headers, factory, booked, monkeypatch):
    schedule, department, _, _ = booked
    assert_error(suspend(client, admin_headers, 999999), 404, "schedule_not_found")
    body = assert_error(suspend(client, admin_headers, schedule.id,
                                substitute_schedule_id=999999), 404, "schedule_not_found")
    assert "substitute_schedule_id" in body["errors"]
    for bad in ({}, {"reason": ""}, {"reason": "x" * 501}, {"reason": None},
                {"reason": "ok", "substitute_schedule_id": "seven"},
                {"reason": "ok", "substitute_schedule_id": 0}):
        assert_error(client.post(f"/schedules/{schedule.id}/suspend", headers=admin_headers,
                                 json=bad), 400, "validation_error")
    other_department = factory.schedule(date=DAY)
    same = factory.schedule(department=department, date=DAY - dt.timedelta(days=1))
    for substitute in (schedule.id, other_department.id):
        assert_error(suspend(client, admin_headers, schedule.id,
                             substitute_schedule_id=substitute), 409, "invalid_substitute")
    assert suspend(client, admin_headers, same.id).status_code == 200
    assert_error(suspend(client, admin_headers, schedule.id, substitute_schedule_id=same.id),
                 409, "invalid_substitute")  # a suspended substitute
    # Nothing changed by any refusal.
    assert [x.status for x in rows(schedule.id)] == ["scheduled"] * 3 + ["cancelled"]
    assert db.session.get(Schedule, schedule.id).status == "open"
    set_clock(monkeypatch, dt.datetime.combine(DAY, dt.time(8, 0)))
    assert_error(suspend(client, admin_headers, schedule.id), 409, "schedule_started")
    set_clock(monkeypatch, dt.datetime.combine(DAY, dt.time(7, 0)))
    assert suspend(client, admin_headers, schedule.id).status_code == 200
    assert_error(suspend(client, admin_headers, schedule.id), 409, "already_suspended")


def test_a_started_substitute_is_invalid(client, admin_headers, factory, booked, monkeypatch):
    schedule, department, _, _ = booked
    early = factory.schedule(department=department, date=DAY, start=dt.time(6, 0),
                             end=dt.time(7, 0))
    set_clock(monkeypatch, dt.datetime.combine(DAY, dt.time(6, 30)))
    assert_error(suspend(client, admin_headers, schedule.id, substitute_schedule_id=early.id),
                 409, "invalid_substitute")


def test_substitution_moves_bookings_in_queue_order_keeping_ids(
        client, admin_headers, owner, owner_headers, factory, booked):
    schedule, department, patients, regs = booked
    substitute = factory.schedule(department=department, date=DAY + dt.timedelta(days=1),
                                  max_appointments=6)
    # Someone else already holds places there: the moved ones queue after them.
    other = factory.patient(owner)
    first_there = book(client, owner_headers, other.id, substitute.id)
    r = suspend(client, admin_headers, schedule.id, substitute_schedule_id=substitute.id)
    assert r.status_code == 200, r.json
    moved = [client.get(f"/registrations/{reg['id']}", headers=owner_headers).json
             for reg in regs[:3]]
    assert [m["schedule_id"] for m in moved] == [substitute.id] * 3
    assert [m["status"] for m in moved] == ["scheduled"] * 3
    assert [m["moved_from_schedule_id"] for m in moved] == [schedule.id] * 3
    assert [m["queue_number"] for m in moved] == [first_there["queue_number"] + 1 + i
                                                  for i in range(3)]
    assert all(m["cancelled_by"] is None for m in moved)
    sub = client.get(f"/schedules/{substitute.id}", headers=owner_headers).json
    assert sub["available_slots"] == 6 - 4
    old = client.get(f"/schedules/{schedule.id}", headers=owner_headers).json
    assert old["available_slots"] == 5 and old["status"] == "suspended"


def test_a_patient_already_on_the_substitute_keeps_that_booking(
        client, admin_headers, owner_headers, factory, booked):
    schedule, department, patients, regs = booked
    substitute = factory.schedule(department=department, date=DAY + dt.timedelta(days=2),
                                  max_appointments=3)
    there = book(client, owner_headers, patients[1].id, substitute.id)
    # Three to move, one of whom is already there: two places are enough.
    r = suspend(client, admin_headers, schedule.id, substitute_schedule_id=substitute.id)
    assert r.status_code == 200, r.json
    stayed = client.get(f"/registrations/{regs[1]['id']}", headers=owner_headers).json
    assert (stayed["schedule_id"], stayed["status"], stayed["cancelled_by"]) == (
        schedule.id, "cancelled", "hospital")
    assert client.get(f"/registrations/{there['id']}",
                      headers=owner_headers).json["status"] == "scheduled"
    assert {x.id for x in rows(substitute.id)} == {there["id"], regs[0]["id"], regs[2]["id"]}


def test_too_small_a_substitute_changes_nothing(client, admin_headers, factory, booked):
    schedule, department, _, _ = booked
    substitute = factory.schedule(department=department, date=DAY + dt.timedelta(days=3),
                                  max_appointments=2)
    before = [(x.id, x.schedule_id, x.status, x.queue_number) for x in rows()]
    assert_error(suspend(client, admin_headers, schedule.id,
                         substitute_schedule_id=substitute.id), 409, "substitute_too_small")
    assert [(x.id, x.schedule_id, x.status, x.queue_number) for x in rows()] == before
    db.session.expire_all()
    assert db.session.get(Schedule, schedule.id).status == "open"


def test_slotted_substitute_gives_the_earliest_free_slots_in_order(
        client, admin_headers, owner_headers, factory, booked):
    schedule, department, _, regs = booked
    substitute = factory.schedule(department=department, date=DAY + dt.timedelta(days=4),
                                  start=dt.time(14, 0), end=dt.time(16, 0),
                                  max_appointments=4, slot_minutes=30)  # 4 slots of 1
    r = suspend(client, admin_headers, schedule.id, substitute_schedule_id=substitute.id)
    assert r.status_code == 200, r.json
    slots = client.get(f"/schedules/{substitute.id}/slots", headers=owner_headers).json
    slot_ids = [s["id"] for s in slots["results"]]
    moved = [client.get(f"/registrations/{reg['id']}", headers=owner_headers).json
             for reg in regs[:3]]
    assert [m["slot_id"] for m in moved] == slot_ids[:3]
    assert [m["visit_start"][11:19] for m in moved] == ["14:00:00", "14:30:00", "15:00:00"]
    assert [s["available"] for s in slots["results"]] == [0, 0, 0, 1]


def test_moving_off_a_slotted_schedule_frees_its_slots(client, admin_headers, owner,
                                                      owner_headers, factory):
    department = factory.department()
    slotted = factory.schedule(department=department, date=DAY, max_appointments=4,
                               slot_minutes=60)
    substitute = factory.schedule(department=department, date=DAY + dt.timedelta(days=1))
    for _ in range(3):
        book(client, owner_headers, factory.patient(owner).id, slotted.id)
    assert suspend(client, admin_headers, slotted.id,
                   substitute_schedule_id=substitute.id).status_code == 200
    counts = db.session.execute(text(
        "SELECT sum(booked_count) FROM schedule_slots WHERE schedule_id = :id"),
        {"id": slotted.id}).scalar()
    assert counts == 0
    assert all(x.slot_id is None for x in rows(substitute.id))


def test_hospital_cancellations_count_toward_no_quota_and_no_no_show(
        client, admin_headers, owner, owner_headers, factory, app):
    from app.ops.jobs import run_no_show_job

    assert client.put("/settings/booking", headers=admin_headers,
                      json={"max_active_per_person": 1, "one_per_department_per_day": True,
                            "no_show_limit": 1}).status_code == 200
    department = factory.department()
    schedule = factory.schedule(department=department, date=DAY)
    patient = factory.patient(owner)
    reg = book(client, owner_headers, patient.id, schedule.id)
    assert suspend(client, admin_headers, schedule.id).status_code == 200
    # Long after the session: the no-show job leaves the hospital's cancel alone.
    run_no_show_job(app, dt.datetime.now(dt.UTC) + dt.timedelta(days=25))
    body = client.get(f"/registrations/{reg['id']}", headers=owner_headers).json
    assert (body["status"], body["cancelled_by"]) == ("cancelled", "hospital")
    credit = client.get(f"/patients/{patient.id}/credit", headers=owner_headers).json
    assert (credit["no_shows"], credit["suspended_until"]) == (0, None)
    # And the person holds nothing: another session that day in that department is fine.
    again = factory.schedule(department=department, date=DAY, start=dt.time(13, 0),
                             end=dt.time(17, 0))
    book(client, owner_headers, patient.id, again.id)


def test_only_admins_suspend_and_resume(client, owner_headers, booked):
    schedule = booked[0]
    assert_error(suspend(client, owner_headers, schedule.id), 403, "admin_required")
    assert_error(client.post(f"/schedules/{schedule.id}/resume", headers=owner_headers),
                 403, "admin_required")
