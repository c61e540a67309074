"""Doctor lists: list, search, /doctors/{id}/departments and /doctors/{id}/schedules."""
from __future__ import annotations

import datetime as dt

import pytest

from tests.assertions import assert_error

# --- list and search ----------------------------------------------------------------------

def test_list_doctors(client, factory, user_headers):
    names = ["Chen", "Adams", "Baker"]
    for name in names:
        factory.doctor(name)
    r = client.get("/doctors/?sort=name", headers=user_headers)
    assert r.status_code == 200
    assert [d["name"] for d in r.json["results"]] == sorted(names)
    assert (r.json["count"], r.json["more"]) == (3, False)
    r = client.get("/doctors?sort=name&reverse=1&per_page=1", headers=user_headers)
    assert [d["name"] for d in r.json["results"]] == ["Chen"]
    assert r.json["more"] is True
    r = client.get("/doctors/?sort=email", headers=user_headers)
    assert_error(r, 400, "validation_error")
    r = client.get("/doctors/")
    assert_error(r, 401, "invalid_token")


@pytest.mark.parametrize("query,expected", [
    ("wang", ["Wang Wei"]),
    ("HOSPITAL.ORG", ["Wang Wei"]),
    ("555", ["Zhao Li"]),
    ("cardio", ["Zhao Li"]),
    ("nobody", []),
], ids=["name", "email", "phone", "description", "none"])
def test_search_doctors(client, factory, user_headers, query, expected):
    factory.doctor("Wang Wei", email="wang@hospital.org", phone_number="010-1111")
    factory.doctor("Zhao Li", email="zhao@clinic.example", phone_number="010-5555",
                   description="Cardiology specialist")
    r = client.post("/doctors/search", json={"query": query}, headers=user_headers)
    assert r.status_code == 200
    assert [d["name"] for d in r.json["results"]] == expected
    assert r.json["count"] == len(expected)


def test_search_doctors_errors(client, user_headers):
    r = client.post("/doctors/search", json={"query": " "}, headers=user_headers)
    assert_error(r, 400, "validation_error")
    r = client.post("/doctors/search", json={"query": "x", "per_page": 500},
                    headers=user_headers)
    assert_error(r, 400, "validation_error")
    r = client.post("/doctors/search", json={"query": "x"})
    assert_error(r, 401, "invalid_token")


# --- sub-lists ----------------------------------------------------------------------------

def test_doctor_departments(client, factory, user_headers):
    doc = factory.doctor()
    surgery, icu = factory.department("Surgery"), factory.department("ICU")
    factory.department("Unrelated")
    factory.affiliation(doc, surgery)
    factory.affiliation(doc, icu)
    r = client.get(f"/doctors/{doc.id}/departments?sort=name", headers=user_headers)
    assert r.status_code == 200
    assert [d["name"] for d in r.json["results"]] == ["ICU", "Surgery"]
    assert r.json["count"] == 2
    r = client.get(f"/doctors/{doc.id}/departments?per_page=1&page=3", headers=user_headers)
    assert r.json["results"] == [] and r.json["count"] == 2
    r = client.get("/doctors/999999/departments", headers=user_headers)
    assert_error(r, 404, "doctor_not_found")
    r = client.get(f"/doctors/{doc.id}/departments")
    assert_error(r, 401, "invalid_token")


def test_doctor_departments_bad_params(client, factory, user_headers):
    doc = factory.doctor()
    r = client.get(f"/doctors/{doc.id}/departments?per_page=abc", headers=user_headers)
    assert_error(r, 400, "validation_error")


def test_doctor_schedules(client, factory, user_headers):
    doc, other = factory.doctor(), factory.doctor()
    day = dt.date.today() + dt.timedelta(days=3)
    late = factory.schedule(doc, date=day, start=dt.time(14), end=dt.time(17))
    early = factory.schedule(doc, date=day, start=dt.time(8), end=dt.time(12))
    factory.schedule(other, date=day)
    r = client.get(f"/doctors/{doc.id}/schedules?sort=start_time", headers=user_headers)
    assert r.status_code == 200
    assert [s["id"] for s in r.json["results"]] == [early.id, late.id]
    assert r.json["results"][0]["start_time"] == "08:00:00"
    r = client.get(f"/doctors/{doc.id}/schedules?date_from={day + dt.timedelta(days=1)}",
                   headers=user_headers)
    assert r.json["results"] == []


def test_doctor_schedules_errors(client, factory, user_headers):
    r = client.get("/doctors/999999/schedules", headers=user_headers)
    assert_error(r, 404, "doctor_not_found")
    doc = factory.doctor()
    r = client.get(f"/doctors/{doc.id}/schedules?sort=name", headers=user_headers)
    assert_error(r, 400, "validation_error")
    r = client.get(f"/doctors/{doc.id}/schedules")
    assert_error(r, 401, "invalid_token")
