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


# --- changing a slotted schedule -----------------------------------------------------------

def put_schedule(client, headers, schedule_id, **changes):
    return client.put(f"/schedules/{schedule_id}", headers=headers, json=changes)


@pytest.mark.parametrize("changes", [
    {"start_time": "08:30"}, {"end_time": "11:00"}, {"slot_minutes": 60},
    {"slot_minutes": None},
])
def test_a_booked_slotted_schedule_keeps_its_times_and_slots(client, admin_headers, owner,
                                                             owner_headers, factory, changes):
    schedule = factory.schedule(max_appointments=8, slot_minutes=30)
    before = slots_of(client, admin_headers, schedule.id)
    assert book(client, owner_headers, factory.patient(owner).id, schedule.id).status_code == 201
    body = assert_error(put_schedule(client, admin_headers, schedule.id, **changes), 409,
                        "schedule_has_bookings")
    assert set(body["errors"]) == set(changes)
    after = client.get(f"/schedules/{schedule.id}", headers=admin_headers).json
    assert (after["start_time"], after["end_time"], after["slot_minutes"]) == (
        "08:00:00", "12:00:00", 30)
    assert slots_of(client, admin_headers, schedule.id) == [
        {**slot, "available": slot["available"] - (i == 0)} for i, slot in enumerate(before)]


def test_a_booked_unslotted_schedule_cannot_be_split(client, admin_headers, owner,
                                                     owner_headers, factory):
    schedule = factory.schedule()
    assert book(client, owner_headers, factory.patient(owner).id, schedule.id).status_code == 201
    assert_error(put_schedule(client, admin_headers, schedule.id, slot_minutes=30), 409,
                 "schedule_has_bookings")
    # Other changes of an unslotted schedule keep the old rules: allowed with bookings.
    r = put_schedule(client, admin_headers, schedule.id, start_time="07:30", end_time="11:00")
    assert r.status_code == 200, r.json
    assert slots_of(client, admin_headers, schedule.id) == []


def test_same_values_sent_back_are_no_change(client, admin_headers, owner, owner_headers,
                                             factory):
    schedule = factory.schedule(slot_minutes=30)
    assert book(client, owner_headers, factory.patient(owner).id, schedule.id).status_code == 201
    whole = client.get(f"/schedules/{schedule.id}", headers=admin_headers).json
    r = client.put(f"/schedules/{schedule.id}", headers=admin_headers, json=whole)
    assert r.status_code == 200, r.json


def test_an_unbooked_schedule_is_laid_out_again(client, admin_headers, owner, owner_headers,
                                                factory):
    schedule = factory.schedule(max_appointments=4, slot_minutes=60)
    cancelled = book(client, owner_headers, factory.patient(owner).id, schedule.id).json
    client.put(f"/registrations/{cancelled['id']}/cancel", headers=owner_headers)
    r = put_schedule(client, admin_headers, schedule.id, slot_minutes=120, end_time="13:00")
    assert r.status_code == 200, r.json
    slots = slots_of(client, admin_headers, schedule.id)
    assert [(s["start_time"], s["end_time"], s["capacity"]) for s in slots] == [
        ("08:00:00", "10:00:00", 2), ("10:00:00", "12:00:00", 1), ("12:00:00", "13:00:00", 1)]
    # The cancelled registration lost its old slot; reinstating takes the earliest free one.
    shown = client.get(f"/registrations/{cancelled['id']}", headers=admin_headers).json
    assert shown["slot_id"] is None
    r = client.put(f"/registrations/{cancelled['id']}", headers=admin_headers,
                   json={"status": "scheduled"})
    assert (r.status_code, r.json["slot_id"]) == (200, slots[0]["id"]), r.json
    # Unsplitting an unbooked schedule removes its slots.
    client.put(f"/registrations/{cancelled['id']}/cancel", headers=admin_headers)
    assert put_schedule(client, admin_headers, schedule.id, slot_minutes=None).status_code == 200
    assert slots_of(client, admin_headers, schedule.id) == []


def test_capacity_changes_are_redistributed(client, admin_headers, owner, owner_headers,
                                            factory):
    schedule = factory.schedule(max_appointments=8, slot_minutes=60)  # 2, 2, 2, 2
    r = put_schedule(client, admin_headers, schedule.id, max_appointments=10)
    assert r.status_code == 200, r.json
    assert [s["capacity"] for s in slots_of(client, admin_headers, schedule.id)] == [3, 3, 2, 2]
    slots = slots_of(client, admin_headers, schedule.id)
    for slot in (slots[3], slots[3], slots[2]):
        assert book(client, owner_headers, factory.patient(owner).id, schedule.id,
                    slot_id=slot["id"]).status_code == 201
    # 5 places: 2, 1, 1, 1 — the last slot holds 2 bookings: refused, nothing changes.
    body = assert_error(put_schedule(client, admin_headers, schedule.id, max_appointments=5),
                        409, "capacity_below_booked")
    assert "max_appointments" in body["errors"]
    assert client.get(f"/schedules/{schedule.id}", headers=admin_headers).json[
        "max_appointments"] == 10
    assert [s["capacity"] for s in slots_of(client, admin_headers, schedule.id)] == [3, 3, 2, 2]
    # Below the schedule's own bookings is the older rule's 409.
    assert_error(put_schedule(client, admin_headers, schedule.id, max_appointments=2), 409,
                 "max_below_booked")
    # 7 places: 2, 2, 2, 1 — the last slot at 1 is below its 2 bookings.
    assert_error(put_schedule(client, admin_headers, schedule.id, max_appointments=7), 409,
                 "capacity_below_booked")
    r = put_schedule(client, admin_headers, schedule.id, max_appointments=8)
    assert r.status_code == 200, r.json
    assert [s["available"] for s in slots_of(client, admin_headers, schedule.id)] == [
        2, 2, 1, 0]


