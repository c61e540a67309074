"""Department lists: list, search, /departments/{id}/doctors and /departments/{id}/schedules."""
from __future__ import annotations

import datetime as dt

import pytest

from tests.assertions import assert_error

# --- list and search ----------------------------------------------------------------------

def test_list_departments(client, factory, user_headers):
    for name in ("Gamma", "alpha", "Beta"):
        factory.department(name)
    r = client.get("/departments/?per_page=2&sort=name", headers=user_headers)
    assert r.status_code == 200
    assert r.json["count"] == 3
    assert r.json["more"] is True
    assert (r.json["page"], r.json["per_page"]) == (1, 2)
    assert [d["name"] for d in r.json["results"]] == ["Beta", "Gamma"]
    r = client.get("/departments?per_page=2&page=2&sort=name", headers=user_headers)
    assert [d["name"] for d in r.json["results"]] == ["alpha"]
    assert r.json["more"] is False
    r = client.get("/departments/?sort=id&reverse=true", headers=user_headers)
    ids = [d["id"] for d in r.json["results"]]
    assert ids == sorted(ids, reverse=True)
    r = client.get("/departments/?page=5", headers=user_headers)
    assert r.json["results"] == [] and r.json["count"] == 3


@pytest.mark.parametrize("query,field", [("sort=description", "sort"), ("per_page=0", "per_page"),
                                         ("per_page=101", "per_page"), ("page=0", "page"),
                                         ("reverse=sideways", "reverse")],
                         ids=["bad-sort", "per-page-zero", "per-page-high", "page-zero",
                              "bad-reverse"])
def test_list_departments_bad_params(client, user_headers, query, field):
    r = client.get(f"/departments/?{query}", headers=user_headers)
    assert_error(r, 400, "validation_error")
    assert field in r.json["errors"]


def test_list_departments_needs_token(client):
    r = client.get("/departments/")
    assert_error(r, 401, "invalid_token")


def test_search_departments(client, factory, user_headers):
    a = factory.department("Orthopedics", description="Bones")
    b = factory.department("Sports medicine", description="Knees and BONES")
    factory.department("Dentistry", description="Teeth")
    factory.department("100% Care", description=None)
    r = client.post("/departments/search", json={"query": "bone"}, headers=user_headers)
    assert r.status_code == 200
    assert [d["id"] for d in r.json["results"]] == [a.id, b.id]
    assert r.json["count"] == 2
    r = client.post("/departments/search", json={"query": "ORTHO"}, headers=user_headers)
    assert [d["id"] for d in r.json["results"]] == [a.id]
    r = client.post("/departments/search", json={"query": "%"}, headers=user_headers)
    assert [d["name"] for d in r.json["results"]] == ["100% Care"]


@pytest.mark.parametrize("body", [{}, {"query": ""}, {"query": 3},
                                  {"query": "x", "sort": "nope"}],
                         ids=["missing", "empty", "not-string", "bad-sort"])
def test_search_departments_bad_body(client, user_headers, body):
    r = client.post("/departments/search", json=body, headers=user_headers)
    assert_error(r, 400, "validation_error")


def test_search_departments_needs_token(client):
    r = client.post("/departments/search", json={"query": "x"})
    assert_error(r, 401, "invalid_token")


# --- sub-lists ----------------------------------------------------------------------------

def test_department_doctors(client, factory, user_headers):
    dep = factory.department()
    other = factory.department()
    zed, amy = factory.doctor("Zed"), factory.doctor("Amy")
    outsider = factory.doctor("Out")
    factory.affiliation(zed, dep)
    factory.affiliation(amy, dep)
    factory.affiliation(outsider, other)
    r = client.get(f"/departments/{dep.id}/doctors?sort=name", headers=user_headers)
    assert r.status_code == 200
    assert [d["name"] for d in r.json["results"]] == ["Amy", "Zed"]
    assert r.json["count"] == 2
    assert set(r.json["results"][0]) == {"id", "name", "gender", "email", "phone_number",
                                         "description", "created_at", "updated_at"}
    r = client.get(f"/departments/{dep.id}/doctors?sort=bogus", headers=user_headers)
    assert_error(r, 400, "validation_error")


def test_department_doctors_unknown_department(client, user_headers):
    r = client.get("/departments/999999/doctors", headers=user_headers)
    assert_error(r, 404, "department_not_found")


def test_department_schedules(client, factory, user_headers):
    dep = factory.department()
    doc = factory.doctor()
    day = dt.date.today() + dt.timedelta(days=5)
    s1 = factory.schedule(doc, dep, date=day)
    s2 = factory.schedule(doc, dep, date=day + dt.timedelta(days=1))
    factory.schedule(doc, factory.department(), date=day + dt.timedelta(days=2))
    r = client.get(f"/departments/{dep.id}/schedules?sort=date&reverse=true",
                   headers=user_headers)
    assert r.status_code == 200
    assert [s["id"] for s in r.json["results"]] == [s2.id, s1.id]
    r = client.get(f"/departments/{dep.id}/schedules?date_to={day.isoformat()}",
                   headers=user_headers)
    assert [s["id"] for s in r.json["results"]] == [s1.id]


def test_department_schedules_errors(client, factory, user_headers):
    r = client.get("/departments/999999/schedules", headers=user_headers)
    assert_error(r, 404, "department_not_found")
    dep = factory.department()
    r = client.get(f"/departments/{dep.id}/schedules?date_from=tomorrow", headers=user_headers)
    assert_error(r, 400, "validation_error")
    r = client.get(f"/departments/{dep.id}/schedules")
    assert_error(r, 401, "invalid_token")
