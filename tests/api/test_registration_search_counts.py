"""The admin search's exact count and pages, and the counters behind them.

POST /registrations/search (admin) counts broad matches from registration_term_counts,
which triggers keep in the writing transaction (migration 0011). These tests compare every
answer with a reference computed here from the rows, after every kind of write, and under
real concurrency (live_server).
"""
from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable

import pytest
from sqlalchemy import text

from app.extensions import db
from app.services import registration_search as service
from tests.api.test_booking_concurrency import http, run_together
from tests.sqlcount import count_statements

STATUS_WORDS = ("scheduled", "checked_in", "completed", "cancelled", "no_show")
SORTS = ("id", "created_at", "updated_at", "status", "queue_number")

# Every counter against the rows it counts: (schedule, term, kept, actual) where they differ.
COUNTER_MISMATCHES = text("""
    WITH actual AS (
        SELECT r.schedule_id, t.term, count(*) AS n
          FROM registrations AS r
          JOIN patients AS p ON p.id = r.patient_id
         CROSS JOIN LATERAL (SELECT '' UNION ALL SELECT r.status::text
                             UNION SELECT c FROM unnest(string_to_array(lower(p.name), NULL))
                                          AS c) AS t (term)
         GROUP BY 1, 2)
    SELECT coalesce(a.schedule_id, k.schedule_id), coalesce(a.term, k.term),
           coalesce(k.n, 0), coalesce(a.n, 0)
      FROM actual AS a
      FULL JOIN registration_term_counts AS k USING (schedule_id, term)
     WHERE coalesce(k.n, 0) <> coalesce(a.n, 0)
""")
ROWS = text("""
    SELECT r.id, r.status, r.notes, p.name, d.name, dp.name, r.created_at, r.updated_at,
           r.queue_number
      FROM registrations AS r
      JOIN patients AS p ON p.id = r.patient_id
      JOIN schedules AS s ON s.id = r.schedule_id
      JOIN doctors AS d ON d.id = s.doctor_id
      JOIN departments AS dp ON dp.id = s.department_id
""")


def counter_mismatches() -> list[tuple]:
    """Counters that differ from a count of their rows (none, when the triggers are right)."""
    return [tuple(row) for row in db.session.execute(COUNTER_MISMATCHES)]


def expected(query: str) -> list[tuple]:
    """The rows matching a query, by the contract's definition, computed in Python."""
    word = query.lower()
    return [row for row in db.session.execute(ROWS)
            if any(word in (value or "").lower() for value in (row[2], row[3], row[4], row[5]))
            or row[1] == word]


def ordered(rows: Iterable[tuple], sort: str, reverse: bool) -> list[int]:
    """Ids in the order of `sort` then id, as the list envelope promises."""
    column = {"status": 1, "created_at": 6, "updated_at": 7, "queue_number": 8}
    key = (lambda row: (row[0],)) if sort == "id" else (
        lambda row: (row[column[sort]], row[0]))
    return [row[0] for row in sorted(rows, key=key, reverse=reverse)]


def search(client, headers, query: str, **body) -> dict:
    """One search; asserts it answered 200."""
    reply = client.post("/registrations/search", headers=headers, json={"query": query, **body})
    assert reply.status_code == 200, reply.json
    return reply.json


def all_pages(client, headers, query: str, per_page: int, **body) -> tuple[list[int], set]:
    """Every page's ids in order, and the counts every page answered."""
    ids, counts, page = [], set(), 1
    while True:
        body_ = search(client, headers, query, page=page, per_page=per_page, **body)
        ids += [x["id"] for x in body_["results"]]
        counts.add(body_["count"])
        assert body_["more"] == (page * per_page < body_["count"])
        if not body_["more"]:
            return ids, counts
        page += 1


