"""Time-slot numbers (分时段): layout, booking into slots, schedule changes (API reference)."""
from __future__ import annotations

import datetime as dt

import pytest

from tests.assertions import assert_error

DAY = dt.date.today() + dt.timedelta(days=30)


def slots_of(client, headers, schedule_id: int) -> list[dict]:
    r = client.get(f"/schedules/{schedule_id}/slots?per_page=100", headers=headers)
    assert r.status_code == 200, r.json
    return r.json["results"]


def book(client, headers, patient_id: int, schedule_id: int, **extra):
    return client.post("/registrations/", headers=headers,
                       json={"patient_id": patient_id, "schedule_id": schedule_id, **extra})


@pytest.mark.parametrize(("start", "end", "minutes", "capacity", "expected"), [
    # 4 hours in 30-minute slots, 20 places: 8 slots of 3,3,3,3,2,2,2,2.
    ("08:00", "12:00", 30, 20, [("08:00:00", "08:30:00", 3), ("08:30:00", "09:00:00", 3),
                               ("09:00:00", "09:30:00", 3), ("09:30:00", "10:00:00", 3),
                               ("10:00:00", "10:30:00", 2), ("10:30:00", "11:00:00", 2),
                               ("11:00:00", "11:30:00", 2), ("11:30:00", "12:00:00", 2)]),
    # The last slot is shorter; fewer places than slots leaves the late ones at 0.
    ("08:00", "09:10", 30, 2, [("08:00:00", "08:30:00", 1), ("08:30:00", "09:00:00", 1),
                              ("09:00:00", "09:10:00", 0)]),
    # A slot longer than the session: one slot, the whole session.
    ("13:30", "14:00", 240, 7, [("13:30:00", "14:00:00", 7)]),
    # Running up to the end of the day does not wrap past midnight.
    ("22:00", "23:59", 60, 5, [("22:00:00", "23:00:00", 3), ("23:00:00", "23:59:00", 2)]),
])
def test_slots_are_laid_out_back_to_back_with_the_capacity_spread(
        client, admin_headers, factory, start, end, minutes, capacity, expected):
    doctor, department = factory.doctor(), factory.department()
    factory.affiliation(doctor, department)
    r = client.post("/schedules/", headers=admin_headers, json={
        "doctor_id": doctor.id, "department_id": department.id, "date": DAY.isoformat(),
        "start_time": start, "end_time": end, "max_appointments": capacity,
        "slot_minutes": minutes})
    assert r.status_code == 201, r.json
    assert r.json["slot_minutes"] == minutes
    slots = slots_of(client, admin_headers, r.json["id"])
    assert [(s["start_time"], s["end_time"], s["capacity"]) for s in slots] == expected
    assert all(s["available"] == s["capacity"] and s["schedule_id"] == r.json["id"]
               for s in slots)
    assert set(slots[0]) == {"id", "schedule_id", "start_time", "end_time", "capacity",
                             "available"}


def test_an_unslotted_schedule_has_an_empty_slot_list(client, user_headers, factory):
    schedule = factory.schedule()
    r = client.get(f"/schedules/{schedule.id}/slots", headers=user_headers)
    assert r.status_code == 200
    assert r.json == {"results": [], "more": False, "count": 0, "page": 1, "per_page": 10}


def test_slots_of_an_unknown_schedule_are_404(client, user_headers):
    assert_error(client.get("/schedules/999999/slots", headers=user_headers), 404,
                 "schedule_not_found")


def test_booking_takes_the_earliest_slot_with_a_free_place(client, owner, owner_headers,
                                                           factory):
    schedule = factory.schedule(max_appointments=4, slot_minutes=120)  # 08-10 (2), 10-12 (2)
    slots = slots_of(client, owner_headers, schedule.id)
    patients = [factory.patient(owner) for _ in range(4)]
    booked = []
    for patient in patients:
        r = book(client, owner_headers, patient.id, schedule.id)
        assert r.status_code == 201, r.json
        booked.append(r.json)
    assert [b["slot_id"] for b in booked] == [slots[0]["id"]] * 2 + [slots[1]["id"]] * 2
    first, last = booked[0], booked[-1]
    assert first["visit_start"] == f"{DAY.isoformat()}T08:00:00+08:00"
    assert first["visit_end"] == f"{DAY.isoformat()}T10:00:00+08:00"
    assert last["visit_start"] == f"{DAY.isoformat()}T10:00:00+08:00"
    assert last["visit_end"] == f"{DAY.isoformat()}T12:00:00+08:00"
    assert [s["available"] for s in slots_of(client, owner_headers, schedule.id)] == [0, 0]
    shown = client.get(f"/registrations/{first['id']}", headers=owner_headers).json
    assert (shown["slot_id"], shown["visit_start"]) == (first["slot_id"], first["visit_start"])


