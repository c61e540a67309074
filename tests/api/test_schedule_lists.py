"""Schedule lists: filters, sorting, search and a constant number of SQL statements."""
from __future__ import annotations

import datetime as dt

import pytest

from app.extensions import db
from app.models import Schedule
from app.services.schedule_rules import hospital_today
from tests.assertions import assert_error
from tests.sqlcount import count_statements


@pytest.fixture()
def world(factory):
    """Two doctors in two departments with four schedules over three days."""
    base = hospital_today() + dt.timedelta(days=10)
    smith, jones = factory.doctor("Dr. Smith"), factory.doctor("Dr. Jones")
    cardio, neuro = factory.department("Cardiology"), factory.department("Neurology")
    s1 = factory.schedule(smith, cardio, date=base, start=dt.time(8), end=dt.time(12),
                          max_appointments=2)
    s2 = factory.schedule(smith, cardio, date=base + dt.timedelta(days=1),
                          start=dt.time(13), end=dt.time(15), max_appointments=40)
    s3 = factory.schedule(jones, neuro, date=base + dt.timedelta(days=1), start=dt.time(9),
                          end=dt.time(10), max_appointments=1)
    s4 = factory.schedule(jones, neuro, date=base + dt.timedelta(days=2), start=dt.time(7),
                          end=dt.time(9), max_appointments=5)
    owner = factory.user()
    factory.registration(factory.patient(owner), s3)  # s3 is now full
    return {"base": base, "smith": smith, "jones": jones, "cardio": cardio, "neuro": neuro,
            "s": [s1, s2, s3, s4]}


def ids(response):
    assert response.status_code == 200, response.json
    return [s["id"] for s in response.json["results"]]


def test_list_schedules(client, world, user_headers):
    s1, s2, s3, s4 = world["s"]
    r = client.get("/schedules/", headers=user_headers)
    assert ids(r) == [s1.id, s2.id, s3.id, s4.id]
    assert r.json["count"] == 4 and r.json["more"] is False
    full = next(s for s in r.json["results"] if s["id"] == s3.id)
    assert full["available_slots"] == 0


@pytest.mark.parametrize("sort,expected", [
    ("date", [0, 2, 1, 3]),
    ("start_time", [3, 0, 2, 1]),
    ("max_appointments", [2, 0, 3, 1]),
    ("created_at", [0, 1, 2, 3]),
    ("updated_at", [0, 1, 2, 3]),
    ("id", [0, 1, 2, 3]),
], ids=["date", "start_time", "max_appointments", "created_at", "updated_at", "id"])
def test_list_schedules_sorted(client, world, user_headers, sort, expected):
    schedules = world["s"]
    r = client.get(f"/schedules/?sort={sort}", headers=user_headers)
    assert ids(r) == [schedules[i].id for i in expected]
    r = client.get(f"/schedules/?sort={sort}&reverse=true", headers=user_headers)
    assert ids(r) == [schedules[i].id for i in reversed(expected)]


def test_list_schedules_filters(client, world, user_headers):
    s1, s2, s3, s4 = world["s"]
    base = world["base"]
    day2 = (base + dt.timedelta(days=1)).isoformat()
    cases = {
        f"doctor_id={world['smith'].id}": [s1, s2],
        f"department_id={world['neuro'].id}": [s3, s4],
        f"date_from={day2}": [s2, s3, s4],
        f"date_to={day2}": [s1, s2, s3],
        f"date_from={day2}&date_to={day2}": [s2, s3],
        "available=true": [s1, s2, s4],
        "available=1": [s1, s2, s4],
        "available=false": [s3],
        f"available=true&department_id={world['neuro'].id}": [s4],
        f"doctor_id={world['smith'].id}&department_id={world['neuro'].id}": [],
        "date_from=&doctor_id=": [s1, s2, s3, s4],
    }
    for query, expected in cases.items():
        r = client.get(f"/schedules/?{query}", headers=user_headers)
        assert ids(r) == [s.id for s in expected], query
        assert r.json["count"] == len(expected), query


def test_available_filter_follows_bookings(client, factory, world, user_headers):
    s1 = world["s"][0]
    owner = factory.user()
    factory.registration(factory.patient(owner), s1)
    factory.registration(factory.patient(owner), s1)
    r = client.get("/schedules/?available=true", headers=user_headers)
    assert s1.id not in ids(r)
    r = client.get(f"/schedules/{s1.id}", headers=user_headers)
    assert r.json["available_slots"] == 0


@pytest.mark.parametrize("query,field", [
    ("doctor_id=abc", "doctor_id"),
    ("department_id=1.5", "department_id"),
    ("doctor_id=-3", "doctor_id"),
    ("date_from=2026-02-30", "date_from"),
    ("date_to=01/02/2026", "date_to"),
    ("date_from=2026-12-02&date_to=2026-12-01", "date_to"),
    ("available=maybe", "available"),
    ("sort=doctor_id", "sort"),
    ("per_page=101", "per_page"),
    ("page=-1", "page"),
], ids=["doctor-not-int", "department-float", "doctor-negative", "impossible-date",
        "slashed-date", "inverted-range", "bad-available", "unsortable", "per-page-high",
        "negative-page"])