@pytest.fixture()
def world(factory):
    """Names chosen so that queries match in several columns at once, overlapping."""
    departments = [factory.department(name=n) for n in ("内科", "神经内科", "儿科 Paediatrics")]
    doctors = [factory.doctor(name=n) for n in ("王强", "刘科", "Dr. Li Hua", "陈静")]
    owner = factory.user()
    patients = [factory.patient(owner, name=n) for n in (
        "王宁", "王芳", "李王", "张伟", "Zhang Wei", "Wang Fang", "Ms. Scheduled", "宁静")]
    rng = random.Random(7)
    day = dt.date.today() + dt.timedelta(days=20)
    schedules = [factory.schedule(doctor, department, date=day + dt.timedelta(days=i),
                                  max_appointments=50)
                 for i, (doctor, department) in enumerate(
                     (d, dp) for d in doctors for dp in departments)]
    notes = (None, None, "复查", "王先生陪同", "completed early", "50% off", "Fever_2")
    for schedule in schedules:
        for patient in rng.sample(patients, 4):
            factory.registration(patient, schedule, status=rng.choice(STATUS_WORDS),
                                 notes=rng.choice(notes))
    return {"owner": owner, "patients": patients, "schedules": schedules,
            "doctors": doctors, "departments": departments}


QUERIES = ["王", "科", "宁", "w", "W", "%", "_", "王宁", "内科", "复查", "an", "神经内科",
           "li hua", "completed", "Scheduled", "no_show", "50%", "fever_2", "zzqxwv"]


@pytest.mark.parametrize("query", QUERIES, ids=[
    "one-char-patient-doctor-notes", "one-char-department-doctor", "one-char-patients",
    "one-latin-char", "one-latin-char-upper", "percent", "underscore", "two-chars",
    "two-char-departments", "two-char-notes", "two-latin-chars", "department",
    "doctor", "status-and-notes", "status-and-patient", "status-underscore",
    "escaped-percent", "escaped-underscore", "no-match"])
def test_admin_search_counts_and_finds_every_match(client, admin_headers, world, query):
    body = search(client, admin_headers, query, per_page=100)
    want = {row[0] for row in expected(query)}
    assert body["count"] == len(want)
    assert {x["id"] for x in body["results"]} == want


def test_counts_agree_whichever_way_the_counters_are_read(client, admin_headers, world,
                                                         monkeypatch):
    # One pass over every schedule's '' counter instead of a probe per matching schedule.
    monkeypatch.setattr(service, "SCAN_FROM", 1)
    for query in QUERIES:
        assert search(client, admin_headers, query)["count"] == len(expected(query)), query


STRATEGIES = {
    # The page through the matches' ids, collected by index and sorted.
    "collect": {"PROBE_AT_MOST": 0, "WALK_ROW_COST": 0, "COLLECT_AT_MOST": 10 ** 9},
    # Walking the sort order, testing rows against the hashed matching ids.
    "walk-hashed": {"WALK_ROW_COST": 10 ** 9, "PROBE_AT_MOST": 0, "COLLECT_AT_MOST": 0},
    # Walking the id order, probing each row's patient and schedule.
    "walk-probing": {"WALK_ROW_COST": 10 ** 9, "PROBE_AT_MOST": 10 ** 9, "COLLECT_AT_MOST": 0},
}
# What the page statement of '王' (patients and doctors match) looks like in each plan.
PAGE_SQL = {"collect": "registrations.id = ANY (array((SELECT registrations.id",
            "walk-hashed": "registrations.patient_id IN (SELECT patients.id",
            "walk-probing": "EXISTS (SELECT patients.id"}


@pytest.mark.parametrize("strategy", list(STRATEGIES), ids=list(STRATEGIES))
@pytest.mark.parametrize("sort", SORTS, ids=list(SORTS))
def test_every_page_in_every_order_whatever_the_plan(client, admin_headers, world, monkeypatch,
                                                     strategy, sort):
    for name, value in STRATEGIES[strategy].items():
        monkeypatch.setattr(service, name, value)
    if sort == "id" or strategy != "walk-probing":  # other orders are never probed
        with count_statements() as log:
            search(client, admin_headers, "王", sort=sort)
        assert PAGE_SQL[strategy] in log.statements[-1], log.statements[-1]
    for query in ("王", "completed", "科", "王宁"):
        rows = expected(query)
        for reverse in (False, True):
            ids, counts = all_pages(client, admin_headers, query, per_page=4, sort=sort,
                                    reverse=reverse)
            assert counts == {len(rows)}, (query, reverse)
            assert ids == ordered(rows, sort, reverse), (query, reverse)


def test_a_page_past_the_end_is_empty_with_the_count(client, admin_headers, world):
    count = len(expected("王"))
    body = search(client, admin_headers, "王", page=count + 1, per_page=1)
    assert body["results"] == [] and body["count"] == count and body["more"] is False


