"""Cached answers whose `bookable` changes with the clock turn at the very instant.

A schedule's `bookable` turns at its release (放号), at its cutoff and at its start, without
any write; a cached answer is served only before the earliest such instant in it.
"""
from __future__ import annotations

import datetime as dt
import time

import pytest

from app.extensions import db
from tests.clock import set_clock

DAY = dt.date.today() + dt.timedelta(days=20)
START = dt.datetime.combine(DAY, dt.time(8, 0))
RELEASE = dt.datetime.combine(DAY - dt.timedelta(days=7), dt.time(7, 0))


@pytest.fixture()
def world(client, factory, admin_headers):
    doctor, department = factory.doctor(), factory.department()
    schedule = factory.schedule(doctor, department, date=DAY, max_appointments=2,
                                slot_minutes=120)
    r = client.put("/settings/booking", headers=admin_headers,
                   json={"horizon_days": 7, "release_time": "07:00",
                         "booking_cutoff_minutes": 150})
    assert r.status_code == 200
    owner = factory.user()
    return {"headers": factory.headers(owner), "schedule": schedule.id,
            "doctor": doctor.id, "department": department.id,
            "patients": [factory.patient(owner).id for _ in range(2)]}


def paths(w) -> list[str]:
    return [f"/schedules/{w['schedule']}", "/schedules/",
            f"/doctors/{w['doctor']}/schedules", f"/departments/{w['department']}/schedules"]


def bookable_in(body) -> bool:
    rows = body["results"] if "results" in body else [body]
    (row,) = rows
    return row["bookable"]


def read(client, path, headers):
    r = client.get(path, headers=headers)
    assert r.status_code == 200, r.get_json()
    return r


@pytest.mark.parametrize(("before", "after", "was", "becomes"), [
    # The release instant: not bookable a second before, bookable at it.
    (RELEASE - dt.timedelta(seconds=1), RELEASE, False, True),
    # The last slot's cutoff (10:00 less 150 minutes): bookable a second before, not at it.
    (dt.datetime.combine(DAY, dt.time(7, 29, 59)), dt.datetime.combine(DAY, dt.time(7, 30)),
     True, False),
])
def test_every_cached_schedule_answer_turns_at_the_instant(client, monkeypatch, world, before,
                                                           after, was, becomes):
    set_clock(monkeypatch, before)
    for path in paths(world):
        read(client, path, world["headers"])
        cached = read(client, path, world["headers"])
        assert cached.headers["X-Cache"] == "hit", path
        assert bookable_in(cached.get_json()) is was, path
    set_clock(monkeypatch, after)
    for path in paths(world):
        fresh = read(client, path, world["headers"])
        assert fresh.headers["X-Cache"] == "miss", path
        assert bookable_in(fresh.get_json()) is becomes, path
        again = read(client, path, world["headers"])  # cached anew until the next instant
        assert again.headers["X-Cache"] == "hit", path


def test_a_booking_turns_cached_bookable_and_available_at_once(client, monkeypatch, world):
    set_clock(monkeypatch, RELEASE)
    path = f"/schedules/{world['schedule']}"
    slots_path = f"{path}/slots"
    read(client, path, world["headers"])
    read(client, slots_path, world["headers"])
    assert read(client, slots_path, world["headers"]).headers["X-Cache"] == "hit"
    for patient in world["patients"]:
        r = client.post("/registrations/", headers=world["headers"],
                        json={"patient_id": patient, "schedule_id": world["schedule"]})
        assert r.status_code == 201, r.get_json()
    shown = read(client, path, world["headers"]).get_json()
    assert (shown["available_slots"], shown["bookable"]) == (0, False)
    assert [s["available"] for s in read(client, slots_path, world["headers"]).get_json()[
        "results"]] == [0, 0]


def test_a_policy_change_turns_cached_answers_at_once(client, monkeypatch, world,
                                                      admin_headers):
    set_clock(monkeypatch, RELEASE - dt.timedelta(hours=1))
    for path in paths(world):
        read(client, path, world["headers"])
        assert not bookable_in(read(client, path, world["headers"]).get_json())
    assert client.put("/settings/booking", headers=admin_headers,
                      json={"horizon_days": None}).status_code == 200
    for path in paths(world):
        body = read(client, path, world["headers"]).get_json()
        assert bookable_in(body), path
        rows = body["results"] if "results" in body else [body]
        assert rows[0]["release_at"] is None


def test_with_the_real_clock_a_release_seconds_away(client, world, admin_headers):
    """No patched clock: the schedule is released two seconds from now, for real."""
    zone_now = _hospital_now(client)
    if zone_now.time() > dt.time(23, 59, 50):  # the release time of day must not wrap
        time.sleep(15)
        zone_now = _hospital_now(client)
    release = (zone_now + dt.timedelta(seconds=2)).replace(microsecond=0)
    day = release.date() + dt.timedelta(days=1)
    db.session.execute(db.text("UPDATE schedules SET date = :day WHERE id = :id"),
                       {"day": day, "id": world["schedule"]})
    db.session.commit()
    r = client.put("/settings/booking", headers=admin_headers,
                   json={"horizon_days": 1, "release_time": release.strftime("%H:%M:%S"),
                         "booking_cutoff_minutes": 0})
    assert r.status_code == 200
    path = f"/schedules/{world['schedule']}"
    first = read(client, path, world["headers"]).get_json()
    assert first["bookable"] is False
    assert read(client, path, world["headers"]).headers["X-Cache"] == "hit"
    while _hospital_now(client) < release:
        time.sleep(0.05)
    shown = read(client, path, world["headers"])
    assert shown.get_json()["bookable"] is True
    assert shown.headers["X-Cache"] == "miss"


def _hospital_now(client) -> dt.datetime:
    from app.services.schedule_rules import hospital_now
    with client.application.app_context():
        return hospital_now()
