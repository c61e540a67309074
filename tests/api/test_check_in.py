"""Check-in (签到): the window, the status machine, the no-show job and the statistics."""
from __future__ import annotations

import datetime as dt

import pytest

from app.ops.jobs import run_no_show_job
from tests.assertions import assert_error
from tests.clock import set_clock

DAY = dt.date.today() + dt.timedelta(days=10)
START, END = dt.time(8, 0), dt.time(12, 0)


def at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(DAY, dt.time(hour, minute))


@pytest.fixture()
def booked(factory, client, owner, owner_headers):
    """A registration of the owner's patient on a 08:00–12:00 session (unslotted)."""
    schedule = factory.schedule(date=DAY, start=START, end=END)
    r = client.post("/registrations/", headers=owner_headers,
                    json={"patient_id": factory.patient(owner).id, "schedule_id": schedule.id})
    assert r.status_code == 201, r.json
    return schedule, r.json


def check_in(client, headers, registration_id):
    return client.put(f"/registrations/{registration_id}/check_in", headers=headers)


@pytest.mark.parametrize(("moment", "open_"), [
    (at(6, 59), False),   # before 60 minutes ahead of the visit
    (at(7, 0), True),     # the window opens
    (at(8, 0), True),     # the session has started: still fine
    (at(11, 59), True),
    (at(12, 0), False),   # the session's end closes it
])
def test_the_window_runs_from_opens_minutes_before_the_visit_to_the_end(
        client, owner_headers, booked, monkeypatch, moment, open_):
    _, reg = booked
    set_clock(monkeypatch, moment)
    r = check_in(client, owner_headers, reg["id"])
    if open_:
        assert r.status_code == 200, r.json
        assert r.json["status"] == "checked_in" and r.json["checked_in_at"] is not None
    else:
        assert_error(r, 409, "check_in_closed")


def test_the_window_follows_the_policy_and_the_slot(client, factory, owner, owner_headers,
                                                    admin_headers, monkeypatch):
    assert client.put("/settings/booking", headers=admin_headers,
                      json={"check_in_opens_minutes": 15}).json["check_in_opens_minutes"] == 15
    schedule = factory.schedule(date=DAY, start=START, end=END, max_appointments=4,
                                slot_minutes=60)
    reg = client.post("/registrations/", headers=owner_headers,
                      json={"patient_id": factory.patient(owner).id,
                            "schedule_id": schedule.id,
                            "slot_id": client.get(f"/schedules/{schedule.id}/slots",
                                                  headers=owner_headers).json[
                                                      "results"][2]["id"]}).json
    assert reg["visit_start"].startswith(f"{DAY.isoformat()}T10:00")
    set_clock(monkeypatch, at(9, 44))
    assert_error(check_in(client, owner_headers, reg["id"]), 409, "check_in_closed")
    set_clock(monkeypatch, at(9, 45))
    assert check_in(client, owner_headers, reg["id"]).status_code == 200


def test_only_a_scheduled_registration_checks_in(client, owner_headers, booked, monkeypatch):
    _, reg = booked
    set_clock(monkeypatch, at(7, 30))
    assert check_in(client, owner_headers, reg["id"]).status_code == 200
    assert_error(check_in(client, owner_headers, reg["id"]), 409, "invalid_status_transition")


def test_who_checks_in(client, factory, admin_headers, booked, monkeypatch):
    _, reg = booked
    set_clock(monkeypatch, at(7, 30))
    stranger = factory.headers(factory.user())
    assert_error(check_in(client, stranger, reg["id"]), 404, "registration_not_found")
    assert check_in(client, admin_headers, reg["id"]).status_code == 200


def test_checked_in_holds_its_place_and_moves_on(client, owner_headers, admin_headers,
                                                  booked, monkeypatch):
    schedule, reg = booked
    set_clock(monkeypatch, at(7, 30))
    assert check_in(client, owner_headers, reg["id"]).status_code == 200
    shown = client.get(f"/schedules/{schedule.id}", headers=owner_headers).json
    assert shown["available_slots"] == schedule.max_appointments - 1
    # The owner can no longer cancel or delete it; an admin can cancel it.
    assert_error(client.put(f"/registrations/{reg['id']}/cancel", headers=owner_headers),
                 409, "invalid_status_transition")
    assert_error(client.delete(f"/registrations/{reg['id']}", headers=owner_headers),
                 409, "invalid_status_transition")
    assert_error(client.put(f"/registrations/{reg['id']}", headers=admin_headers,
                            json={"status": "no_show"}), 409, "invalid_status_transition")
    r = client.put(f"/registrations/{reg['id']}/complete", headers=admin_headers)
    assert r.status_code == 200 and r.json["status"] == "completed"


def test_an_admin_cancels_a_checked_in_registration(client, owner_headers, admin_headers,
                                                    booked, monkeypatch):
    _, reg = booked
    set_clock(monkeypatch, at(7, 30))
    assert check_in(client, owner_headers, reg["id"]).status_code == 200
    r = client.put(f"/registrations/{reg['id']}/cancel", headers=admin_headers)
    assert r.status_code == 200
    assert (r.json["status"], r.json["cancelled_by"]) == ("cancelled", "admin")


def test_the_no_show_job_never_touches_a_checked_in_registration(
        app, client, factory, owner, owner_headers, booked, monkeypatch):
    schedule, reg = booked
    other = client.post("/registrations/", headers=owner_headers,
                        json={"patient_id": factory.patient(owner).id,
                              "schedule_id": schedule.id}).json
    set_clock(monkeypatch, at(7, 30))
    assert check_in(client, owner_headers, reg["id"]).status_code == 200
    run_no_show_job(app, dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(12))
                    .replace(tzinfo=dt.UTC))
    assert client.get(f"/registrations/{reg['id']}", headers=owner_headers).json[
        "status"] == "checked_in"
    assert client.get(f"/registrations/{other['id']}", headers=owner_headers).json[
        "status"] == "no_show"


def test_statistics_count_checked_in(client, owner_headers, admin_headers, booked,
                                     monkeypatch):
    _, reg = booked
    set_clock(monkeypatch, at(7, 30))
    assert check_in(client, owner_headers, reg["id"]).status_code == 200
    overview = client.get("/stats/overview", headers=admin_headers).json
    assert overview["registrations"]["checked_in"] == 1
    stats = client.get("/registrations/stats?group_by=status", headers=admin_headers).json
    assert [row["key"] for row in stats["results"]] == ["checked_in"]
    assert stats["results"][0]["checked_in"] == 1 == stats["results"][0]["total"]
    listed = client.get("/registrations/status/checked_in", headers=admin_headers).json
    assert [x["id"] for x in listed["results"]] == [reg["id"]]


def test_bad_check_in_opens_minutes_are_400(client, admin_headers):
    for bad in (-1, 1441, "60", None):
        assert_error(client.put("/settings/booking", headers=admin_headers,
                                json={"check_in_opens_minutes": bad}), 400, "validation_error")