def test_users_still_search_only_their_own(client, world, factory, token_for):
    stranger = factory.user()
    mine = factory.registration(factory.patient(stranger, name="王小二"),
                                world["schedules"][0], notes="mine")
    headers = token_for(stranger)
    for query in ("王", "内科", "scheduled", "mine"):
        body = search(client, headers, query)
        assert [x["id"] for x in body["results"]] == [mine.id], query
        assert body["count"] == len(body["results"])
    listed = client.post(f"/users/{stranger.id}/registrations/search", headers=headers,
                         json={"query": "王"})
    assert listed.status_code == 200 and [x["id"] for x in listed.json["results"]] == [mine.id]


def assert_counts_true(client, headers) -> None:
    """Every counter equals its rows, and every query's count its reference."""
    assert counter_mismatches() == []
    for query in ("王", "宁", "科", "内科", "completed", "cancelled", "scheduled", "an"):
        assert search(client, headers, query)["count"] == len(expected(query)), query


def test_counters_follow_every_kind_of_write(client, admin_headers, world, factory):
    assert_counts_true(client, admin_headers)
    regs = db.session.execute(text("SELECT id, status FROM registrations ORDER BY id")).all()
    # Status changes through the API: cancel, complete, reinstate.
    scheduled = [rid for rid, status in regs if status == "scheduled"]
    assert client.put(f"/registrations/{scheduled[0]}/cancel",
                      headers=admin_headers).status_code == 200
    assert client.put(f"/registrations/{scheduled[1]}/complete",
                      headers=admin_headers).status_code == 200
    assert client.put(f"/registrations/{scheduled[0]}", headers=admin_headers,
                      json={"status": "scheduled"}).status_code == 200
    assert_counts_true(client, admin_headers)
    # A registration deleted; a patient renamed (characters leave and join), then deleted.
    assert client.delete(f"/registrations/{regs[2][0]}", headers=admin_headers).status_code == 204
    wang_ning = world["patients"][0]
    renamed = client.put(f"/patients/{wang_ning.id}", headers=admin_headers,
                         json={"name": "李宁宁"})
    assert renamed.status_code == 200, renamed.json
    assert_counts_true(client, admin_headers)
    assert client.delete(f"/patients/{world['patients'][1].id}",
                         headers=admin_headers).status_code == 204
    assert_counts_true(client, admin_headers)
    # A schedule moved to another doctor: the counters stay, the matches move with it.
    db.session.execute(text("UPDATE schedules SET doctor_id = :d WHERE id = :s"),
                       {"d": world["doctors"][3].id, "s": world["schedules"][0].id})
    assert_counts_true(client, admin_headers)
    # A session stopped with its bookings moved to a substitute (替诊), one deleted.
    stopped, substitute = world["schedules"][4], world["schedules"][1]
    suspended = client.post(f"/schedules/{stopped.id}/suspend", headers=admin_headers,
                            json={"reason": "ill", "substitute_schedule_id": substitute.id})
    assert suspended.status_code == 200, suspended.json
    assert_counts_true(client, admin_headers)
    assert client.delete(f"/schedules/{world['schedules'][6].id}",
                         headers=admin_headers).status_code in (204, 409)
    deleted = world["schedules"][7].id
    kept = text("SELECT term, n FROM registration_term_counts WHERE schedule_id = :s")
    counted = {term for term, n in db.session.execute(kept, {"s": deleted}) if n}
    db.session.execute(text("DELETE FROM schedules WHERE id = :s"), {"s": deleted})
    assert_counts_true(client, admin_headers)
    # The cascade counts the schedule's rows down to zero and removes them (a zero a status
    # change or a rename left earlier may stay: it adds nothing to a sum).
    left = dict(db.session.execute(kept, {"s": deleted}).all())
    assert counted and not counted & set(left) and set(left.values()) <= {0}, left
    # Many rows in one statement (a job marking no-shows, say).
    db.session.execute(text("UPDATE registrations SET status = 'no_show' "
                            "WHERE status = 'scheduled' AND id % 2 = 0"))
    db.session.execute(text("DELETE FROM registrations WHERE id % 3 = 0"))
    assert_counts_true(client, admin_headers)


