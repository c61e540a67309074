"""GET /registrations/stats and GET /stats/overview."""
from __future__ import annotations

import datetime as dt

import pytest

from app.identity.auth import USER_LOOKUP_SQL
from tests.assertions import assert_error
from tests.sqlcount import count_statements

D1, D2, D3 = dt.date(2030, 1, 10), dt.date(2030, 1, 11), dt.date(2030, 1, 12)


def counts(total, scheduled=0, completed=0, cancelled=0, no_show=0, checked_in=0):
    return {"total": total, "scheduled": scheduled, "checked_in": checked_in,
            "completed": completed, "cancelled": cancelled, "no_show": no_show}


@pytest.fixture()
def world(factory):
    """Two departments and two doctors with registrations; a third pair without any."""
    dep_a, dep_b, dep_c = (factory.department(name) for name in ("儿科", "眼科", "骨科"))
    doc1, doc2, doc3 = (factory.doctor(name) for name in ("王芳", "李伟", "张敏"))
    s1 = factory.schedule(doc1, dep_a, date=D1)
    s2 = factory.schedule(doc2, dep_b, date=D2)
    s3 = factory.schedule(doc2, dep_a, date=D3)
    factory.schedule(doc3, dep_c, date=D3)
    owner = factory.user()
    p1, p2, p3, p4 = (factory.patient(owner) for _ in range(4))
    for patient, schedule, status in [
        (p1, s1, "scheduled"), (p2, s1, "completed"), (p3, s1, "cancelled"), (p4, s1, "no_show"),
        (p1, s2, "scheduled"), (p2, s2, "scheduled"), (p3, s2, "cancelled"),
        (p1, s3, "cancelled"), (p1, s3, "completed"), (p2, s3, "no_show"),
    ]:
        factory.registration(patient, schedule, status=status)
    admin = factory.admin()
    return {"headers": factory.headers(admin), "dep_a": dep_a, "dep_b": dep_b,
            "doc1": doc1, "doc2": doc2, "owner": owner}


def get_stats(client, headers, **params):
    return client.get("/registrations/stats", query_string=params, headers=headers)


def test_group_by_department(client, world):
    r = get_stats(client, world["headers"], group_by="department")
    assert r.status_code == 200, r.json
    assert r.json == {"group_by": "department", "date_from": None, "date_to": None, "results": [
        {"key": world["dep_a"].id, "label": "儿科", **counts(7, 1, 2, 2, 2)},
        {"key": world["dep_b"].id, "label": "眼科", **counts(3, 2, 0, 1, 0)},
    ]}


def test_group_by_doctor(client, world):
    r = get_stats(client, world["headers"], group_by="doctor")
    assert r.status_code == 200, r.json
    assert r.json["results"] == [
        {"key": world["doc1"].id, "label": "王芳", **counts(4, 1, 1, 1, 1)},
        {"key": world["doc2"].id, "label": "李伟", **counts(6, 2, 1, 2, 1)},
    ]


def test_group_by_date(client, world):
    r = get_stats(client, world["headers"], group_by="date")
    assert r.status_code == 200, r.json
    assert r.json["results"] == [
        {"key": "2030-01-10", "label": "2030-01-10", **counts(4, 1, 1, 1, 1)},
        {"key": "2030-01-11", "label": "2030-01-11", **counts(3, 2, 0, 1, 0)},
        {"key": "2030-01-12", "label": "2030-01-12", **counts(3, 0, 1, 1, 1)},
    ]


def test_group_by_status_in_lifecycle_order(client, world):
    r = get_stats(client, world["headers"], group_by="status")
    assert r.status_code == 200, r.json
    assert r.json["results"] == [
        {"key": "scheduled", "label": "scheduled", **counts(3, scheduled=3)},
        {"key": "completed", "label": "completed", **counts(2, completed=2)},
        {"key": "cancelled", "label": "cancelled", **counts(3, cancelled=3)},
        {"key": "no_show", "label": "no_show", **counts(2, no_show=2)},
    ]