def test_list_schedules_bad_params(client, user_headers, query, field):
    r = client.get(f"/schedules/?{query}", headers=user_headers)
    assert_error(r, 400, "validation_error")
    assert field in r.json["errors"]


def test_list_schedules_needs_token(client):
    r = client.get("/schedules/")
    assert_error(r, 401, "invalid_token")


def test_list_schedules_pages(client, world, user_headers):
    schedules = world["s"]
    r = client.get("/schedules/?per_page=3&page=2", headers=user_headers)
    assert ids(r) == [schedules[3].id]
    assert (r.json["count"], r.json["more"], r.json["page"], r.json["per_page"]) == (4, False,
                                                                                     2, 3)
    r = client.get("/schedules/?per_page=3&page=9", headers=user_headers)
    assert ids(r) == [] and r.json["count"] == 4


# --- search -----------------------------------------------------------------------------

@pytest.mark.parametrize("query,expected", [
    ("smith", [0, 1]),
    ("NEURO", [2, 3]),
    ("dr.", [0, 1, 2, 3]),
    ("ology", [0, 1, 2, 3]),
    ("nothing-like-this", []),
], ids=["doctor-name", "department-name", "both-doctors", "both-departments", "none"])
def test_search_schedules(client, world, user_headers, query, expected):
    r = client.post("/schedules/search", json={"query": query}, headers=user_headers)
    assert ids(r) == [world["s"][i].id for i in expected]
    assert r.json["count"] == len(expected)


def test_search_schedules_by_date(client, world, user_headers):
    s1, s2, s3, s4 = world["s"]
    day2 = (world["base"] + dt.timedelta(days=1)).isoformat()
    r = client.post("/schedules/search", json={"query": day2, "sort": "start_time"},
                    headers=user_headers)
    assert ids(r) == [s3.id, s2.id]
    # not a real date: only a substring search, which finds nothing here
    r = client.post("/schedules/search", json={"query": "2026-02-30"}, headers=user_headers)
    assert ids(r) == []


@pytest.mark.parametrize("body,field", [
    ({}, "query"), ({"query": ""}, "query"), ({"query": ["x"]}, "query"),
    ({"query": "x", "sort": "name"}, "sort"), ({"query": "x", "page": 0}, "page"),
], ids=["missing", "empty", "list", "bad-sort", "page-zero"])
def test_search_schedules_bad_body(client, user_headers, body, field):
    r = client.post("/schedules/search", json=body, headers=user_headers)
    assert_error(r, 400, "validation_error")
    assert field in r.json["errors"]


def test_search_schedules_needs_token(client):
    r = client.post("/schedules/search", json={"query": "x"})
    assert_error(r, 401, "invalid_token")


# --- statement count ----------------------------------------------------------------------

@pytest.fixture()
def hundred_schedules(factory):
    """100 schedules of one doctor, the first one with two bookings."""
    doc, dep = factory.doctor("Dr. Many"), factory.department("Busy")
    factory.affiliation(doc, dep)
    start = hospital_today() + dt.timedelta(days=1)
    rows = [Schedule(doctor_id=doc.id, department_id=dep.id,
                     date=start + dt.timedelta(days=i), start_time=dt.time(8),
                     end_time=dt.time(12), max_appointments=10 + i) for i in range(100)]
    db.session.add_all(rows)
    db.session.commit()
    owner = factory.user()
    for _ in range(2):
        factory.registration(factory.patient(owner), rows[0])
    return doc, dep


@pytest.mark.parametrize("method,path,body", [
    ("get", "/schedules/?per_page={n}", None),
    ("get", "/doctors/{doctor}/schedules?per_page={n}", None),
    ("get", "/departments/{department}/schedules?per_page={n}&available=true", None),
    ("post", "/schedules/search", {"query": "many"}),
], ids=["list", "doctor-schedules", "department-schedules", "search"])
def test_schedule_lists_use_constant_statements(client, factory, app, monkeypatch,
                                                hundred_schedules, method, path, body):
    monkeypatch.setitem(app.config, "CACHE_ENABLED", False)
    doc, dep = hundred_schedules
    headers = factory.headers(factory.user())
    counts = {}
    for n in (5, 100):
        url = path.format(n=n, doctor=doc.id, department=dep.id)
        kwargs = {"headers": headers}
        if body is not None:
            kwargs["json"] = dict(body, per_page=n)
        client.get("/users/me", headers=headers)  # the same token lookup state both times
        with count_statements() as log:
            r = getattr(client, method)(url, **kwargs)
        assert r.status_code == 200, r.json
        results = r.json["results"]
        assert len(results) == n and r.json["count"] == 100
        assert results[0]["available_slots"] == results[0]["max_appointments"] - 2 == 8
        assert all(s["available_slots"] == s["max_appointments"] for s in results[1:])
        assert log.matching("FROM schedules"), log.statements
        counts[n] = log.count
    assert counts[5] == counts[100], counts
    assert 1 <= counts[100] <= 3, counts


def test_statement_counter_sees_per_row_queries(app, factory, hundred_schedules):
    """The counter really counts: loading schedules one by one shows up."""
    ids_ = db.session.scalars(db.select(Schedule.id).limit(5)).all()
    db.session.expunge_all()
    with count_statements() as log:
        for schedule_id in ids_:
            db.session.get(Schedule, schedule_id)
    assert log.count == 5
