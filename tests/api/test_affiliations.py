"""Affiliations: create, list (with nested doctor and department), delete."""
from __future__ import annotations

import datetime as dt

import pytest

from app.services.schedule_rules import hospital_today
from tests.assertions import assert_error
from tests.sqlcount import count_statements

# --- create -----------------------------------------------------------------------------

def test_create_affiliation(client, factory, admin_headers):
    doc, dep = factory.doctor("Dr. Who"), factory.department("Time")
    r = client.post("/affiliations/", json={"doctor_id": doc.id, "department_id": dep.id},
                    headers=admin_headers)
    assert r.status_code == 201, r.json
    body = r.json
    assert set(body) == {"doctor_id", "department_id", "created_at", "doctor", "department"}
    assert (body["doctor_id"], body["department_id"]) == (doc.id, dep.id)
    assert body["doctor"]["name"] == "Dr. Who"
    assert body["department"]["name"] == "Time"
    assert body["created_at"].endswith("+00:00")
    r = client.get(f"/doctors/{doc.id}/departments", headers=admin_headers)
    assert [d["id"] for d in r.json["results"]] == [dep.id]


def test_create_affiliation_exists(client, factory, admin_headers):
    doc, dep = factory.doctor(), factory.department()
    factory.affiliation(doc, dep)
    r = client.post("/affiliations", json={"doctor_id": doc.id, "department_id": dep.id},
                    headers=admin_headers)
    assert_error(r, 409, "affiliation_exists")


@pytest.mark.parametrize("which,code", [("doctor", "doctor_not_found"),
                                        ("department", "department_not_found")],
                         ids=["doctor", "department"])
def test_create_affiliation_unknown(client, factory, admin_headers, which, code):
    body = {"doctor_id": factory.doctor().id, "department_id": factory.department().id}
    body[f"{which}_id"] = 999999
    r = client.post("/affiliations/", json=body, headers=admin_headers)
    assert_error(r, 404, code)


@pytest.mark.parametrize("body,field", [
    ({"department_id": 1}, "doctor_id"),
    ({"doctor_id": 1}, "department_id"),
    ({"doctor_id": "1", "department_id": 1}, "doctor_id"),
    ({"doctor_id": 1, "department_id": 0}, "department_id"),
    ({"doctor_id": True, "department_id": 1}, "doctor_id"),
    ({"doctor_id": 1, "department_id": 2**31}, "department_id"),
], ids=["missing-doctor", "missing-department", "string-id", "zero-id", "bool-id", "huge-id"])
def test_create_affiliation_validation(client, admin_headers, body, field):
    r = client.post("/affiliations/", json=body, headers=admin_headers)
    assert_error(r, 400, "validation_error")
    assert field in r.json["errors"]


def test_create_affiliation_auth(client, factory, user_headers):
    body = {"doctor_id": factory.doctor().id, "department_id": factory.department().id}
    r = client.post("/affiliations/", json=body)
    assert_error(r, 401, "invalid_token")
    r = client.post("/affiliations/", json=body, headers=user_headers)
    assert_error(r, 403, "admin_required")


# --- list -------------------------------------------------------------------------------

@pytest.fixture()
def grid(factory):
    """Two doctors x two departments, three affiliations."""
    d1, d2 = factory.doctor("Doc A"), factory.doctor("Doc B")
    p1, p2 = factory.department("Dep A"), factory.department("Dep B")
    factory.affiliation(d2, p1)
    factory.affiliation(d1, p2)
    factory.affiliation(d1, p1)
    return d1, d2, p1, p2


def pairs(body):
    return [(a["doctor_id"], a["department_id"]) for a in body["results"]]


def test_list_affiliations(client, grid, admin_headers):
    d1, d2, p1, p2 = grid
    r = client.get("/affiliations/", headers=admin_headers)
    assert r.status_code == 200
    assert r.json["count"] == 3
    assert pairs(r.json) == [(d1.id, p1.id), (d1.id, p2.id), (d2.id, p1.id)]
    first = r.json["results"][0]
    assert first["doctor"]["name"] == "Doc A"
    assert first["department"]["name"] == "Dep A"


@pytest.mark.parametrize("sort,reverse,expected", [
    ("id", "false", [(0, 0), (0, 1), (1, 0)]),
    ("id", "true", [(1, 0), (0, 1), (0, 0)]),
    ("department_id", "false", [(0, 0), (1, 0), (0, 1)]),
    ("doctor_id", "true", [(1, 0), (0, 1), (0, 0)]),
    ("created_at", "false", [(1, 0), (0, 1), (0, 0)]),
], ids=["id", "id-reverse", "department", "doctor-reverse", "created"])
def test_list_affiliations_sorted(client, grid, admin_headers, sort, reverse, expected):
    doctors, departments = grid[:2], grid[2:]
    want = [(doctors[a].id, departments[b].id) for a, b in expected]
    r = client.get(f"/affiliations/?sort={sort}&reverse={reverse}", headers=admin_headers)
    assert r.status_code == 200
    assert pairs(r.json) == want


