"""Patients: create, read, update, delete, lists, search and their registrations."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Patient, Registration, Schedule
from tests.assertions import assert_error
from tests.sqlcount import count_statements

PATIENT_KEYS = {"id", "user_id", "name", "gender", "birthday", "phone_number",
                "id_number_masked", "created_at", "updated_at"}
VALID = {"name": "李四", "gender": "female", "birthday": "2015-06-01",
         "phone_number": "+86 138 0000 1111"}


@pytest.fixture()
def patient(factory, owner):
    return factory.patient(owner, name="Wang Fang", birthday=dt.date(1988, 3, 4),
                           phone_number="13700001234")


def hospital_today(app) -> dt.date:
    return dt.datetime.now(ZoneInfo(app.config["HOSPITAL_TIMEZONE"])).date()


# --- create -------------------------------------------------------------------------------

def test_create_patient_for_oneself(client, owner, owner_headers):
    r = client.post("/patients/", json=VALID, headers=owner_headers)
    assert r.status_code == 201, r.json
    body = r.json
    assert set(body) == PATIENT_KEYS
    assert body["user_id"] == owner.id
    assert (body["name"], body["gender"], body["birthday"]) == ("李四", "female", "2015-06-01")
    assert body["phone_number"] == "+86 138 0000 1111"
    assert body["created_at"].endswith("+00:00")
    assert client.get(f"/patients/{body['id']}", headers=owner_headers).json == body


def test_create_ignores_read_only_fields(client, owner_headers):
    r = client.post("/patients", headers=owner_headers,
                    json={**VALID, "id": 12345, "created_at": "2000-01-01T00:00:00+00:00"})
    assert r.status_code == 201
    assert r.json["id"] != 12345
    assert not r.json["created_at"].startswith("2000")


def test_create_with_own_user_id(client, owner, owner_headers):
    r = client.post("/patients/", json={**VALID, "user_id": owner.id}, headers=owner_headers)
    assert r.status_code == 201
    assert r.json["user_id"] == owner.id


def test_user_cannot_create_for_another_user(client, factory, owner_headers):
    other = factory.user()
    r = client.post("/patients/", json={**VALID, "user_id": other.id}, headers=owner_headers)
    assert_error(r, 403, "admin_required")
    assert db.session.scalar(select(func.count()).where(Patient.user_id == other.id)) == 0


def test_admin_creates_for_another_user(client, owner, admin_headers):
    r = client.post("/patients/", json={**VALID, "user_id": owner.id}, headers=admin_headers)
    assert r.status_code == 201
    assert r.json["user_id"] == owner.id


def test_admin_creates_for_unknown_user_is_404(client, admin_headers):
    r = client.post("/patients/", json={**VALID, "user_id": 2**31 - 1}, headers=admin_headers)
    assert_error(r, 404, "user_not_found")


def test_birthday_today_is_allowed(app, client, owner_headers):
    today = hospital_today(app).isoformat()
    r = client.post("/patients/", json={**VALID, "birthday": today}, headers=owner_headers)
    assert r.status_code == 201, r.json


def test_birthday_tomorrow_is_400(app, client, owner_headers):
    tomorrow = (hospital_today(app) + dt.timedelta(days=1)).isoformat()
    r = client.post("/patients/", json={**VALID, "birthday": tomorrow}, headers=owner_headers)
    assert_error(r, 400, "validation_error")
    assert "birthday" in r.json["errors"]


CREATE_ERRORS = [
    ({k: v for k, v in VALID.items() if k != "name"}, "name"),
    ({**VALID, "name": ""}, "name"),
    ({**VALID, "name": "   "}, "name"),
    ({**VALID, "name": "x" * 101}, "name"),
    ({**VALID, "name": 7}, "name"),
    ({**VALID, "name": None}, "name"),
    ({k: v for k, v in VALID.items() if k != "gender"}, "gender"),
    ({**VALID, "gender": "other"}, "gender"),
    ({**VALID, "gender": "Male"}, "gender"),
    ({k: v for k, v in VALID.items() if k != "birthday"}, "birthday"),
    ({**VALID, "birthday": "2015/06/01"}, "birthday"),
    ({**VALID, "birthday": "2023-02-30"}, "birthday"),
    ({**VALID, "birthday": "2015-6-1"}, "birthday"),
    ({**VALID, "birthday": "2015-06-01T00:00:00"}, "birthday"),
    ({**VALID, "birthday": 20150601}, "birthday"),
    ({**VALID, "birthday": "3000-01-01"}, "birthday"),
    ({k: v for k, v in VALID.items() if k != "phone_number"}, "phone_number"),
    ({**VALID, "phone_number": "call me"}, "phone_number"),
    ({**VALID, "phone_number": "1234"}, "phone_number"),
    ({**VALID, "phone_number": "1" * 21}, "phone_number"),
    ({**VALID, "phone_number": 13800000000}, "phone_number"),
    ({**VALID, "user_id": "1"}, "user_id"),
    ({**VALID, "user_id": 0}, "user_id"),
]
CREATE_ERROR_IDS = [
    "missing-name", "empty-name", "blank-name", "name-too-long", "name-not-string", "name-null",
    "missing-gender", "bad-gender", "gender-wrong-case", "missing-birthday", "birthday-slashes",
    "birthday-not-a-day", "birthday-unpadded", "birthday-with-time", "birthday-number",
    "birthday-future", "missing-phone", "phone-letters", "phone-too-short", "phone-too-long",
    "phone-number-type", "user-id-string", "user-id-zero",
]


@pytest.mark.parametrize("body,field", CREATE_ERRORS, ids=CREATE_ERROR_IDS)
def test_create_validation(client, owner_headers, body, field):
    r = client.post("/patients/", json=body, headers=owner_headers)
    assert_error(r, 400, "validation_error")
    assert field in r.json["errors"]


@pytest.mark.parametrize("data", [b"", b"{bad", b'"text"'], ids=["empty", "garbage", "string"])
def test_create_needs_a_json_object(client, owner_headers, data):
    r = client.post("/patients/", data=data, headers=owner_headers,
                    content_type="application/json")
    assert_error(r, 400, "invalid_json")


def test_create_needs_a_token(client):
    r = client.post("/patients/", json=VALID)
    assert_error(r, 401, "invalid_token")


def test_same_name_and_birthday_twice_is_409(client, factory, owner_headers):
    assert client.post("/patients/", json=VALID, headers=owner_headers).status_code == 201
    r = client.post("/patients/", json={**VALID, "gender": "male"}, headers=owner_headers)
    assert_error(r, 409, "duplicate_patient")
    r = client.post("/patients/", json={**VALID, "birthday": "2015-06-02"},
                    headers=owner_headers)
    assert r.status_code == 201
    other = factory.headers(factory.user())
    assert client.post("/patients/", json=VALID, headers=other).status_code == 201


def test_family_members_may_share_a_phone(client, owner_headers):
    assert client.post("/patients/", json=VALID, headers=owner_headers).status_code == 201
    sibling = {**VALID, "name": "李五"}
    assert client.post("/patients/", json=sibling, headers=owner_headers).status_code == 201


# --- read ---------------------------------------------------------------------------------

def test_get_patient(client, owner_headers, admin_headers, patient):
    for headers in (owner_headers, admin_headers):
        r = client.get(f"/patients/{patient.id}", headers=headers)
        assert r.status_code == 200
        assert r.json["name"] == "Wang Fang"
        assert r.json["birthday"] == "1988-03-04"


@pytest.mark.parametrize("patient_id, code", [(2**31 - 1, "patient_not_found"),
                                              (2**31, "not_found"), (0, "patient_not_found")],
                         ids=["unknown", "beyond-int", "zero"])
def test_get_unknown_patient_is_404(client, owner_headers, patient_id, code):
    r = client.get(f"/patients/{patient_id}", headers=owner_headers)
    assert_error(r, 404, code)


def test_get_patient_needs_a_token(client, patient):
    assert_error(client.get(f"/patients/{patient.id}"), 401, "invalid_token")


# --- update -------------------------------------------------------------------------------

def test_update_is_partial(client, owner_headers, patient):
    r = client.put(f"/patients/{patient.id}", headers=owner_headers, json={"name": " Wang Li "})
    assert r.status_code == 200, r.json
    assert r.json["name"] == "Wang Li"
    assert r.json["birthday"] == "1988-03-04"
    assert r.json["phone_number"] == "13700001234"


def test_update_ignores_user_id_and_read_only_fields(client, factory, owner, owner_headers,
                                                     patient):
    other = factory.user()
    whole = client.get(f"/patients/{patient.id}", headers=owner_headers).json
    r = client.put(f"/patients/{patient.id}", headers=owner_headers,
                   json={**whole, "user_id": other.id, "id": 999, "gender": "female",
                         "created_at": "2000-01-01T00:00:00+00:00"})
    assert r.status_code == 200, r.json
    assert r.json["user_id"] == owner.id
    assert r.json["id"] == patient.id
    assert r.json["gender"] == "female"
    assert r.json["created_at"] == whole["created_at"]


def test_admin_updates_any_patient(client, admin_headers, patient):
    r = client.put(f"/patients/{patient.id}", headers=admin_headers,
                   json={"phone_number": "(010) 1234-5678"})
    assert r.status_code == 200
    assert r.json["phone_number"] == "(010) 1234-5678"


UPDATE_ERRORS = [
    ({"name": ""}, "name"),
    ({"name": "y" * 101}, "name"),
    ({"gender": "unknown"}, "gender"),
    ({"birthday": "1988-13-01"}, "birthday"),
    ({"birthday": "3000-01-01"}, "birthday"),
    ({"phone_number": "abc"}, "phone_number"),
    ({"name": None}, "name"),
]


@pytest.mark.parametrize("body,field", UPDATE_ERRORS, ids=[
    "empty-name", "name-too-long", "bad-gender", "bad-month", "future-birthday", "bad-phone",
    "null-name"])
def test_update_validation(client, owner_headers, patient, body, field):
    r = client.put(f"/patients/{patient.id}", headers=owner_headers, json=body)
    assert_error(r, 400, "validation_error")
    assert field in r.json["errors"]


def test_update_into_a_duplicate_is_409(client, factory, owner, owner_headers, patient):
    twin = factory.patient(owner, name="Twin", birthday=dt.date(1988, 3, 4))
    r = client.put(f"/patients/{twin.id}", headers=owner_headers, json={"name": "Wang Fang"})
    assert_error(r, 409, "duplicate_patient")
    r = client.put(f"/patients/{patient.id}", headers=owner_headers,
                   json={"name": "Wang Fang", "birthday": "1988-03-04"})
    assert r.status_code == 200  # unchanged values are not a clash with itself


def test_update_unknown_is_404_and_needs_a_token(client, owner_headers, patient):
    r = client.put("/patients/2147483647", headers=owner_headers, json={"name": "x"})
    assert_error(r, 404, "patient_not_found")
    assert_error(client.put(f"/patients/{patient.id}", json={"name": "x"}), 401, "invalid_token")


# --- delete -------------------------------------------------------------------------------

def test_delete_patient_with_its_registrations(client, factory, owner_headers, patient):
    schedule = factory.schedule(max_appointments=2)
    other_schedule = factory.schedule(max_appointments=2)
    reg_id = factory.registration(patient, schedule).id
    factory.registration(patient, other_schedule, status="cancelled")
    schedule_ids = (schedule.id, other_schedule.id)
    r = client.delete(f"/patients/{patient.id}", headers=owner_headers)
    assert r.status_code == 204
    assert r.data == b""
    assert_error(client.get(f"/patients/{patient.id}", headers=owner_headers), 404,
                 "patient_not_found")
    db.session.expire_all()
    assert db.session.get(Registration, reg_id) is None
    assert [db.session.get(Schedule, i).booked_count for i in schedule_ids] == [0, 0]


def test_admin_deletes_any_patient(client, admin_headers, patient):
    assert client.delete(f"/patients/{patient.id}", headers=admin_headers).status_code == 204


def test_delete_unknown_is_404_and_needs_a_token(client, owner_headers, patient):
    r = client.delete("/patients/2147483647", headers=owner_headers)
    assert_error(r, 404, "patient_not_found")
    assert_error(client.delete(f"/patients/{patient.id}"), 401, "invalid_token")


# --- lists --------------------------------------------------------------------------------

@pytest.fixture()
def crowd(factory):
    people = []
    for name, phone in [("Alpha", "13000000001"), ("beta", "13000000002"),
                        ("Gamma", "13100000003"), ("delta 50%", "13100000004")]:
        people.append(factory.patient(factory.user(), name=name, phone_number=phone))
    return people


def test_list_patients_as_admin(client, admin_headers, crowd):
    r = client.get("/patients/?sort=name&per_page=3", headers=admin_headers)
    assert r.status_code == 200, r.json
    assert r.json["count"] == 4
    assert r.json["more"] is True
    assert [p["name"] for p in r.json["results"]] == ["Alpha", "Gamma", "beta"]
    r = client.get("/patients?sort=id&reverse=true", headers=admin_headers)
    assert [p["id"] for p in r.json["results"]] == sorted((p.id for p in crowd), reverse=True)


@pytest.mark.parametrize("sort", ["id", "name", "birthday", "created_at", "updated_at"])
def test_list_patients_sortable_fields(client, admin_headers, crowd, sort):
    r = client.get(f"/patients/?sort={sort}", headers=admin_headers)
    assert r.status_code == 200
    assert r.json["count"] == 4


@pytest.mark.parametrize("query", ["sort=phone_number", "page=-1", "per_page=abc"],
                         ids=["bad-sort", "negative-page", "per-page-not-int"])
def test_list_patients_bad_params(client, admin_headers, query):
    r = client.get(f"/patients/?{query}", headers=admin_headers)
    assert_error(r, 400, "validation_error")


def test_list_patients_is_admin_only(client, owner_headers):
    r = client.get("/patients/", headers=owner_headers)
    assert_error(r, 403, "admin_required")
    assert_error(client.get("/patients/"), 401, "invalid_token")


@pytest.mark.parametrize("per_page", [1, 100])
def test_list_patients_constant_statements(client, admin_headers, crowd, per_page):
    with count_statements() as log:
        r = client.get(f"/patients/?per_page={per_page}", headers=admin_headers)
    assert r.status_code == 200
    assert log.count <= 2, log.statements


@pytest.mark.parametrize("query,names", [
    ("ALPHA", {"Alpha"}),
    ("131", {"Gamma", "delta 50%"}),
    ("50%", {"delta 50%"}),
    ("%", {"delta 50%"}),
    ("zzz", set()),
], ids=["name-any-case", "phone", "percent", "lone-wildcard", "no-match"])
def test_search_patients(client, admin_headers, crowd, query, names):
    r = client.post("/patients/search", headers=admin_headers, json={"query": query})
    assert r.status_code == 200, r.json
    assert {p["name"] for p in r.json["results"]} == names
    assert r.json["count"] == len(names)


def test_search_patients_is_admin_only(client, owner_headers):
    r = client.post("/patients/search", headers=owner_headers, json={"query": "a"})
    assert_error(r, 403, "admin_required")
    assert_error(client.post("/patients/search", json={"query": "a"}), 401, "invalid_token")


@pytest.mark.parametrize("body", [{}, {"query": ""}, {"query": "a", "sort": "phone_number"}],
                         ids=["missing-query", "empty-query", "bad-sort"])
def test_search_patients_validation(client, admin_headers, body):
    r = client.post("/patients/search", headers=admin_headers, json=body)
    assert_error(r, 400, "validation_error")


# --- /patients/{id}/registrations ---------------------------------------------------------

def test_patient_registrations(client, factory, owner_headers, admin_headers, patient):
    regs = [factory.registration(patient, factory.schedule()) for _ in range(3)]
    factory.registration(factory.patient(factory.user()), factory.schedule())
    for headers in (owner_headers, admin_headers):
        r = client.get(f"/patients/{patient.id}/registrations?sort=id&reverse=1",
                       headers=headers)
        assert r.status_code == 200, r.json
        assert r.json["count"] == 3
        assert [x["id"] for x in r.json["results"]] == [reg.id for reg in reversed(regs)]


def test_patient_registrations_unknown_patient_is_404(client, owner_headers):
    r = client.get("/patients/2147483647/registrations", headers=owner_headers)
    assert_error(r, 404, "patient_not_found")


def test_patient_registrations_needs_a_token_and_good_params(client, owner_headers, patient):
    assert_error(client.get(f"/patients/{patient.id}/registrations"), 401, "invalid_token")
    r = client.get(f"/patients/{patient.id}/registrations?sort=name", headers=owner_headers)
    assert_error(r, 400, "validation_error")
