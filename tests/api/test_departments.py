"""Departments: create, read, update and delete (with the active-bookings guard)."""
from __future__ import annotations

import datetime as dt

import pytest

from app.extensions import db
from app.models import Department, Registration
from tests.assertions import assert_error

# --- create -----------------------------------------------------------------------------

def test_create_department(client, admin_headers):
    r = client.post("/departments/", json={"name": "  儿科 ", "description": "Children"},
                    headers=admin_headers)
    assert r.status_code == 201, r.json
    body = r.json
    assert body["name"] == "儿科"
    assert body["description"] == "Children"
    assert set(body) == {"id", "name", "description", "horizon_days", "release_time",
                         "created_at", "updated_at"}
    assert body["created_at"].endswith("+00:00")
    assert client.get(f"/departments/{body['id']}", headers=admin_headers).json == body


def test_create_department_without_slash_and_ignores_read_only_fields(client, admin_headers):
    r = client.post("/departments", headers=admin_headers,
                    json={"name": "Cardiology", "id": 999999, "created_at": "2000-01-01"})
    assert r.status_code == 201, r.json
    assert r.json["id"] != 999999
    assert r.json["description"] is None
    assert not r.json["created_at"].startswith("2000")


@pytest.mark.parametrize("body,field", [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name": 42}, "name"),
    ({"name": None}, "name"),
    ({"name": "Dermatology", "description": "x" * 2001}, "description"),
    ({"name": "Dermatology", "description": 5}, "description"),
], ids=["missing-name", "empty-name", "blank-name", "name-too-long", "name-not-string",
        "name-null", "description-too-long", "description-not-string"])
def test_create_department_validation(client, admin_headers, body, field):
    r = client.post("/departments/", json=body, headers=admin_headers)
    assert_error(r, 400, "validation_error")
    assert field in r.json["errors"]


def test_create_department_limits_are_inclusive(client, admin_headers):
    r = client.post("/departments/", headers=admin_headers,
                    json={"name": "n" * 100, "description": "d" * 2000})
    assert r.status_code == 201, r.json


@pytest.mark.parametrize("data", [b"not json", b"[1, 2]"], ids=["malformed", "array"])
def test_create_department_bad_json(client, admin_headers, data):
    r = client.post("/departments/", data=data, headers=admin_headers,
                    content_type="application/json")
    assert_error(r, 400, "invalid_json")


def test_create_department_duplicate_name(client, factory, admin_headers):
    factory.department("Neurology")
    r = client.post("/departments/", json={"name": "Neurology"}, headers=admin_headers)
    assert_error(r, 409, "duplicate_name")
    assert "name" in r.json["errors"]


def test_create_department_needs_token(client):
    r = client.post("/departments/", json={"name": "Oncology"})
    assert_error(r, 401, "invalid_token")


def test_create_department_needs_admin(client, user_headers):
    r = client.post("/departments/", json={"name": "Oncology"}, headers=user_headers)
    assert_error(r, 403, "admin_required")


# --- read -------------------------------------------------------------------------------

def test_get_department(client, factory, user_headers):
    dep = factory.department("ENT", description="Ear, nose and throat")
    r = client.get(f"/departments/{dep.id}", headers=user_headers)
    assert r.status_code == 200
    assert r.json["id"] == dep.id
    assert r.json["description"] == "Ear, nose and throat"


@pytest.mark.parametrize("path, code", [("/departments/999999", "department_not_found"),
                                        ("/departments/99999999999", "not_found")],
                         ids=["unknown", "beyond-int"])
def test_get_department_not_found(client, user_headers, path, code):
    r = client.get(path, headers=user_headers)
    assert_error(r, 404, code)


def test_get_department_needs_token(client, factory):
    dep = factory.department()
    r = client.get(f"/departments/{dep.id}")
    assert_error(r, 401, "invalid_token")


# --- update -----------------------------------------------------------------------------

def test_update_department_is_partial(client, factory, admin_headers):
    dep = factory.department("Urology", description="kidneys")
    r = client.put(f"/departments/{dep.id}", json={"description": "Kidneys and bladder"},
                   headers=admin_headers)
    assert r.status_code == 200, r.json
    assert r.json["name"] == "Urology"
    assert r.json["description"] == "Kidneys and bladder"
    r = client.put(f"/departments/{dep.id}", json={"name": "Urology 2", "description": None},
                   headers=admin_headers)
    assert r.json["name"] == "Urology 2"
    assert r.json["description"] is None