def test_list_affiliations_filters(client, grid, admin_headers):
    d1, d2, p1, p2 = grid
    r = client.get(f"/affiliations/?doctor_id={d1.id}", headers=admin_headers)
    assert pairs(r.json) == [(d1.id, p1.id), (d1.id, p2.id)]
    r = client.get(f"/affiliations/?department_id={p1.id}", headers=admin_headers)
    assert pairs(r.json) == [(d1.id, p1.id), (d2.id, p1.id)]
    r = client.get(f"/affiliations/?doctor_id={d2.id}&department_id={p2.id}",
                   headers=admin_headers)
    assert r.json["results"] == [] and r.json["count"] == 0


@pytest.mark.parametrize("query,field", [
    ("doctor_id=abc", "doctor_id"), ("department_id=-1", "department_id"),
    ("doctor_id=0", "doctor_id"), ("doctor_id=99999999999", "doctor_id"),
    ("sort=name", "sort"), ("per_page=0", "per_page"),
], ids=["doctor-not-int", "department-negative", "doctor-zero", "doctor-huge", "bad-sort",
        "bad-per-page"])
def test_list_affiliations_bad_params(client, admin_headers, query, field):
    r = client.get(f"/affiliations/?{query}", headers=admin_headers)
    assert_error(r, 400, "validation_error")
    assert field in r.json["errors"]


def test_list_affiliations_auth(client, user_headers):
    r = client.get("/affiliations/")
    assert_error(r, 401, "invalid_token")
    r = client.get("/affiliations/", headers=user_headers)
    assert_error(r, 403, "admin_required")


def test_list_affiliations_constant_statements(client, factory, admin_headers, app,
                                               monkeypatch):
    monkeypatch.setitem(app.config, "CACHE_ENABLED", False)
    departments = [factory.department() for _ in range(3)]
    for _ in range(12):
        doc = factory.doctor()
        for dep in departments:
            factory.affiliation(doc, dep)
    counts = {}
    for per_page in (2, 36):
        client.get("/users/me", headers=admin_headers)  # warm the token's user lookup
        with count_statements() as log:
            r = client.get(f"/affiliations/?per_page={per_page}", headers=admin_headers)
        assert r.status_code == 200
        assert len(r.json["results"]) == per_page
        assert all(a["doctor"]["id"] == a["doctor_id"] for a in r.json["results"])
        assert log.matching("FROM affiliations JOIN doctors"), log.statements
        counts[per_page] = log.count
    assert counts[2] == counts[36] <= 3, counts


# --- delete -----------------------------------------------------------------------------

def test_delete_affiliation(client, factory, admin_headers):
    doc, dep = factory.doctor(), factory.department()
    factory.affiliation(doc, dep)
    # a past schedule does not keep the affiliation alive
    factory.schedule(doc, dep, date=hospital_today() - dt.timedelta(days=1))
    r = client.delete(f"/affiliations/{doc.id}/{dep.id}", headers=admin_headers)
    assert r.status_code == 204
    assert r.data == b""
    r = client.get(f"/affiliations/?doctor_id={doc.id}", headers=admin_headers)
    assert r.json["count"] == 0
    r = client.delete(f"/affiliations/{doc.id}/{dep.id}", headers=admin_headers)
    assert_error(r, 404, "affiliation_not_found")


@pytest.mark.parametrize("days_ahead", [0, 7], ids=["today", "next-week"])
def test_delete_affiliation_with_future_schedules(client, factory, admin_headers, days_ahead):
    doc, dep = factory.doctor(), factory.department()
    factory.schedule(doc, dep, date=hospital_today() + dt.timedelta(days=days_ahead))
    r = client.delete(f"/affiliations/{doc.id}/{dep.id}", headers=admin_headers)
    assert_error(r, 409, "future_schedules")
    assert "1 schedule" in r.json["message"]


def test_delete_affiliation_other_department_schedules_do_not_block(client, factory,
                                                                     admin_headers):
    doc, dep, other = factory.doctor(), factory.department(), factory.department()
    factory.affiliation(doc, dep)
    factory.schedule(doc, other)
    r = client.delete(f"/affiliations/{doc.id}/{dep.id}", headers=admin_headers)
    assert r.status_code == 204


def test_delete_affiliation_errors(client, factory, admin_headers, user_headers):
    doc, dep = factory.doctor(), factory.department()
    r = client.delete(f"/affiliations/{doc.id}/{dep.id}", headers=admin_headers)
    assert_error(r, 404, "affiliation_not_found")
    factory.affiliation(doc, dep)
    r = client.delete(f"/affiliations/{doc.id}/{dep.id}", headers=user_headers)
    assert_error(r, 403, "admin_required")
    r = client.delete(f"/affiliations/{doc.id}/{dep.id}")
    assert_error(r, 401, "invalid_token")
