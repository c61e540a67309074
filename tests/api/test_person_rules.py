"""Per-person quotas (one per department per day, max active) and no-show credit (爽约)."""
from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest

from app.extensions import db
from app.models import Patient
from app.ops.jobs import run_no_show_job
from app.services.id_numbers import make_number
from tests.assertions import assert_error

BIRTHDAY = dt.date(1980, 3, 15)
TODAY = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the hospital's (test settings)
_sequence = itertools.count(101, 2)  # odd: men


def person_number() -> str:
    return make_number("310101", BIRTHDAY, next(_sequence))


def add_patient(client, headers, number: str | None, name: str = "李雷") -> int:
    body = {"name": name, "gender": "male", "birthday": BIRTHDAY.isoformat(),
            "phone_number": "139 0000 0000"}
    if number is not None:
        body["id_number"] = number
    r = client.post("/patients/", headers=headers, json=body)
    assert r.status_code == 201, r.json
    return r.json["id"]


def set_policy(client, headers, **changes):
    r = client.put("/settings/booking", headers=headers, json=changes)
    assert r.status_code == 200, r.json
    return r.json


def book(client, headers, patient_id, schedule_id):
    return client.post("/registrations/", headers=headers,
                       json={"patient_id": patient_id, "schedule_id": schedule_id})


@pytest.fixture()
def two_accounts(client, factory):
    """One person (one ID number) added by two accounts: (headers, patient id) of each."""
    number = person_number()
    first, second = factory.user(), factory.user()
    h1, h2 = factory.headers(first), factory.headers(second)
    return (h1, add_patient(client, h1, number)), (h2, add_patient(client, h2, number))


def test_the_policy_fields_default_off(client, user_headers):
    body = client.get("/settings/booking", headers=user_headers).json
    assert {k: body[k] for k in ("one_per_department_per_day", "max_active_per_person",
                                 "no_show_limit", "no_show_window_days",
                                 "no_show_suspend_days", "require_id_number")} == {
        "one_per_department_per_day": False, "max_active_per_person": None,
        "no_show_limit": 0, "no_show_window_days": 90, "no_show_suspend_days": 90,
        "require_id_number": False}


@pytest.mark.parametrize("changes", [
    {"max_active_per_person": 0}, {"max_active_per_person": 101},
    {"no_show_limit": -1}, {"no_show_limit": 101}, {"no_show_window_days": 0},
    {"no_show_window_days": 366}, {"no_show_suspend_days": 0}, {"no_show_suspend_days": 366},
    {"one_per_department_per_day": "yes"}, {"require_id_number": None},
    {"no_show_limit": None},
])
def test_bad_person_rule_values_are_400(client, admin_headers, changes):
    body = assert_error(client.put("/settings/booking", headers=admin_headers, json=changes),
                        400, "validation_error")
    assert set(body["errors"]) == set(changes)


def test_one_per_department_per_day_counts_the_person_across_accounts(
        client, admin_headers, factory, two_accounts):
    (h1, p1), (h2, p2) = two_accounts
    day = TODAY + dt.timedelta(days=10)
    department, other_department = factory.department(), factory.department()
    morning = factory.schedule(department=department, date=day)
    afternoon = factory.schedule(department=department, date=day, start=dt.time(14),
                                 end=dt.time(17))
    elsewhere = factory.schedule(department=other_department, date=day)
    next_day = factory.schedule(department=department, date=day + dt.timedelta(days=1))
    set_policy(client, admin_headers, one_per_department_per_day=True)
    first = book(client, h1, p1, morning.id)
    assert first.status_code == 201
    assert_error(book(client, h2, p2, afternoon.id), 409, "daily_department_limit")
    assert_error(book(client, admin_headers, p2, afternoon.id), 409, "daily_department_limit")
    assert book(client, h2, p2, elsewhere.id).status_code == 201
    assert book(client, h2, p2, next_day.id).status_code == 201
    # A cancelled registration holds no place and counts for nothing.
    client.put(f"/registrations/{first.json['id']}/cancel", headers=h1)
    assert book(client, h2, p2, afternoon.id).status_code == 201
    # Reinstating the cancelled one would make two that day: refused, nothing changes.
    assert_error(client.put(f"/registrations/{first.json['id']}", headers=admin_headers,
                            json={"status": "scheduled"}), 409, "daily_department_limit")