def test_an_unslotted_booking_has_the_schedules_times(client, owner, owner_headers, factory):
    schedule = factory.schedule()
    r = book(client, owner_headers, factory.patient(owner).id, schedule.id)
    assert r.status_code == 201
    assert r.json["slot_id"] is None
    assert r.json["visit_start"] == f"{DAY.isoformat()}T08:00:00+08:00"
    assert r.json["visit_end"] == f"{DAY.isoformat()}T12:00:00+08:00"


def test_a_chosen_slot_is_booked_and_a_full_one_refused(client, owner, owner_headers, factory):
    schedule = factory.schedule(max_appointments=3, slot_minutes=80)  # 1, 1, 1
    slots = slots_of(client, owner_headers, schedule.id)
    a, b = factory.patient(owner), factory.patient(owner)
    r = book(client, owner_headers, a.id, schedule.id, slot_id=slots[2]["id"])
    assert r.status_code == 201
    assert (r.json["slot_id"], r.json["visit_start"][11:19]) == (slots[2]["id"], "10:40:00")
    assert_error(book(client, owner_headers, b.id, schedule.id, slot_id=slots[2]["id"]), 409,
                 "slot_full")
    # A full schedule wins over a full slot.
    for slot in slots[:2]:
        assert book(client, owner_headers, factory.patient(owner).id, schedule.id,
                    slot_id=slot["id"]).status_code == 201
    assert_error(book(client, owner_headers, b.id, schedule.id, slot_id=slots[2]["id"]), 409,
                 "schedule_full")


def test_a_patient_already_booked_hears_duplicate_before_full(client, owner, owner_headers,
                                                             factory):
    schedule = factory.schedule(max_appointments=1, slot_minutes=60)
    patient = factory.patient(owner)
    assert book(client, owner_headers, patient.id, schedule.id).status_code == 201
    slot = slots_of(client, owner_headers, schedule.id)[0]
    assert_error(book(client, owner_headers, patient.id, schedule.id, slot_id=slot["id"]),
                 409, "duplicate_registration")


@pytest.mark.parametrize("case", ["other schedule", "unslotted", "unknown"])
def test_a_slot_that_is_not_the_schedules_is_a_400(client, owner, owner_headers, factory, case):
    slotted = factory.schedule(slot_minutes=60)
    other = factory.schedule(slot_minutes=60)
    plain = factory.schedule()
    patient = factory.patient(owner)
    foreign = slots_of(client, owner_headers, other.id)[0]["id"]
    target, slot_id = {"other schedule": (slotted.id, foreign),
                       "unslotted": (plain.id, foreign),
                       "unknown": (slotted.id, 2**31 - 1)}[case]
    r = book(client, owner_headers, patient.id, target, slot_id=slot_id)
    body = assert_error(r, 400, "invalid_slot")
    assert "slot_id" in body["errors"]
    assert client.get(f"/schedules/{target}", headers=owner_headers).json[
        "available_slots"] == 10


@pytest.mark.parametrize("value", ["1", 0, -1, 2**31, True, 1.5])
def test_a_malformed_slot_id_is_a_400(client, owner, owner_headers, factory, value):
    schedule = factory.schedule(slot_minutes=60)
    r = book(client, owner_headers, factory.patient(owner).id, schedule.id, slot_id=value)
    body = assert_error(r, 400, "validation_error")
    assert "slot_id" in body["errors"]


def test_slot_zero_capacity_slots_are_skipped(client, owner, owner_headers, factory):
    schedule = factory.schedule(start=dt.time(8), end=dt.time(11), max_appointments=1,
                                slot_minutes=60)  # 1, 0, 0
    slots = slots_of(client, owner_headers, schedule.id)
    assert [s["capacity"] for s in slots] == [1, 0, 0]
    assert_error(book(client, owner_headers, factory.patient(owner).id, schedule.id,
                      slot_id=slots[1]["id"]), 409, "slot_full")
    r = book(client, owner_headers, factory.patient(owner).id, schedule.id)
    assert (r.status_code, r.json["slot_id"]) == (201, slots[0]["id"])
