"""Registrations: booking, reading, notes, delete, lists and search."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.identity.callers import caller_cache
from app.models import Registration, Schedule
from tests.assertions import assert_error
from tests.sqlcount import count_statements

REGISTRATION_KEYS = {"id", "patient_id", "schedule_id", "status", "notes", "queue_number",
                     "slot_id", "visit_start", "visit_end", "checked_in_at", "cancelled_by",
                     "cancel_reason",
                     "moved_from_schedule_id", "created_at", "updated_at"}


@pytest.fixture()
def patient(factory, owner):
    return factory.patient(owner, name="王小明")


@pytest.fixture()
def schedule(factory):
    return factory.schedule(max_appointments=3)


def book(client, headers, patient_id, schedule_id, **extra):
    return client.post("/registrations/", headers=headers,
                       json={"patient_id": patient_id, "schedule_id": schedule_id, **extra})


def booked_count(schedule_id: int) -> int:
    db.session.expire_all()
    return db.session.get(Schedule, schedule_id).booked_count


# --- booking ------------------------------------------------------------------------------

def test_book_registration(client, owner_headers, patient, schedule):
    r = book(client, owner_headers, patient.id, schedule.id, notes="fever since Monday")
    assert r.status_code == 201, r.json
    body = r.json
    assert set(body) == REGISTRATION_KEYS
    assert body["patient_id"] == patient.id
    assert body["schedule_id"] == schedule.id
    assert body["status"] == "scheduled"
    assert body["notes"] == "fever since Monday"
    assert body["queue_number"] == 1
    assert body["created_at"].endswith("+00:00")
    assert booked_count(schedule.id) == 1
    assert client.get(f"/registrations/{body['id']}", headers=owner_headers).json == body


def test_booking_ignores_read_only_fields(client, owner_headers, patient, schedule):
    r = book(client, owner_headers, patient.id, schedule.id, id=999, status="completed",
             queue_number=77, created_at="2000-01-01T00:00:00+00:00")
    assert r.status_code == 201, r.json
    assert r.json["id"] != 999
    assert r.json["status"] == "scheduled"
    assert r.json["queue_number"] == 1
    assert not r.json["created_at"].startswith("2000")
    assert r.json["notes"] is None


def test_queue_numbers_follow_booking_order_and_are_never_reused(
        client, factory, owner, owner_headers, schedule):
    patients = [factory.patient(owner) for _ in range(3)]
    first = book(client, owner_headers, patients[0].id, schedule.id).json
    second = book(client, owner_headers, patients[1].id, schedule.id).json
    assert (first["queue_number"], second["queue_number"]) == (1, 2)
    assert client.put(f"/registrations/{second['id']}/cancel",
                      headers=owner_headers).status_code == 200
    third = book(client, owner_headers, patients[2].id, schedule.id).json
    again = book(client, owner_headers, patients[1].id, schedule.id).json
    assert third["queue_number"] == 3
    assert again["queue_number"] == 4
    assert booked_count(schedule.id) == 3


def test_admin_books_for_any_patient(client, admin_headers, patient, schedule):
    r = book(client, admin_headers, patient.id, schedule.id)
    assert r.status_code == 201, r.json
    assert r.json["patient_id"] == patient.id


@pytest.mark.parametrize("body,field", [
    ({"schedule_id": 1}, "patient_id"),
    ({"patient_id": 1}, "schedule_id"),
    ({"patient_id": "1", "schedule_id": 1}, "patient_id"),
    ({"patient_id": 1.5, "schedule_id": 1}, "patient_id"),
    ({"patient_id": True, "schedule_id": 1}, "patient_id"),
    ({"patient_id": None, "schedule_id": 1}, "patient_id"),
    ({"patient_id": 0, "schedule_id": 1}, "patient_id"),
    ({"patient_id": 1, "schedule_id": 2**31}, "schedule_id"),
    ({"patient_id": 1, "schedule_id": [1]}, "schedule_id"),
    ({"patient_id": 1, "schedule_id": 1, "notes": "x" * 2001}, "notes"),
    ({"patient_id": 1, "schedule_id": 1, "notes": 12}, "notes"),
], ids=["missing-patient", "missing-schedule", "patient-string", "patient-float",
        "patient-bool", "patient-null", "patient-zero", "schedule-too-big", "schedule-list",
        "notes-too-long", "notes-not-string"])
def test_booking_validation(client, owner_headers, body, field):
    r = client.post("/registrations/", json=body, headers=owner_headers)
    assert_error(r, 400, "validation_error")
    assert field in r.json["errors"]


@pytest.mark.parametrize("data", [b"", b"not json", b"[1, 2]"], ids=["empty", "garbage", "array"])
def test_booking_needs_a_json_object(client, owner_headers, data):
    r = client.post("/registrations/", data=data, headers=owner_headers,
                    content_type="application/json")
    assert_error(r, 400, "invalid_json")


def test_notes_of_exactly_2000_characters_are_fine(client, owner_headers, patient, schedule):
    r = book(client, owner_headers, patient.id, schedule.id, notes="注" * 2000)
    assert r.status_code == 201, r.json
    assert len(r.json["notes"]) == 2000


def test_booking_needs_a_token(client, patient, schedule):
    r = client.post("/registrations/", json={"patient_id": patient.id,
                                             "schedule_id": schedule.id})
    assert_error(r, 401, "invalid_token")


def test_booking_another_users_patient_is_404(client, factory, patient, schedule):
    stranger = factory.headers(factory.user())
    r = book(client, stranger, patient.id, schedule.id)
    assert_error(r, 404, "patient_not_found")
    assert booked_count(schedule.id) == 0


def test_booking_unknown_patient_or_schedule_is_404(client, owner_headers, patient, schedule):
    r = book(client, owner_headers, 2**31 - 1, schedule.id)
    assert_error(r, 404, "patient_not_found")
    r = book(client, owner_headers, patient.id, 2**31 - 1)
    assert_error(r, 404, "schedule_not_found")


def test_booking_a_full_schedule_is_409(client, factory, owner, owner_headers):
    schedule = factory.schedule(max_appointments=1)
    first, second = factory.patient(owner), factory.patient(owner)
    assert book(client, owner_headers, first.id, schedule.id).status_code == 201
    r = book(client, owner_headers, second.id, schedule.id)
    assert_error(r, 409, "schedule_full")
    assert booked_count(schedule.id) == 1


def test_booking_twice_is_409_but_rebooking_after_cancel_works(
        client, owner_headers, patient, schedule):
    first = book(client, owner_headers, patient.id, schedule.id).json
    r = book(client, owner_headers, patient.id, schedule.id)
    assert_error(r, 409, "duplicate_registration")
    client.put(f"/registrations/{first['id']}/cancel", headers=owner_headers)
    r = book(client, owner_headers, patient.id, schedule.id)
    assert r.status_code == 201
    assert r.json["id"] != first["id"]


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_booking_a_started_schedule_is_409(client, factory, patient, owner_headers,
                                           admin_headers, who):
    yesterday = dt.date.today() - dt.timedelta(days=1)
    started = factory.schedule(date=yesterday)
    headers = owner_headers if who == "owner" else admin_headers
    r = book(client, headers, patient.id, started.id)
    assert_error(r, 409, "schedule_started")
    assert booked_count(started.id) == 0


def test_the_database_refuses_overbooking_from_any_writer(client, factory, owner,
                                                          owner_headers, db_session):
    """Capacity is the counter trigger and a CHECK: a plain INSERT cannot overbook either."""
    schedule = factory.schedule(max_appointments=1)
    assert book(client, owner_headers, factory.patient(owner).id, schedule.id).status_code == 201
    other = factory.patient(owner)
    with pytest.raises(IntegrityError) as info, db_session.begin_nested():
        db_session.execute(text("INSERT INTO registrations (patient_id, schedule_id) "
                                "VALUES (:p, :s)"), {"p": other.id, "s": schedule.id})
    assert info.value.orig.diag.constraint_name == "ck_schedules_capacity"
    r = book(client, owner_headers, other.id, schedule.id)
    assert_error(r, 409, "schedule_full")
    assert booked_count(schedule.id) == 1


def test_the_database_refuses_a_second_active_booking_from_any_writer(
        client, owner_headers, patient, schedule, db_session):
    assert book(client, owner_headers, patient.id, schedule.id).status_code == 201
    with pytest.raises(IntegrityError) as info, db_session.begin_nested():
        db_session.execute(text("INSERT INTO registrations (patient_id, schedule_id) "
                                "VALUES (:p, :s)"), {"p": patient.id, "s": schedule.id})
    assert info.value.orig.diag.constraint_name == "uq_registrations_active_patient_schedule"
    r = book(client, owner_headers, patient.id, schedule.id)
    assert_error(r, 409, "duplicate_registration")


def test_a_patient_on_a_full_schedule_hears_duplicate_first(client, factory, owner,
                                                            owner_headers):
    schedule = factory.schedule(max_appointments=1)
    patient = factory.patient(owner)
    assert book(client, owner_headers, patient.id, schedule.id).status_code == 201
    assert_error(book(client, owner_headers, patient.id, schedule.id), 409,
                 "duplicate_registration")


# --- one registration ---------------------------------------------------------------------

@pytest.fixture()
def registration(factory, patient, schedule):
    return factory.registration(patient, schedule, notes="first visit")


def test_get_registration(client, owner_headers, admin_headers, registration):
    for headers in (owner_headers, admin_headers):
        r = client.get(f"/registrations/{registration.id}", headers=headers)
        assert r.status_code == 200
        assert r.json["id"] == registration.id
        assert r.json["notes"] == "first visit"
        assert r.json["queue_number"] == registration.queue_number


@pytest.mark.parametrize("path, code", [("/registrations/2147483647", "registration_not_found"),
                                        ("/registrations/2147483648", "not_found")],
                         ids=["unknown", "beyond-int"])
def test_get_unknown_registration_is_404(client, owner_headers, path, code):
    r = client.get(path, headers=owner_headers)
    assert_error(r, 404, code)


def test_get_registration_needs_a_token(client, registration):
    r = client.get(f"/registrations/{registration.id}")
    assert_error(r, 401, "invalid_token")


def test_owner_updates_notes_only(client, owner_headers, registration):
    r = client.put(f"/registrations/{registration.id}", headers=owner_headers, json={
        "notes": "bring the X-ray", "status": "completed", "queue_number": 99,
        "schedule_id": 123, "patient_id": 456, "id": 1})
    assert r.status_code == 200, r.json
    assert r.json["notes"] == "bring the X-ray"
    assert r.json["status"] == "scheduled"
    assert r.json["queue_number"] == registration.queue_number
    assert r.json["schedule_id"] == registration.schedule_id
    assert r.json["updated_at"] >= r.json["created_at"]


def test_owner_put_ignores_an_invalid_status(client, owner_headers, registration):
    r = client.put(f"/registrations/{registration.id}", headers=owner_headers,
                   json={"status": "bogus"})
    assert r.status_code == 200
    assert r.json["status"] == "scheduled"


def test_notes_can_be_cleared(client, owner_headers, registration):
    r = client.put(f"/registrations/{registration.id}", headers=owner_headers,
                   json={"notes": None})
    assert r.status_code == 200
    assert r.json["notes"] is None


@pytest.mark.parametrize("body,field", [
    ({"notes": "x" * 2001}, "notes"),
    ({"notes": ["a"]}, "notes"),
], ids=["notes-too-long", "notes-not-string"])
def test_update_validation(client, owner_headers, registration, body, field):
    r = client.put(f"/registrations/{registration.id}", headers=owner_headers, json=body)
    assert_error(r, 400, "validation_error")
    assert field in r.json["errors"]


def test_admin_update_validates_status(client, admin_headers, registration):
    r = client.put(f"/registrations/{registration.id}", headers=admin_headers,
                   json={"status": "bogus"})
    assert_error(r, 400, "validation_error")
    assert "status" in r.json["errors"]


def test_admin_updates_notes_and_status(client, admin_headers, registration):
    r = client.put(f"/registrations/{registration.id}", headers=admin_headers,
                   json={"notes": "seen", "status": "completed"})
    assert r.status_code == 200, r.json
    assert (r.json["notes"], r.json["status"]) == ("seen", "completed")


def test_admin_put_with_unchanged_status_is_fine(client, admin_headers, registration):
    r = client.put(f"/registrations/{registration.id}", headers=admin_headers,
                   json={"status": "scheduled", "notes": "n"})
    assert r.status_code == 200, r.json
    assert (r.json["status"], r.json["notes"]) == ("scheduled", "n")


def test_put_needs_a_body(client, owner_headers, registration):
    r = client.put(f"/registrations/{registration.id}", headers=owner_headers)
    assert_error(r, 400, "invalid_json")


def test_delete_registration_frees_the_slot(client, owner_headers, registration, schedule):
    assert booked_count(schedule.id) == 1
    r = client.delete(f"/registrations/{registration.id}", headers=owner_headers)
    assert r.status_code == 204
    assert r.data == b""
    assert booked_count(schedule.id) == 0
    r = client.get(f"/registrations/{registration.id}", headers=owner_headers)
    assert_error(r, 404, "registration_not_found")
    r = client.delete(f"/registrations/{registration.id}", headers=owner_headers)
    assert_error(r, 404, "registration_not_found")


def test_admin_deletes_a_cancelled_registration(client, factory, admin_headers, patient,
                                                schedule):
    reg = factory.registration(patient, schedule, status="cancelled")
    assert booked_count(schedule.id) == 0
    assert client.delete(f"/registrations/{reg.id}", headers=admin_headers).status_code == 204
    assert booked_count(schedule.id) == 0
    assert db.session.get(Registration, reg.id) is None


def test_delete_needs_a_token(client, registration):
    assert_error(client.delete(f"/registrations/{registration.id}"), 401, "invalid_token")


# --- lists --------------------------------------------------------------------------------

@pytest.fixture()
def many(factory, owner):
    schedule = factory.schedule(max_appointments=20)
    patients = [factory.patient(owner) for _ in range(5)]
    regs = [factory.registration(p, schedule) for p in patients]
    factory.registration(factory.patient(owner), schedule, status="cancelled")
    return regs


def test_list_registrations(client, admin_headers, many):
    r = client.get("/registrations/?per_page=2&sort=queue_number&reverse=true",
                   headers=admin_headers)
    assert r.status_code == 200, r.json
    assert r.json["count"] == 6
    assert r.json["more"] is True
    assert (r.json["page"], r.json["per_page"]) == (1, 2)
    assert [x["queue_number"] for x in r.json["results"]] == [6, 5]
    r = client.get("/registrations?page=4&per_page=2", headers=admin_headers)
    assert r.status_code == 200
    assert r.json["results"] == [] and r.json["count"] == 6 and r.json["more"] is False


@pytest.mark.parametrize("query", ["sort=patient_id", "per_page=0", "per_page=101", "page=0",
                                   "reverse=maybe"],
                         ids=["bad-sort", "per-page-zero", "per-page-big", "page-zero",
                              "bad-reverse"])
def test_list_registrations_bad_params(client, admin_headers, query):
    r = client.get(f"/registrations/?{query}", headers=admin_headers)
    assert_error(r, 400, "validation_error")


def test_list_registrations_is_admin_only(client, owner_headers):
    r = client.get("/registrations/", headers=owner_headers)
    assert_error(r, 403, "admin_required")
    assert_error(client.get("/registrations/"), 401, "invalid_token")


@pytest.mark.parametrize("per_page", [1, 100])
def test_list_is_a_constant_number_of_statements(client, admin_headers, many, per_page):
    with count_statements() as log:
        r = client.get(f"/registrations/?per_page={per_page}", headers=admin_headers)
    assert r.status_code == 200
    assert log.count <= 2, log.statements  # the caller's account + the page with its count


def test_list_by_status(client, admin_headers, many):
    r = client.get("/registrations/status/cancelled", headers=admin_headers)
    assert r.status_code == 200
    assert r.json["count"] == 1
    assert r.json["results"][0]["status"] == "cancelled"
    r = client.get("/registrations/status/scheduled?sort=id", headers=admin_headers)
    assert r.json["count"] == 5


def test_list_by_unknown_status_is_400(client, admin_headers):
    r = client.get("/registrations/status/pending", headers=admin_headers)
    assert_error(r, 400, "unknown_status")


def test_list_by_status_is_admin_only(client, owner_headers):
    r = client.get("/registrations/status/scheduled", headers=owner_headers)
    assert_error(r, 403, "admin_required")
    assert_error(client.get("/registrations/status/scheduled"), 401, "invalid_token")


def test_list_by_status_bad_params(client, admin_headers):
    r = client.get("/registrations/status/scheduled?sort=notes", headers=admin_headers)
    assert_error(r, 400, "validation_error")


# --- search -------------------------------------------------------------------------------

@pytest.fixture()
def searchable(factory, owner):
    dept = factory.department(name="儿科 Paediatrics")
    doc = factory.doctor(name="Dr. Li Hua")
    schedule = factory.schedule(doc, dept, max_appointments=10)
    other_schedule = factory.schedule(max_appointments=10)
    mine = factory.patient(owner, name="Zhang Wei")
    theirs = factory.patient(factory.user(), name="Zhang San")
    return {
        "notes": factory.registration(mine, other_schedule, notes="Allergic to 50% of pills"),
        "doctor": factory.registration(mine, schedule),
        "theirs": factory.registration(theirs, schedule, status="cancelled"),
    }


@pytest.mark.parametrize("query,expected", [
    ("allergic", {"notes"}),
    ("50%", {"notes"}),
    ("li hua", {"doctor", "theirs"}),
    ("paediatrics", {"doctor", "theirs"}),
    ("zhang", {"notes", "doctor", "theirs"}),
    ("cancelled", {"theirs"}),
    ("nothing-like-this", set()),
], ids=["notes", "escaped-percent", "doctor", "department", "patient", "status", "no-match"])
def test_admin_search(client, admin_headers, searchable, query, expected):
    r = client.post("/registrations/search", headers=admin_headers, json={"query": query})
    assert r.status_code == 200, r.json
    ids = {x["id"] for x in r.json["results"]}
    assert ids == {searchable[name].id for name in expected}
    assert r.json["count"] == len(expected)


def test_user_search_sees_only_own(client, owner_headers, searchable):
    r = client.post("/registrations/search", headers=owner_headers, json={"query": "zhang"})
    assert r.status_code == 200
    assert {x["id"] for x in r.json["results"]} == {searchable["notes"].id,
                                                   searchable["doctor"].id}
    r = client.post("/registrations/search", headers=owner_headers, json={"query": "cancelled"})
    assert r.json["count"] == 0


@pytest.mark.parametrize("body", [{}, {"query": ""}, {"query": "  "}, {"query": 5},
                                  {"query": "a", "sort": "patient"},
                                  {"query": "a", "per_page": 500}],
                         ids=["missing", "empty", "blank", "not-string", "bad-sort",
                              "per-page-too-big"])
def test_search_validation(client, owner_headers, body):
    r = client.post("/registrations/search", headers=owner_headers, json=body)
    assert_error(r, 400, "validation_error")


def test_search_needs_a_token(client):
    assert_error(client.post("/registrations/search", json={"query": "a"}), 401, "invalid_token")


def test_search_is_a_constant_number_of_statements(client, admin_headers, searchable):
    counts = []
    for per_page in (1, 100):
        caller_cache().clear()  # count the caller lookup every time
        with count_statements() as log:
            r = client.post("/registrations/search", headers=admin_headers,
                            json={"query": "zhang", "per_page": per_page})
        assert r.status_code == 200 and r.json["count"] == 3
        counts.append(log.count)
    # The caller lookup, the exact count (from counters), the page.
    assert counts[0] == counts[1] <= 3, counts


# --- /schedules/{id}/registrations --------------------------------------------------------

def test_schedule_registrations(client, admin_headers, many):
    schedule_id = many[0].schedule_id
    r = client.get(f"/schedules/{schedule_id}/registrations?sort=queue_number",
                   headers=admin_headers)
    assert r.status_code == 200, r.json
    assert r.json["count"] == 6
    assert [x["queue_number"] for x in r.json["results"]] == [1, 2, 3, 4, 5, 6]


def test_schedule_registrations_unknown_schedule_is_404(client, admin_headers):
    r = client.get("/schedules/2147483647/registrations", headers=admin_headers)
    assert_error(r, 404, "schedule_not_found")


def test_schedule_registrations_is_admin_only(client, owner_headers, schedule):
    r = client.get(f"/schedules/{schedule.id}/registrations", headers=owner_headers)
    assert_error(r, 403, "admin_required")
    assert_error(client.get(f"/schedules/{schedule.id}/registrations"), 401, "invalid_token")


def test_schedule_registrations_bad_params(client, admin_headers, schedule):
    r = client.get(f"/schedules/{schedule.id}/registrations?sort=name", headers=admin_headers)
    assert_error(r, 400, "validation_error")