def test_update_department_keeps_own_name_and_ignores_read_only(client, factory, admin_headers):
    dep = factory.department("Pathology")
    r = client.put(f"/departments/{dep.id}", headers=admin_headers,
                   json={"id": 1, "name": "Pathology", "updated_at": "1999-01-01T00:00:00"})
    assert r.status_code == 200, r.json
    assert r.json["id"] == dep.id
    assert not r.json["updated_at"].startswith("1999")


def test_update_department_duplicate_name(client, factory, admin_headers):
    factory.department("Radiology")
    dep = factory.department("Surgery")
    r = client.put(f"/departments/{dep.id}", json={"name": "Radiology"}, headers=admin_headers)
    assert_error(r, 409, "duplicate_name")


@pytest.mark.parametrize("body,field", [
    ({"name": ""}, "name"),
    ({"name": "y" * 101}, "name"),
    ({"description": "y" * 2001}, "description"),
], ids=["empty-name", "long-name", "long-description"])
def test_update_department_validation(client, factory, admin_headers, body, field):
    dep = factory.department()
    r = client.put(f"/departments/{dep.id}", json=body, headers=admin_headers)
    assert_error(r, 400, "validation_error")
    assert field in r.json["errors"]


def test_update_department_errors(client, factory, admin_headers, user_headers):
    dep = factory.department()
    r = client.put("/departments/999999", json={"name": "X"}, headers=admin_headers)
    assert_error(r, 404, "department_not_found")
    r = client.put(f"/departments/{dep.id}", json={"name": "X"}, headers=user_headers)
    assert_error(r, 403, "admin_required")
    r = client.put(f"/departments/{dep.id}", json={"name": "X"})
    assert_error(r, 401, "invalid_token")


# --- delete -----------------------------------------------------------------------------

def _booked_department(factory, *, days_ahead: int = 10, status: str = "scheduled"):
    dep = factory.department()
    schedule = factory.schedule(department=dep,
                                date=dt.date.today() + dt.timedelta(days=days_ahead))
    patient = factory.patient(factory.user())
    reg = factory.registration(patient, schedule, status=status)
    return dep, schedule, reg


def test_delete_department(client, factory, admin_headers):
    dep = factory.department()
    r = client.delete(f"/departments/{dep.id}", headers=admin_headers)
    assert r.status_code == 204
    assert r.data == b""
    r = client.get(f"/departments/{dep.id}", headers=admin_headers)
    assert_error(r, 404, "department_not_found")


def test_delete_department_with_future_bookings_conflicts(client, factory, admin_headers):
    dep, _, _ = _booked_department(factory)
    r = client.delete(f"/departments/{dep.id}", headers=admin_headers)
    assert_error(r, 409, "active_registrations")
    assert "1" in r.json["message"]
    assert r.json["errors"]["registrations"].startswith("1 ")
    assert client.get(f"/departments/{dep.id}", headers=admin_headers).status_code == 200


@pytest.mark.parametrize("force", ["true", "1"], ids=["true", "one"])
def test_delete_department_force_removes_bookings(client, factory, admin_headers, force):
    dep, schedule, reg = _booked_department(factory)
    reg_id = reg.id
    r = client.delete(f"/departments/{dep.id}?force={force}", headers=admin_headers)
    assert r.status_code == 204
    db.session.expire_all()
    assert db.session.get(Department, dep.id) is None
    assert db.session.get(Registration, reg_id) is None


@pytest.mark.parametrize("days_ahead,status", [(-3, "scheduled"), (10, "cancelled"),
                                               (10, "completed")],
                         ids=["past-schedule", "cancelled", "completed"])
def test_delete_department_inactive_bookings_do_not_block(client, factory, admin_headers,
                                                          days_ahead, status):
    dep, _, _ = _booked_department(factory, days_ahead=days_ahead, status=status)
    r = client.delete(f"/departments/{dep.id}", headers=admin_headers)
    assert r.status_code == 204


def test_delete_department_bad_force(client, factory, admin_headers):
    dep = factory.department()
    r = client.delete(f"/departments/{dep.id}?force=maybe", headers=admin_headers)
    assert_error(r, 400, "validation_error")
    assert "force" in r.json["errors"]


def test_delete_department_errors(client, factory, admin_headers, user_headers):
    dep = factory.department()
    r = client.delete("/departments/999999", headers=admin_headers)
    assert_error(r, 404, "department_not_found")
    r = client.delete(f"/departments/{dep.id}", headers=user_headers)
    assert_error(r, 403, "admin_required")
    r = client.delete(f"/departments/{dep.id}")
    assert_error(r, 401, "invalid_token")
