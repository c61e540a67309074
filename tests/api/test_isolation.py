"""One account can neither see nor change another account's patients and registrations."""
from __future__ import annotations

import pytest

from tests.assertions import assert_error


@pytest.fixture()
def world(factory):
    """User A with a patient and a registration; user B with tokens and a patient of their own."""
    a, b = factory.user(), factory.user()
    schedule = factory.schedule(max_appointments=5)
    patient = factory.patient(a, name="A's child")
    registration = factory.registration(patient, schedule, notes="A's notes")
    b_patient = factory.patient(b)
    return {"a": a, "b": b, "a_headers": factory.headers(a), "b_headers": factory.headers(b),
            "patient": patient, "registration": registration, "schedule": schedule,
            "b_patient": b_patient}


PATIENT_CALLS = [
    ("get", "/patients/{p}", None),
    ("put", "/patients/{p}", {"name": "hijacked"}),
    ("delete", "/patients/{p}", None),
    ("get", "/patients/{p}/registrations", None),
]
REGISTRATION_CALLS = [
    ("get", "/registrations/{r}", None),
    ("put", "/registrations/{r}", {"notes": "hijacked"}),
    ("delete", "/registrations/{r}", None),
    ("put", "/registrations/{r}/cancel", None),
    ("put", "/registrations/{r}/complete", None),
]
USER_CALLS = [
    ("get", "/users/{a}/patients", None),
    ("post", "/users/{a}/patients/search", {"query": "child"}),
    ("get", "/users/{a}/registrations", None),
    ("post", "/users/{a}/registrations/search", {"query": "child"}),
]


def snapshot(client, world):
    """A's view of A's data."""
    headers = world["a_headers"]
    return (
        client.get(f"/patients/{world['patient'].id}", headers=headers).json,
        client.get(f"/registrations/{world['registration'].id}", headers=headers).json,
        client.get(f"/users/{world['a'].id}/registrations", headers=headers).json,
    )


def run(client, world, method, template, body):
    path = template.format(p=world["patient"].id, r=world["registration"].id, a=world["a"].id)
    return getattr(client, method)(path, json=body, headers=world["b_headers"])


@pytest.mark.parametrize("method,template,body", PATIENT_CALLS,
                         ids=["get", "put", "delete", "registrations"])
def test_another_users_patient_is_404(client, world, method, template, body):
    before = snapshot(client, world)
    r = run(client, world, method, template, body)
    assert_error(r, 404, "patient_not_found")
    assert snapshot(client, world) == before


@pytest.mark.parametrize("method,template,body", REGISTRATION_CALLS,
                         ids=["get", "put", "delete", "cancel", "complete"])
def test_another_users_registration_is_404(client, world, method, template, body):
    before = snapshot(client, world)
    r = run(client, world, method, template, body)
    assert_error(r, 404, "registration_not_found")
    assert snapshot(client, world) == before


@pytest.mark.parametrize("method,template,body", USER_CALLS,
                         ids=["patients", "patients-search", "registrations",
                              "registrations-search"])
def test_another_users_lists_are_403(client, world, method, template, body):
    before = snapshot(client, world)
    r = run(client, world, method, template, body)
    assert_error(r, 403, "not_self")
    assert snapshot(client, world) == before


def test_booking_with_another_users_patient_is_404(client, world):
    before = snapshot(client, world)
    r = client.post("/registrations/", headers=world["b_headers"],
                    json={"patient_id": world["patient"].id,
                          "schedule_id": world["schedule"].id})
    assert_error(r, 404, "patient_not_found")
    assert snapshot(client, world) == before


def test_search_shows_no_other_users_registrations(client, world):
    r = client.post("/registrations/search", headers=world["b_headers"],
                    json={"query": "A's"})
    assert r.status_code == 200
    assert r.json["results"] == [] and r.json["count"] == 0


def test_admin_only_lists_stay_closed_to_users(client, world):
    for method, path, body in [("get", "/patients/", None),
                               ("post", "/patients/search", {"query": "A"}),
                               ("get", "/registrations/", None),
                               ("get", "/registrations/status/scheduled", None),
                               ("get", f"/schedules/{world['schedule'].id}/registrations", None)]:
        r = getattr(client, method)(path, json=body, headers=world["b_headers"])
        assert_error(r, 403, "admin_required")


def test_a_still_owns_everything_afterwards(client, world):
    """Every hostile call in a row, then A's data is exactly as it was."""
    before = snapshot(client, world)
    for calls, status, code in [(PATIENT_CALLS, 404, "patient_not_found"),
                                (REGISTRATION_CALLS, 404, "registration_not_found"),
                                (USER_CALLS, 403, "not_self")]:
        for method, template, body in calls:
            assert_error(run(client, world, method, template, body), status, code)
    after = snapshot(client, world)
    assert after == before
    assert after[0]["name"] == "A's child"
    assert (after[1]["notes"], after[1]["status"]) == ("A's notes", "scheduled")