@pytest.mark.parametrize("value", [4, 241, "30", 30.5])
def test_bad_slot_minutes_are_400(client, admin_headers, factory, value):
    schedule = factory.schedule()
    body = assert_error(put_schedule(client, admin_headers, schedule.id, slot_minutes=value),
                        400, "validation_error")
    assert set(body["errors"]) == {"slot_minutes"}


# --- reinstating --------------------------------------------------------------------------

def test_reinstating_needs_a_free_place_in_its_own_slot(client, admin_headers, owner,
                                                        owner_headers, factory):
    schedule = factory.schedule(max_appointments=2, slot_minutes=120)  # 1, 1
    slots = slots_of(client, admin_headers, schedule.id)
    first = book(client, owner_headers, factory.patient(owner).id, schedule.id).json
    client.put(f"/registrations/{first['id']}/cancel", headers=owner_headers)
    taker = book(client, owner_headers, factory.patient(owner).id, schedule.id).json
    assert taker["slot_id"] == slots[0]["id"]
    assert_error(client.put(f"/registrations/{first['id']}", headers=admin_headers,
                            json={"status": "scheduled"}), 409, "slot_full")
    assert client.get(f"/registrations/{first['id']}", headers=admin_headers).json[
        "status"] == "cancelled"
    # Once the slot has room again, it is reinstated in that slot.
    client.put(f"/registrations/{taker['id']}/cancel", headers=owner_headers)
    r = client.put(f"/registrations/{first['id']}", headers=admin_headers,
                   json={"status": "scheduled"})
    assert (r.status_code, r.json["slot_id"]) == (200, slots[0]["id"])


def test_reinstating_after_a_new_layout_takes_the_earliest_slot_with_room(
        client, admin_headers, owner, owner_headers, factory):
    schedule = factory.schedule(max_appointments=4, slot_minutes=120)  # 2, 2
    first = book(client, owner_headers, factory.patient(owner).id, schedule.id).json
    client.put(f"/registrations/{first['id']}/cancel", headers=owner_headers)
    # Laid out anew while nothing is booked: four slots of one; the cancelled one has none.
    assert put_schedule(client, admin_headers, schedule.id, slot_minutes=60).status_code == 200
    slots = slots_of(client, admin_headers, schedule.id)
    assert client.get(f"/registrations/{first['id']}", headers=admin_headers).json[
        "slot_id"] is None
    taker = book(client, owner_headers, factory.patient(owner).id, schedule.id,
                 slot_id=slots[0]["id"]).json
    assert taker["slot_id"] == slots[0]["id"]
    r = client.put(f"/registrations/{first['id']}", headers=admin_headers,
                   json={"status": "scheduled"})
    assert (r.status_code, r.json["slot_id"]) == (200, slots[1]["id"])


def test_a_full_schedule_wins_when_reinstating(client, admin_headers, owner, owner_headers,
                                               factory):
    schedule = factory.schedule(max_appointments=2, slot_minutes=120)
    first = book(client, owner_headers, factory.patient(owner).id, schedule.id).json
    client.put(f"/registrations/{first['id']}/cancel", headers=owner_headers)
    for _ in range(2):
        assert book(client, owner_headers, factory.patient(owner).id,
                    schedule.id).status_code == 201
    assert_error(client.put(f"/registrations/{first['id']}", headers=admin_headers,
                            json={"status": "scheduled"}), 409, "schedule_full")


def test_cancel_complete_and_delete_keep_slot_counters(client, admin_headers, owner,
                                                       owner_headers, factory):
    schedule = factory.schedule(max_appointments=4, slot_minutes=120)  # 2, 2
    regs = [book(client, owner_headers, factory.patient(owner).id, schedule.id).json
            for _ in range(3)]
    assert [s["available"] for s in slots_of(client, admin_headers, schedule.id)] == [0, 1]
    client.put(f"/registrations/{regs[0]['id']}/cancel", headers=owner_headers)
    assert [s["available"] for s in slots_of(client, admin_headers, schedule.id)] == [1, 1]
    client.put(f"/registrations/{regs[1]['id']}/complete", headers=admin_headers)
    assert [s["available"] for s in slots_of(client, admin_headers, schedule.id)] == [1, 1]
    assert client.delete(f"/registrations/{regs[2]['id']}",
                         headers=owner_headers).status_code == 204
    assert [s["available"] for s in slots_of(client, admin_headers, schedule.id)] == [1, 2]
    assert client.get(f"/schedules/{schedule.id}", headers=admin_headers).json[
        "available_slots"] == 3
