"""The event log: every change writes its event in its own transaction, with its actor."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from app.extensions import db
from tests.assertions import assert_error
from tests.clock import set_clock

DAY = dt.date.today() + dt.timedelta(days=12)
EVENT_KEYS = {"id", "at", "type", "actor_user_id", "actor_role", "registration_id",
              "schedule_id", "patient_id", "data", "request_id"}


def history(client, headers, registration_id):
    r = client.get(f"/registrations/{registration_id}/events?per_page=100", headers=headers)
    assert r.status_code == 200, r.json
    return r.json["results"]


def feed(client, headers, query=""):
    r = client.get(f"/events?{query}", headers=headers)
    assert r.status_code == 200, r.json
    return r.json


def test_a_registrations_history(client, factory, owner, owner_headers, admin, admin_headers,
                                 monkeypatch):
    schedule = factory.schedule(date=DAY)
    patient = factory.patient(owner)
    booked = client.post("/registrations/", headers=owner_headers,
                         json={"patient_id": patient.id, "schedule_id": schedule.id})
    reg = booked.json
    cancelled = client.put(f"/registrations/{reg['id']}/cancel", headers=owner_headers)
    reinstated = client.put(f"/registrations/{reg['id']}", headers=admin_headers,
                            json={"status": "scheduled"})
    set_clock(monkeypatch, dt.datetime.combine(DAY, dt.time(7, 30)))
    checked = client.put(f"/registrations/{reg['id']}/check_in", headers=owner_headers)
    completed = client.put(f"/registrations/{reg['id']}/complete", headers=admin_headers)
    events = history(client, owner_headers, reg["id"])
    assert [e["type"] for e in events] == [
        "registration.booked", "registration.cancelled", "registration.reinstated",
        "registration.checked_in", "registration.completed"]
    assert all(set(e) == EVENT_KEYS for e in events)
    assert [(e["actor_user_id"], e["actor_role"]) for e in events] == [
        (owner.id, "user"), (owner.id, "user"), (admin.id, "admin"), (owner.id, "user"),
        (admin.id, "admin")]
    assert [e["request_id"] for e in events] == [
        r.headers["X-Request-ID"] for r in (booked, cancelled, reinstated, checked, completed)]
    assert {(e["registration_id"], e["schedule_id"], e["patient_id"]) for e in events} == {
        (reg["id"], schedule.id, patient.id)}
    assert events[0]["data"] == {"queue_number": 1, "slot_id": None}
    assert events[1]["data"] == {"from": "scheduled", "cancelled_by": "patient",
                                 "cancel_reason": None}
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    # Admins read it too; others cannot.
    assert len(history(client, admin_headers, reg["id"])) == 5
    assert_error(client.get(f"/registrations/{reg['id']}/events",
                            headers=factory.headers(factory.user())), 404,
                 "registration_not_found")


def test_stop_clinic_waitlist_policy_and_pardon_events(client, factory, owner, owner_headers,
                                                       admin, admin_headers):
    department = factory.department()
    stopped = factory.schedule(department=department, date=DAY, max_appointments=1)
    substitute = factory.schedule(department=department, date=DAY + dt.timedelta(days=1))
    patient = factory.patient(owner)
    reg = client.post("/registrations/", headers=owner_headers,
                      json={"patient_id": patient.id, "schedule_id": stopped.id}).json
    waiter = factory.patient(owner)
    entry = client.post(f"/schedules/{stopped.id}/waitlist", headers=owner_headers,
                        json={"patient_id": waiter.id}).json
    assert client.post(f"/schedules/{stopped.id}/suspend", headers=admin_headers,
                       json={"reason": "停诊", "substitute_schedule_id": substitute.id}
                       ).status_code == 200
    assert client.post(f"/schedules/{stopped.id}/resume", headers=admin_headers
                       ).status_code == 200
    assert client.put("/settings/booking", headers=admin_headers,
                      json={"booking_cutoff_minutes": 15, "no_show_limit": 0}
                      ).status_code == 200
    assert client.post(f"/patients/{patient.id}/credit/pardon", headers=admin_headers,
                       json={"reason": "谅解"}).status_code == 200
    events = feed(client, admin_headers, "limit=1000")["results"]
    kinds = [(e["type"], e["registration_id"], e["schedule_id"], e["patient_id"])
             for e in events]
    assert kinds == [
        ("registration.booked", reg["id"], stopped.id, patient.id),
        ("waitlist.joined", None, stopped.id, waiter.id),
        ("schedule.suspended", None, stopped.id, None),
        ("waitlist.expired", None, stopped.id, waiter.id),
        ("registration.moved", reg["id"], substitute.id, patient.id),
        ("schedule.resumed", None, stopped.id, None),
        ("policy.changed", None, None, None),
        ("credit.pardoned", None, None, patient.id),
    ]
    by_type = {e["type"]: e for e in events}
    assert by_type["waitlist.joined"]["data"] == {"entry_id": entry["id"]}
    assert by_type["schedule.suspended"]["data"] == {"reason": "停诊"}
    assert by_type["registration.moved"]["data"]["from_schedule_id"] == stopped.id
    assert by_type["policy.changed"]["data"] == {"booking_cutoff_minutes": 15}
    assert by_type["credit.pardoned"]["data"]["reason"] == "谅解"
    assert all(e["actor_user_id"] in (owner.id, admin.id) for e in events)


def test_waitlist_booked_and_skipped_events(client, factory, owner, owner_headers,
                                            admin_headers):
    schedule = factory.schedule(date=DAY, max_appointments=1)
    first = client.post("/registrations/", headers=owner_headers,
                        json={"patient_id": factory.patient(owner).id,
                              "schedule_id": schedule.id}).json
    holder = factory.patient(owner)
    other = client.post("/registrations/", headers=owner_headers,
                        json={"patient_id": holder.id,
                              "schedule_id": factory.schedule(date=DAY).id})
    assert other.status_code == 201
    assert client.put("/settings/booking", headers=admin_headers,
                      json={"max_active_per_person": 1}).status_code == 200
    waiter = factory.patient(owner)
    for patient in (holder, waiter):
        assert client.post(f"/schedules/{schedule.id}/waitlist", headers=owner_headers,
                           json={"patient_id": patient.id}).status_code == 201
    before = feed(client, admin_headers, "limit=1000")["last_id"]
    assert client.put(f"/registrations/{first['id']}/cancel",
                      headers=owner_headers).status_code == 200
    after = feed(client, admin_headers, f"after_id={before}")["results"]
    assert [e["type"] for e in after] == [
        "registration.cancelled", "waitlist.skipped", "registration.booked", "waitlist.booked"]
    assert after[1]["data"]["reason"] == "too_many_active"
    assert after[3]["registration_id"] == after[2]["registration_id"]
    # The owner's cancel freed the place: the bookings it caused are the owner's doing.
    assert {e["request_id"] for e in after} == {after[0]["request_id"]}


def test_a_failure_after_the_event_is_written_leaves_neither(client, factory, owner,
                                                             owner_headers, admin_headers):
    schedule = factory.schedule(date=DAY)
    reg = client.post("/registrations/", headers=owner_headers,
                      json={"patient_id": factory.patient(owner).id,
                            "schedule_id": schedule.id}).json
    # A trigger that fires after the event's (names sort after registrations_events) and
    # refuses every cancel.
    db.session.execute(text("""
        CREATE FUNCTION test_refuse_cancel() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.status = 'cancelled' THEN
                RAISE EXCEPTION 'refused after the event' USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'ck_test_refuse_cancel';
            END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER zz_test_refuse_cancel AFTER UPDATE OF status ON registrations
            FOR EACH ROW EXECUTE FUNCTION test_refuse_cancel();
    """))
    db.session.commit()
    r = client.put(f"/registrations/{reg['id']}/cancel", headers=owner_headers)
    assert r.status_code == 409, r.json
    assert [e["type"] for e in history(client, owner_headers, reg["id"])] == [
        "registration.booked"]
    assert client.get(f"/registrations/{reg['id']}", headers=owner_headers).json[
        "status"] == "scheduled"


def test_the_feed_pages_by_id(client, factory, owner, owner_headers, admin_headers):
    schedule = factory.schedule(date=DAY, max_appointments=50)
    for _ in range(5):
        assert client.post("/registrations/", headers=owner_headers,
                           json={"patient_id": factory.patient(owner).id,
                                 "schedule_id": schedule.id}).status_code == 201
    assert client.put("/settings/booking", headers=admin_headers,
                      json={"horizon_days": 7}).status_code == 200
    everything = feed(client, admin_headers)
    ids = [e["id"] for e in everything["results"]]
    assert len(ids) == 6 and ids == sorted(ids) and everything["more"] is False
    assert everything["last_id"] == ids[-1]
    page = feed(client, admin_headers, "limit=2")
    assert [e["id"] for e in page["results"]] == ids[:2] and page["more"] is True
    page = feed(client, admin_headers, f"after_id={page['last_id']}&limit=2")
    assert [e["id"] for e in page["results"]] == ids[2:4]
    empty = feed(client, admin_headers, f"after_id={ids[-1]}")
    assert (empty["results"], empty["more"], empty["last_id"]) == ([], False, ids[-1])
    typed = feed(client, admin_headers, "type=policy.changed")
    assert [e["id"] for e in typed["results"]] == ids[5:]


@pytest.mark.parametrize("query", ["after_id=-1", "after_id=x", "limit=0", "limit=1001",
                                   "limit=", "type=registration.deleted"])
def test_bad_feed_parameters_are_400(client, admin_headers, query):
    body = assert_error(client.get(f"/events?{query}", headers=admin_headers), 400,
                        "validation_error")
    assert set(body["errors"]) == {query.split("=")[0]}


def test_the_feed_is_for_admins(client, owner_headers):
    assert_error(client.get("/events", headers=owner_headers), 403, "admin_required")
