"""ETags, 304s and the catalogue cache: a read after any write never shows stale data."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text

from app.database.generations import generations
from app.extensions import db
from app.models import Department, Registration, Schedule, ScheduleSlot
from app.ops.jobs import run_no_show_job
from app.web.caching import LIVE_SQL
from tests.assertions import assert_error
from tests.sqlcount import count_statements


@pytest.fixture()
def world(factory):
    admin = factory.admin()
    owner = factory.user()
    doctor = factory.doctor(name="王医生")
    department = factory.department(name="眼科")
    schedule = factory.schedule(doctor, department, max_appointments=3)
    patient = factory.patient(owner)
    spare = factory.department(name="耳鼻喉科")  # the doctor works there, with no schedules
    factory.affiliation(doctor, spare)
    return {
        "admin": factory.headers(admin), "owner": factory.headers(owner), "owner_id": owner.id,
        "doctor": doctor.id, "department": department.id, "schedule": schedule.id,
        "patient": patient.id, "spare_department": spare.id,
    }


def read_twice(client, path, headers):
    """GET twice; the second answer must come from the cache (else the test proves nothing)."""
    first = client.get(path, headers=headers)
    assert first.status_code == 200, first.get_json()
    second = client.get(path, headers=headers)
    assert second.status_code == 200
    assert second.headers.get("X-Cache") == "hit", path
    assert second.get_json() == first.get_json()
    return second.get_json()


def test_etag_and_if_none_match(client, world):
    path = f"/departments/{world['department']}"
    first = client.get(path, headers=world["owner"])
    etag = first.headers["ETag"]
    assert etag
    not_modified = client.get(path, headers={**world["owner"], "If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.get_data() == b""
    assert not_modified.headers["ETag"] == etag

    updated = client.put(path, json={"description": "新的介绍"}, headers=world["admin"])
    assert updated.status_code == 200
    changed = client.get(path, headers={**world["owner"], "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.get_json()["description"] == "新的介绍"
    assert changed.headers["ETag"] != etag


def test_etag_on_lists_and_non_catalogue_reads(client, world):
    listing = client.get("/schedules/?per_page=5", headers=world["owner"])
    assert listing.status_code == 200 and listing.headers.get("ETag")
    again = client.get("/schedules/?per_page=5",
                       headers={**world["owner"], "If-None-Match": listing.headers["ETag"]})
    assert again.status_code == 304
    me = client.get("/users/me", headers=world["owner"])
    assert me.headers.get("ETag") and "X-Cache" not in me.headers


def test_cached_reads_still_need_a_token(client, world):
    read_twice(client, "/departments/", world["owner"])
    response = client.get("/departments/")
    assert_error(response, 401, "invalid_token")


def slots(client, world) -> int:
    return client.get(f"/schedules/{world['schedule']}", headers=world["owner"]).get_json()[
        "available_slots"]


def test_booking_and_cancelling_change_cached_available_slots(client, world):
    path = f"/schedules/{world['schedule']}"
    assert read_twice(client, path, world["owner"])["available_slots"] == 3
    listing = read_twice(client, "/schedules/?available=true", world["owner"])
    assert listing["count"] == 1

    booked = client.post("/registrations/", headers=world["owner"],
                         json={"patient_id": world["patient"], "schedule_id": world["schedule"]})
    assert booked.status_code == 201, booked.get_json()
    assert slots(client, world) == 2
    assert client.get("/schedules/?available=true",
                      headers=world["owner"]).get_json()["results"][0]["available_slots"] == 2

    read_twice(client, path, world["owner"])
    reg_id = booked.get_json()["id"]
    cancelled = client.put(f"/registrations/{reg_id}/cancel", headers=world["owner"])
    assert cancelled.status_code == 200
    assert slots(client, world) == 3


def test_deleting_a_patient_or_user_frees_cached_slots(client, factory, world):
    other = factory.user()
    other_headers = factory.headers(other)
    patient = factory.patient(other)
    for pid, headers in ((world["patient"], world["owner"]), (patient.id, other_headers)):
        response = client.post("/registrations/", headers=headers,
                               json={"patient_id": pid, "schedule_id": world["schedule"]})
        assert response.status_code == 201
    assert read_twice(client, f"/schedules/{world['schedule']}", world["owner"])[
        "available_slots"] == 1

    assert client.delete(f"/patients/{world['patient']}", headers=world["owner"]).status_code == 204
    assert slots(client, world) == 2
    read_twice(client, f"/schedules/{world['schedule']}", world["owner"])
    assert client.delete(f"/users/{other.id}", headers=world["admin"]).status_code == 204
    assert slots(client, world) == 3


def ids_of(body) -> list[int]:
    return [item["id"] for item in body["results"]]


# (cached read, write: method, path, body, its status, what the next read shows)
CATALOGUE_WRITES = {
    "department-update": (
        "/departments/{department}", ("put", "/departments/{department}", {"name": "眼科中心"}),
        200, lambda body, w: body["name"] == "眼科中心"),
    "doctor-update": (
        "/doctors/{doctor}", ("put", "/doctors/{doctor}", {"name": "王主任"}),
        200, lambda body, w: body["name"] == "王主任"),
    "department-create": (
        "/departments/", ("post", "/departments/", {"name": "新科室"}),
        201, lambda body, w: "新科室" in [d["name"] for d in body["results"]]),
    "affiliation-delete": (
        "/doctors/{doctor}/departments",
        ("delete", "/affiliations/{doctor}/{spare_department}", None),
        204, lambda body, w: ids_of(body) == [w["department"]]),
    "schedule-update": (
        "/departments/{department}/schedules",
        ("put", "/schedules/{schedule}", {"max_appointments": 7}),
        200, lambda body, w: [s["max_appointments"] for s in body["results"]] == [7]),
    "schedule-create": (
        "/schedules/", ("post", "/schedules/", "new-schedule"),
        201, lambda body, w: body["count"] == 2),
    "schedule-delete": (
        "/doctors/{doctor}/schedules", ("delete", "/schedules/{schedule}", None),
        204, lambda body, w: body["count"] == 0),
    "department-delete": (
        "/departments/", ("delete", "/departments/{department}?force=true", None),
        204, lambda body, w: ids_of(body) == [w["spare_department"]]),
}


@pytest.mark.parametrize("case", list(CATALOGUE_WRITES))
def test_every_catalogue_write_invalidates(client, world, case):
    path, (method, write_path, body), written, shows = CATALOGUE_WRITES[case]
    path = path.format(**world)
    before = read_twice(client, path, world["owner"])
    assert not shows(before, world)
    if body == "new-schedule":
        body = {"doctor_id": world["doctor"], "department_id": world["department"],
                "date": (dt.date.today() + dt.timedelta(days=40)).isoformat(),
                "start_time": "08:00", "end_time": "12:00", "max_appointments": 5}
    response = getattr(client, method)(write_path.format(**world), json=body,
                                       headers=world["admin"])
    assert response.status_code == written, response.get_json()
    after = client.get(path, headers=world["owner"])
    assert after.status_code == 200, after.get_json()
    assert after.headers.get("X-Cache") == "miss"
    assert shows(after.get_json(), world), after.get_json()
    assert read_twice(client, path, world["owner"]) == after.get_json()


def test_a_deleted_schedule_is_not_served_from_the_cache(client, world):
    path = f"/schedules/{world['schedule']}"
    read_twice(client, path, world["owner"])
    deleted = client.delete(path, headers=world["admin"])
    assert deleted.status_code == 204, deleted.get_json()
    after = client.get(path, headers=world["owner"])
    assert_error(after, 404, "schedule_not_found")
    assert "X-Cache" not in after.headers


def test_the_no_show_jobs_freed_place_shows_at_once(app, client, factory, world):
    today = dt.date.today()
    past = factory.schedule(date=today - dt.timedelta(days=2), max_appointments=2)
    factory.registration(factory.patient(factory.user()), past)
    path = f"/schedules/{past.id}"
    assert read_twice(client, path, world["owner"])["available_slots"] == 1
    assert run_no_show_job(app) == 1
    # The job ran in its own session; requests here share the test's session, whose
    # identity map still holds the old row (in production every request has a new one).
    db.session.expire_all()
    after = client.get(path, headers=world["owner"])
    assert after.headers.get("X-Cache") == "hit"  # the cached body, its counter read afresh
    assert after.get_json()["available_slots"] == 2


def test_a_rolled_back_write_does_not_invalidate(client, world):
    path = f"/departments/{world['department']}"
    read_twice(client, path, world["owner"])
    taken = client.post("/departments/", json={"name": "眼科"}, headers=world["admin"])
    assert_error(taken, 409, "duplicate_name")
    assert client.get(path, headers=world["owner"]).headers.get("X-Cache") == "hit"


def test_a_booking_keeps_every_cached_read_and_shows_in_it_at_once(client, world):
    unaffected = ["/departments/", f"/departments/{world['department']}", "/doctors/",
                  f"/doctors/{world['doctor']}", f"/doctors/{world['doctor']}/departments",
                  f"/departments/{world['department']}/doctors"]
    counters = ["/schedules/", f"/schedules/{world['schedule']}",
                f"/doctors/{world['doctor']}/schedules",
                f"/departments/{world['department']}/schedules"]
    for path in unaffected + counters:
        read_twice(client, path, world["owner"])
    booked = client.post("/registrations/", headers=world["owner"],
                         json={"patient_id": world["patient"], "schedule_id": world["schedule"]})
    assert booked.status_code == 201
    for path in unaffected + counters:
        assert client.get(path, headers=world["owner"]).headers.get("X-Cache") == "hit", path
    for path in counters:
        response = client.get(path, headers=world["owner"])
        body = response.get_json()
        shown = body["results"][0] if "results" in body else body
        assert shown["available_slots"] == 2, path
        assert shown["bookable"] is True, path


def test_a_booking_behind_the_services_back_shows_in_cached_schedule_reads(
        client, factory, world):
    # Written by SQL, not through the service; seen at the next reading of the generations
    # (CACHE_SYNC_SECONDS, 0 in the suite), then the hit reads the counters afresh.
    paths = [f"/schedules/{world['schedule']}", "/schedules/",
             f"/departments/{world['department']}/schedules",
             f"/doctors/{world['doctor']}/schedules"]
    etags = {}
    for path in paths:
        read_twice(client, path, world["owner"])
        etags[path] = client.get(path, headers=world["owner"]).headers["ETag"]
    schedule = db.session.get(Schedule, world["schedule"])
    for _ in range(3):
        factory.registration(factory.patient(factory.user()), schedule)
    for path in paths:
        response = client.get(path, headers={**world["owner"], "If-None-Match": etags[path]})
        assert response.status_code == 200, path  # not a 304 for the old body
        assert response.headers["X-Cache"] == "hit", path
        assert response.headers["ETag"] != etags[path], path
        body = response.get_json()
        shown = body["results"][0] if "results" in body else body
        assert (shown["available_slots"], shown["bookable"]) == (0, False), path


def test_cached_slots_show_their_counters_at_once(client, factory, world):
    schedule = factory.schedule(max_appointments=2, slot_minutes=120)  # 08:00-12:00: 2 slots
    path = f"/schedules/{schedule.id}/slots"
    slots = read_twice(client, path, world["owner"])["results"]
    assert [slot["available"] for slot in slots] == [1, 1]
    patient = factory.patient(factory.user())
    db.session.add(Registration(patient_id=patient.id, schedule_id=schedule.id,
                                slot_id=slots[1]["id"]))
    db.session.commit()
    response = client.get(path, headers=world["owner"])
    assert response.headers["X-Cache"] == "hit"
    assert [slot["available"] for slot in response.get_json()["results"]] == [1, 0]
    shown = client.get(f"/schedules/{schedule.id}", headers=world["owner"]).get_json()
    assert (shown["available_slots"], shown["bookable"]) == (1, True)


@pytest.mark.parametrize("cutoff", [0, 45])
def test_the_live_closing_instant_is_schedule_closes_at(factory, cutoff):
    # live_counters() (LIVE_SQL) restates schedule_closes_at() over a set of rows; they
    # must never differ.
    factory.policy(booking_cutoff_minutes=cutoff)
    unslotted = factory.schedule(max_appointments=3)
    partly = factory.schedule(max_appointments=4, slot_minutes=60)  # 08:00-12:00: 4 of 1
    full = factory.schedule(max_appointments=2, slot_minutes=120)
    for schedule, taken in ((partly, [3, 1]), (full, [0, 1])):
        slots = db.session.scalars(select(ScheduleSlot.id).where(
            ScheduleSlot.schedule_id == schedule.id).order_by(ScheduleSlot.start_time)).all()
        for index in taken:
            db.session.add(Registration(patient_id=factory.patient(factory.user()).id,
                                        schedule_id=schedule.id, slot_id=slots[index]))
    db.session.commit()
    ids = [unslotted.id, partly.id, full.id]
    live = db.session.execute(LIVE_SQL.clause, {"schedules": ids, "slots": []}).one()
    restated = dict(zip(live[0], live[5], strict=True))
    defined = dict(db.session.execute(text(
        "SELECT id, schedule_closes_at(id, date, start_time, slot_minutes) FROM schedules "
        "WHERE id = ANY(:ids)"), {"ids": ids}).all())
    assert restated == defined
    assert defined[full.id] is None and defined[partly.id] is not None


def test_a_hit_reads_the_counters_only_after_a_booking(client, factory, world, monkeypatch):
    monkeypatch.setattr(generations(), "interval", 3600.0)  # readings hold unless told
    path = f"/departments/{world['department']}/schedules"
    read_twice(client, path, world["owner"])
    with count_statements() as log:
        assert client.get(path, headers=world["owner"]).headers["X-Cache"] == "hit"
    assert log.count == 0  # nothing booked since the entry was stored: the body as it is
    booked = client.post("/registrations/", headers=world["owner"],
                         json={"patient_id": world["patient"], "schedule_id": world["schedule"]})
    assert booked.status_code == 201
    with count_statements() as log:
        response = client.get(path, headers=world["owner"])
    assert response.headers["X-Cache"] == "hit"
    assert response.get_json()["results"][0]["available_slots"] == 2
    assert len(log.matching("live_counters(")) == 1  # the counters, read once


def test_a_patched_hit_is_the_body_the_view_renders(app, client, factory, world, monkeypatch):
    # The overlay fills the cached body's template with the counters read now: the bytes
    # (and so the ETag) must be exactly those of a fresh answer, whatever changed.
    department = db.session.get(Department, world["department"])
    slotted = factory.schedule(department=department, max_appointments=2, slot_minutes=120)
    single = factory.schedule(department=department, max_appointments=1)
    paths = [f"/departments/{department.id}/schedules", "/schedules/?per_page=100",
             f"/schedules/{slotted.id}/slots", f"/schedules/{single.id}"]
    for path in paths:
        read_twice(client, path, world["owner"])
    slots = db.session.scalars(select(ScheduleSlot.id).where(
        ScheduleSlot.schedule_id == slotted.id).order_by(ScheduleSlot.start_time)).all()
    for schedule, slot_id in ((slotted, slots[1]), (single, None)):
        db.session.add(Registration(patient_id=factory.patient(factory.user()).id,
                                    schedule_id=schedule.id, slot_id=slot_id))
    db.session.commit()
    hits = {}
    for path in paths:
        response = client.get(path, headers=world["owner"])
        assert response.headers["X-Cache"] == "hit", path
        hits[path] = (response.get_data(), response.headers["ETag"])
    assert b'"available":0' in hits[paths[2]][0]
    assert b'"available_slots":0,"bookable":false' in hits[paths[3]][0]
    monkeypatch.setitem(app.config, "CACHE_ENABLED", False)
    for path in paths:
        fresh = client.get(path, headers=world["owner"])
        assert "X-Cache" not in fresh.headers
        assert (fresh.get_data(), fresh.headers["ETag"]) == hits[path], path