@pytest.mark.parametrize("params, expected_dates", [
    ({"date_from": "2030-01-11", "date_to": "2030-01-11"}, ["2030-01-11"]),
    ({"date_from": "2030-01-11"}, ["2030-01-11", "2030-01-12"]),
    ({"date_to": "2030-01-11"}, ["2030-01-10", "2030-01-11"]),
    ({"date_from": "2030-01-10", "date_to": "2030-01-12"},
     ["2030-01-10", "2030-01-11", "2030-01-12"]),
    ({"date_from": "2030-01-13"}, []),
], ids=["single-day", "from-only", "to-only", "both-ends-inclusive", "after-all"])
def test_date_filter_is_inclusive(client, world, params, expected_dates):
    r = get_stats(client, world["headers"], group_by="date", **params)
    assert r.status_code == 200, r.json
    assert [row["key"] for row in r.json["results"]] == expected_dates
    assert r.json["date_from"] == params.get("date_from")
    assert r.json["date_to"] == params.get("date_to")


def test_date_filter_applies_to_other_groupings(client, world):
    r = get_stats(client, world["headers"], group_by="department",
                  date_from="2030-01-11", date_to="2030-01-12")
    assert r.status_code == 200, r.json
    assert r.json["results"] == [
        {"key": world["dep_a"].id, "label": "儿科", **counts(3, 0, 1, 1, 1)},
        {"key": world["dep_b"].id, "label": "眼科", **counts(3, 2, 0, 1, 0)},
    ]


@pytest.mark.parametrize("params, field, code", [
    ({}, "group_by", "validation_error"),
    ({"group_by": ""}, "group_by", "validation_error"),
    ({"group_by": "patient"}, "group_by", "validation_error"),
    ({"group_by": "date", "date_from": "2030-13-01"}, "date_from", "validation_error"),
    ({"group_by": "date", "date_to": "tomorrow"}, "date_to", "validation_error"),
    ({"group_by": "date", "date_from": "2030-01-12", "date_to": "2030-01-11"}, "date_from",
     "invalid_date_range"),
], ids=["missing-group-by", "empty-group-by", "unknown-group-by", "bad-date-from",
        "bad-date-to", "from-after-to"])
def test_bad_parameters_are_400(client, world, params, field, code):
    r = get_stats(client, world["headers"], **params)
    assert_error(r, 400, code)
    assert field in r.json["errors"]


def test_stats_need_a_token(client):
    r = client.get("/registrations/stats?group_by=status")
    assert_error(r, 401, "invalid_token")


def test_stats_are_admin_only(client, world, factory):
    headers = factory.headers(world["owner"])
    for url in ("/registrations/stats?group_by=status", "/stats/overview"):
        r = client.get(url, headers=headers)
        assert_error(r, 403, "admin_required")


def besides_user_lookup(statements: list[str]) -> list[str]:
    """The statements other than the caller lookup every authenticated request makes."""
    lookup = " ".join(USER_LOOKUP_SQL.driver_sql.split())
    return [s for s in statements if not s.startswith(lookup.split(" WHERE")[0])]


def test_stats_query_is_one_statement(client, world, db_session):
    db_session.expire_all()  # the auth lookup really queries, as in production
    with count_statements() as log:
        r = get_stats(client, world["headers"], group_by="doctor", date_from="2030-01-10")
    assert r.status_code == 200
    assert len(log.statements) == 2, log.statements
    work = besides_user_lookup(log.statements)
    assert len(work) == 1, log.statements
    assert "FILTER (WHERE" in work[0]


def test_overview_counts(client, world, factory):
    factory.user()
    r = client.get("/stats/overview", headers=world["headers"])
    assert r.status_code == 200, r.json
    assert r.json == {
        "users": 3, "patients": 4, "doctors": 3, "departments": 3, "schedules": 4,
        "registrations": counts(10, scheduled=3, completed=2, cancelled=3, no_show=2),
    }


def test_overview_is_one_statement(client, world, db_session):
    db_session.expire_all()
    with count_statements() as log:
        r = client.get("/stats/overview", headers=world["headers"])
    assert r.status_code == 200
    assert len(log.statements) == 2, log.statements
    assert len(besides_user_lookup(log.statements)) == 1, log.statements


def test_overview_needs_a_token(client):
    r = client.get("/stats/overview")
    assert_error(r, 401, "invalid_token")


def test_overview_of_an_empty_database(client, factory):
    r = client.get("/stats/overview", headers=factory.headers(factory.admin()))
    assert r.status_code == 200
    assert r.json == {"users": 1, "patients": 0, "doctors": 0, "departments": 0, "schedules": 0,
                      "registrations": counts(0)}