def test_counters_survive_a_bulk_load_that_skips_triggers(client, admin_headers, world):
    """The seeder loads with session_replication_role = replica; the counters still count."""
    schedule, patient = world["schedules"][1], world["patients"][7]
    db.session.execute(text("SET LOCAL session_replication_role = replica"))
    db.session.execute(text(
        "INSERT INTO registrations (patient_id, schedule_id, status, queue_number) "
        "SELECT :p, :s, 'cancelled', 900 + i FROM generate_series(1, 3) AS i"),
        {"p": patient.id, "s": schedule.id})
    db.session.execute(text("SET LOCAL session_replication_role = origin"))
    assert_counts_true(client, admin_headers)


def test_recount_repairs_the_counters(client, admin_headers, world):
    db.session.execute(text("UPDATE registration_term_counts SET n = n + 1"))
    assert counter_mismatches()
    db.session.execute(text("SELECT recount_registration_terms()"))
    assert_counts_true(client, admin_headers)


def family_storm(base: str, headers: dict, patient_ids: list[int], schedule_ids: list[int],
                 admin: dict, seed: int, rounds: int) -> list[int]:
    """Random bookings, cancellations, completions, reinstatements and deletions."""
    rng = random.Random(seed)
    mine: list[int] = []
    statuses = []
    for _ in range(rounds):
        action = rng.choice(["book", "book", "cancel", "complete", "reinstate", "delete"])
        if action == "book" or not mine:
            reply = http(base, "POST", "/registrations/", headers,
                         {"patient_id": rng.choice(patient_ids),
                          "schedule_id": rng.choice(schedule_ids), "notes": "王 storm"})
            if reply.status == 201:
                mine.append(reply.body["id"])
        elif action == "cancel":
            reply = http(base, "PUT", f"/registrations/{rng.choice(mine)}/cancel", headers)
        elif action == "complete":
            reply = http(base, "PUT", f"/registrations/{rng.choice(mine)}/complete", admin)
        elif action == "reinstate":
            reply = http(base, "PUT", f"/registrations/{rng.choice(mine)}", admin,
                         {"status": "scheduled"})
        else:
            reply = http(base, "DELETE", f"/registrations/{mine.pop(rng.randrange(len(mine)))}",
                         headers)
        statuses.append(reply.status)
    return statuses


def rename_storm(base: str, admin: dict, patient_ids: list[int], seed: int,
                 rounds: int) -> list[int]:
    """An admin renaming the families' patients while they book (the characters move)."""
    rng = random.Random(seed)
    names = ["王宁", "李宁", "王芳", "张王", "Wang", "刘科"]
    return [http(base, "PUT", f"/patients/{rng.choice(patient_ids)}", admin,
                 {"name": rng.choice(names) + str(rng.randrange(100))}).status
            for _ in range(rounds)]


def test_counters_exact_after_concurrent_writes(live_server, committing_db):
    factory = committing_db
    admin = factory.headers(factory.admin())
    doctors = [factory.doctor(name=n) for n in ("王强", "李科")]
    department = factory.department(name="内科")
    day = dt.date.today() + dt.timedelta(days=10)
    schedule_ids = [factory.schedule(doctors[i % 2], department,
                                     date=day + dt.timedelta(days=i), max_appointments=30).id
                    for i in range(4)]
    families = []
    for n in range(8):
        user = factory.user()
        families.append((factory.headers(user),
                         [factory.patient(user, name=name).id
                          for name in (f"王{n}", f"李宁{n}")]))
    all_patients = [pid for _, ids in families for pid in ids]
    db.session.close()

    calls = [(lambda h=h, p=p, i=i: family_storm(live_server, h, p, schedule_ids, admin,
                                                 seed=i, rounds=15))
             for i, (h, p) in enumerate(families)]
    calls += [(lambda i=i: rename_storm(live_server, admin, all_patients, seed=100 + i,
                                        rounds=10)) for i in range(2)]
    results = run_together(calls)

    assert all(status < 500 for statuses in results for status in statuses), results
    assert sum(status == 201 for statuses in results[:8] for status in statuses) > 20
    db.session.rollback()
    assert counter_mismatches() == []
    for query in ("王", "宁", "科", "李宁", "内科", "completed", "cancelled", "scheduled"):
        reply = http(live_server, "POST", "/registrations/search", admin, {"query": query})
        assert reply.status == 200 and reply.body["count"] == len(expected(query)), query