def test_patients_without_a_number_are_persons_of_their_own(client, admin_headers, factory,
                                                            owner, owner_headers):
    day = TODAY + dt.timedelta(days=10)
    department = factory.department()
    a = factory.schedule(department=department, date=day)
    b = factory.schedule(department=department, date=day, start=dt.time(14), end=dt.time(17))
    set_policy(client, admin_headers, one_per_department_per_day=True)
    one, two = add_patient(client, owner_headers, None), add_patient(client, owner_headers,
                                                                     None, name="韩梅梅")
    assert book(client, owner_headers, one, a.id).status_code == 201
    assert book(client, owner_headers, two, b.id).status_code == 201
    assert_error(book(client, owner_headers, one, b.id), 409, "daily_department_limit")


def test_max_active_counts_schedules_not_yet_ended(client, admin_headers, factory, db_session,
                                                   two_accounts):
    (h1, p1), (h2, p2) = two_accounts
    past = factory.schedule(date=TODAY - dt.timedelta(days=3))
    factory.registration(db_session.get(Patient, p1), past, status="completed")
    futures = [factory.schedule(date=TODAY + dt.timedelta(days=5 + i)) for i in range(3)]
    set_policy(client, admin_headers, max_active_per_person=2)
    assert book(client, h1, p1, futures[0].id).status_code == 201
    assert book(client, h2, p2, futures[1].id).status_code == 201
    assert_error(book(client, h1, p1, futures[2].id), 409, "too_many_active")
    assert_error(book(client, admin_headers, p2, futures[2].id), 409, "too_many_active")
    set_policy(client, admin_headers, max_active_per_person=3)
    assert book(client, h2, p2, futures[2].id).status_code == 201


# --- no-show credit ------------------------------------------------------------------------

@pytest.fixture()
def missed(client, factory, db_session, two_accounts):
    """The person of two_accounts missed visits 10 and 40 days ago (through account 1)."""
    (h1, p1), _ = two_accounts
    patient = db_session.get(Patient, p1)
    for days in (10, 40):
        factory.registration(patient, factory.schedule(date=TODAY - dt.timedelta(days=days)),
                             status="no_show")
    return two_accounts


def credit(client, headers, patient_id):
    r = client.get(f"/patients/{patient_id}/credit", headers=headers)
    assert r.status_code == 200, r.json
    return r.json


def test_credit_counts_no_shows_but_suspends_only_with_a_limit(client, admin_headers, missed):
    (h1, p1), (h2, p2) = missed
    assert credit(client, h2, p2) == {"no_shows": 2, "limit": 0, "window_days": 90,
                                      "suspended_until": None}


def test_enough_no_shows_suspend_the_person_in_every_account(client, admin_headers, factory,
                                                              missed):
    (h1, p1), (h2, p2) = missed
    schedule = factory.schedule(date=TODAY + dt.timedelta(days=3))
    set_policy(client, admin_headers, no_show_limit=2, no_show_suspend_days=30)
    until = (TODAY - dt.timedelta(days=10) + dt.timedelta(days=30)).isoformat()
    assert credit(client, h2, p2) == {"no_shows": 2, "limit": 2, "window_days": 90,
                                      "suspended_until": until}
    for headers, patient in ((h1, p1), (h2, p2)):
        body = assert_error(book(client, headers, patient, schedule.id), 403,
                            "booking_suspended")
        assert body["until"] == until
    # The registration counter books a suspended person.
    assert book(client, admin_headers, p2, schedule.id).status_code == 201


