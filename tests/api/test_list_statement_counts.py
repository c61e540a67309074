"""Every list endpoint, found in the URL map, issues the same few SQL statements for a page of
1 row as for a page of 100 (no per-row queries)."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import text

from app.extensions import db
from app.identity.callers import caller_cache
from tests.sqlcount import count_statements

ROWS = 110


@pytest.fixture()
def crowd(app, factory, monkeypatch):
    """More than 100 rows behind every list, all visible to one admin (who owns the patients)."""
    monkeypatch.setitem(app.config, "CACHE_ENABLED", False)
    admin = factory.admin()
    doctor = factory.doctor(name="Doctor 1")
    department = factory.department(name="Department 1")
    factory.affiliation(doctor, department)
    params = {"n": ROWS, "admin": admin.id, "doctor": doctor.id, "department": department.id,
              "day": dt.date.today() + dt.timedelta(days=30)}
    for statement in (
        "INSERT INTO users (username, phone_number, password_hash) SELECT 'crowd1_' || i,"
        " '1500' || lpad(i::text, 7, '0'), 'x' FROM generate_series(1, :n) AS i",
        "INSERT INTO departments (name) SELECT 'Department 1-' || i FROM generate_series(1, :n) i",
        "INSERT INTO doctors (name, gender, email, phone_number) SELECT 'Doctor 1-' || i,"
        " 'male', 'd' || i || '@example.com', '1510' || lpad(i::text, 7, '0')"
        " FROM generate_series(1, :n) AS i",
        "INSERT INTO affiliations (doctor_id, department_id) SELECT :doctor, id FROM departments"
        " WHERE id <> :department",
        "INSERT INTO affiliations (doctor_id, department_id) SELECT id, :department FROM doctors"
        " WHERE id <> :doctor",
        "INSERT INTO schedules (doctor_id, department_id, date, start_time, end_time,"
        " max_appointments) SELECT :doctor, :department, :day + i, '08:00', '12:00', 200"
        " FROM generate_series(1, :n) AS i",
        # The first schedule is split into 5-minute slots (the database lays out 286).
        "UPDATE schedules SET start_time = '00:05', end_time = '23:55', slot_minutes = 5"
        " WHERE id = (SELECT min(id) FROM schedules)",
        "INSERT INTO patients (user_id, name, gender, birthday, phone_number) SELECT :admin,"
        " 'Patient 1-' || i, 'female', '1990-01-01', '123456' FROM generate_series(1, :n) i",
        "INSERT INTO registrations (patient_id, schedule_id, notes) SELECT p.id,"
        " (SELECT min(id) FROM schedules), 'note 1' FROM patients p WHERE p.user_id = :admin",
        # ... and the first patient is booked on every other schedule too.
        "INSERT INTO registrations (patient_id, schedule_id, notes) SELECT (SELECT min(id) FROM"
        " patients WHERE user_id = :admin), s.id, 'note 1' FROM schedules s"
        " WHERE s.id > (SELECT min(id) FROM schedules)",
        # Every patient waits on the first schedule; the first patient on every schedule.
        "INSERT INTO waitlist_entries (schedule_id, patient_id) SELECT (SELECT min(id) FROM"
        " schedules), p.id FROM patients p WHERE p.user_id = :admin",
        "INSERT INTO waitlist_entries (schedule_id, patient_id) SELECT s.id, (SELECT min(id)"
        " FROM patients WHERE user_id = :admin) FROM schedules s"
        " WHERE s.id > (SELECT min(id) FROM schedules)",
    ):
        db.session.execute(text(statement), params)
    db.session.commit()
    ids = {
        "user_id": admin.id, "doctor_id": doctor.id, "department_id": department.id,
        "schedule_id": db.session.scalar(text("SELECT min(id) FROM schedules")),
        "patient_id": db.session.scalar(
            text("SELECT min(id) FROM patients WHERE user_id = :a"), {"a": admin.id}),
        "status": "scheduled",
    }
    return factory.headers(admin), ids


def list_operations(app):
    """(method, rule) of every list: GET collections and sub-lists, and POST .../search."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in {"static", "doc", "specs", "root", "restx_doc.static"}:
            continue
        if rule.rule.endswith("/search") and "POST" in rule.methods:
            found.append(("POST", rule.rule))
        elif "GET" in rule.methods:
            found.append(("GET", rule.rule))
    return found


def test_every_list_has_a_constant_statement_count(app, client, crowd):
    headers, ids = crowd
    checked = []
    for method, rule in list_operations(app):
        path = rule
        for name, value in ids.items():
            path = re.sub(rf"<(\w+:)?{name}>", str(value), path)
        if "<" in path:
            continue
        counts, sizes = [], []
        for per_page in (1, 100):
            caller_cache().clear()  # count the caller lookup every time
            with count_statements() as log:
                if method == "GET":
                    response = client.get(f"{path}?per_page={per_page}", headers=headers)
                else:
                    response = client.post(path, headers=headers,
                                           json={"query": "1", "per_page": per_page})
            body = response.get_json()
            if response.status_code != 200 or not isinstance(body, dict) \
                    or "count" not in body:
                break  # not a paged list (an item, /health, statistics, the event feed)
            counts.append(log.count)
            sizes.append(len(body["results"]))
        else:
            assert sizes[0] == 1 and sizes[1] > 50, (method, rule, sizes)
            assert counts[0] == counts[1] <= 3, (method, rule, counts)
            checked.append((method, rule))
    # Every list of the contract was reached (a new list endpoint joins automatically).
    assert len(checked) >= 24, checked