def test_the_window_and_the_suspension_have_edges(client, admin_headers, factory, missed):
    (h1, p1), _ = missed
    # 40 days ago falls out of a 39-day window, stays in a 40-day one.
    set_policy(client, admin_headers, no_show_limit=2, no_show_window_days=39,
               no_show_suspend_days=30)
    assert credit(client, h1, p1)["no_shows"] == 1
    assert credit(client, h1, p1)["suspended_until"] is None
    set_policy(client, admin_headers, no_show_window_days=40)
    assert credit(client, h1, p1)["no_shows"] == 2
    # Latest no-show 10 days ago + 10 days = today: the suspension is over today.
    set_policy(client, admin_headers, no_show_suspend_days=10)
    assert credit(client, h1, p1)["suspended_until"] is None
    set_policy(client, admin_headers, no_show_suspend_days=11)
    assert credit(client, h1, p1)["suspended_until"] == (TODAY + dt.timedelta(days=1)
                                                         ).isoformat()


def test_a_pardon_stops_every_no_show_so_far_from_counting(client, admin_headers, factory,
                                                           db_session, missed):
    (h1, p1), (h2, p2) = missed
    set_policy(client, admin_headers, no_show_limit=2)
    r = client.post(f"/patients/{p2}/credit/pardon", headers=admin_headers,
                    json={"reason": "在住院"})
    assert r.status_code == 200, r.json
    assert (r.json["no_shows"], r.json["suspended_until"]) == (0, None)
    assert book(client, h1, p1, factory.schedule().id).status_code == 201
    # The no-shows stay no_show; a later one counts, the pardoned ones never again.
    factory.registration(db_session.get(Patient, p1),
                         factory.schedule(date=TODAY - dt.timedelta(days=1)), status="no_show")
    assert credit(client, h1, p1)["no_shows"] == 1


@pytest.mark.parametrize(("body", "status"), [({}, 400), ({"reason": ""}, 400),
                                              ({"reason": "x" * 501}, 400),
                                              ({"reason": None}, 400)])
def test_a_pardon_needs_a_reason(client, admin_headers, missed, body, status):
    (_, p1), _ = missed
    body = assert_error(client.post(f"/patients/{p1}/credit/pardon", headers=admin_headers,
                                    json=body), status, "validation_error")
    assert set(body["errors"]) == {"reason"}


def test_credit_is_for_the_owner_and_admins(client, admin_headers, user_headers, missed):
    (h1, p1), _ = missed
    assert credit(client, admin_headers, p1)["no_shows"] == 2
    assert_error(client.get(f"/patients/{p1}/credit", headers=user_headers), 404,
                 "patient_not_found")
    assert_error(client.post(f"/patients/{p1}/credit/pardon", headers=h1,
                             json={"reason": "please"}), 403, "admin_required")


def test_the_no_show_job_and_the_credit_agree(app, client, admin_headers, factory, owner,
                                              owner_headers):
    pid = add_patient(client, owner_headers, person_number())
    set_policy(client, admin_headers, no_show_limit=1, no_show_suspend_days=5)
    # Booked for a session that ended two days ago, not yet marked by the job.
    factory.registration(db.session.get(Patient, pid),
                         factory.schedule(date=TODAY - dt.timedelta(days=2)))
    upcoming = factory.schedule(date=TODAY + dt.timedelta(days=2))
    assert credit(client, owner_headers, pid)["no_shows"] == 0
    assert book(client, owner_headers, pid, upcoming.id).status_code == 201
    run_no_show_job(app, dt.datetime.now(dt.UTC))
    shown = credit(client, owner_headers, pid)
    assert shown["no_shows"] >= 1 and shown["suspended_until"] is not None
    other = factory.schedule(date=TODAY + dt.timedelta(days=3))
    body = assert_error(book(client, owner_headers, pid, other.id), 403, "booking_suspended")
    assert body["until"] == shown["suspended_until"]
