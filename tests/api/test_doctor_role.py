"""The doctor role: an account linked to a doctor works on its own schedules' registrations."""
from __future__ import annotations

import datetime as dt

import pytest

from app.extensions import db
from app.models import Registration, Schedule
from tests.assertions import assert_error

YESTERDAY = dt.date.today() - dt.timedelta(days=1)



class World:
    """Doctor D (linked account `doc`) and doctor E (account `other_doc`), each with a future
    and a started schedule; `owner` has patient `patient` registered on all four."""

    def __init__(self, factory):
        self.factory = factory
        self.d, self.e = factory.doctor(), factory.doctor()
        self.doc, self.other_doc, self.owner = factory.user(), factory.user(), factory.user()
        self.doc.doctor_id, self.other_doc.doctor_id = self.d.id, self.e.id
        db.session.commit()
        self.headers = factory.headers(self.doc)
        self.d_future = factory.schedule(self.d)
        self.d_started = factory.schedule(self.d, date=YESTERDAY)
        self.e_future = factory.schedule(self.e)
        self.e_started = factory.schedule(self.e, date=YESTERDAY)
        self.patient = factory.patient(self.owner)
        self.reg_future = factory.registration(self.patient, self.d_future, notes="owner's")
        self.reg_started = factory.registration(self.patient, self.d_started, notes="owner's")
        self.reg_e = factory.registration(self.patient, self.e_started)

    def started_registration(self, status: str = "scheduled") -> Registration:
        """A fresh registration of a fresh patient on D's started schedule."""
        return self.factory.registration(self.factory.patient(self.owner), self.d_started,
                                         status=status, notes="owner's")


@pytest.fixture()
def w(factory):
    return World(factory)


def status_of(registration_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Registration, registration_id).status


# --- /schedules/{id}/registrations ---------------------------------------------------------

@pytest.mark.parametrize("which", ["d_future", "d_started"])
def test_doctor_lists_its_own_schedules_registrations(client, w, which):
    schedule = getattr(w, which)
    cancelled = w.factory.registration(w.factory.patient(w.owner), schedule, status="cancelled")
    r = client.get(f"/schedules/{schedule.id}/registrations?sort=queue_number",
                   headers=w.headers)
    assert r.status_code == 200, r.json
    assert r.json["count"] == 2
    assert {x["id"] for x in r.json["results"]} >= {cancelled.id}
    assert all(x["schedule_id"] == schedule.id for x in r.json["results"])


@pytest.mark.parametrize("which", ["e_future", "e_started"])
def test_another_doctors_schedule_is_403(client, w, which):
    r = client.get(f"/schedules/{getattr(w, which).id}/registrations", headers=w.headers)
    assert_error(r, 403, "admin_required")


def test_unknown_schedule_is_404_for_everyone(client, w):
    for headers in (w.headers, w.factory.headers(w.owner)):
        assert_error(client.get("/schedules/2147483647/registrations", headers=headers), 404,
                     "schedule_not_found")


# --- patients --------------------------------------------------------------------------------

def test_doctor_reads_the_patients_of_its_registrations(client, w):
    r = client.get(f"/patients/{w.patient.id}", headers=w.headers)
    assert r.status_code == 200, r.json
    assert (r.json["id"], r.json["user_id"]) == (w.patient.id, w.owner.id)


def test_a_cancelled_registration_still_shows_the_patient(client, w):
    patient = w.factory.patient(w.owner)
    w.factory.registration(patient, w.d_future, status="cancelled")
    assert client.get(f"/patients/{patient.id}", headers=w.headers).status_code == 200


def test_patients_outside_its_schedules_are_404(client, w):
    only_e = w.factory.patient(w.owner)
    w.factory.registration(only_e, w.e_future)
    unregistered = w.factory.patient(w.owner)
    for patient in (only_e, unregistered):
        for method, path in [("get", ""), ("put", ""), ("delete", ""), ("get", "/registrations")]:
            r = getattr(client, method)(f"/patients/{patient.id}{path}", headers=w.headers,
                                        json={"name": "x"} if method == "put" else None)
            assert_error(r, 404, "patient_not_found")


@pytest.mark.parametrize("method,path,body", [
    ("put", "", {"name": "changed"}),
    ("delete", "", None),
    ("get", "/registrations", None),
], ids=["put", "delete", "registrations"])
def test_doctor_cannot_change_those_patients(client, w, method, path, body):
    r = getattr(client, method)(f"/patients/{w.patient.id}{path}", headers=w.headers, json=body)
    assert_error(r, 403, "owner_required")
    owner_view = client.get(f"/patients/{w.patient.id}", headers=w.factory.headers(w.owner))
    assert owner_view.json["name"] == w.patient.name


# --- reading registrations --------------------------------------------------------------------

def test_doctor_reads_its_schedules_registrations(client, w):
    for reg in (w.reg_future, w.reg_started):
        r = client.get(f"/registrations/{reg.id}", headers=w.headers)
        assert (r.status_code, r.json["id"]) == (200, reg.id)


def test_other_doctors_registrations_are_404(client, w):
    for method, path, body in [("get", "", None), ("put", "", {"status": "no_show"}),
                               ("put", "/complete", None), ("put", "/cancel", None),
                               ("delete", "", None)]:
        r = getattr(client, method)(f"/registrations/{w.reg_e.id}{path}", headers=w.headers,
                                    json=body)
        assert_error(r, 404, "registration_not_found")
    assert status_of(w.reg_e.id) == "scheduled"


def test_search_shows_only_the_doctors_own_patients(client, w):
    r = client.post("/registrations/search", headers=w.headers, json={"query": "owner"})
    assert (r.status_code, r.json["count"]) == (200, 0)


# --- completing / no_show ---------------------------------------------------------------------

def test_doctor_completes_after_the_start(client, w):
    before = db.session.get(Schedule, w.d_started.id).available_slots
    r = client.put(f"/registrations/{w.reg_started.id}/complete", headers=w.headers)
    assert (r.status_code, r.json["status"]) == (200, "completed")
    db.session.expire_all()
    assert db.session.get(Schedule, w.d_started.id).available_slots == before
    assert_error(client.put(f"/registrations/{w.reg_started.id}/complete", headers=w.headers),
                 409, "invalid_status_transition")


def test_doctor_cannot_complete_before_the_start(client, w):
    assert_error(client.put(f"/registrations/{w.reg_future.id}/complete", headers=w.headers),
                 409, "schedule_not_started")
    r = client.put(f"/registrations/{w.reg_future.id}", headers=w.headers,
                   json={"status": "no_show"})
    assert_error(r, 409, "schedule_not_started")
    assert status_of(w.reg_future.id) == "scheduled"


def test_admin_completes_before_the_start(client, w):
    admin = w.factory.headers(w.factory.admin())
    r = client.put(f"/registrations/{w.reg_future.id}/complete", headers=admin)
    assert (r.status_code, r.json["status"]) == (200, "completed")


@pytest.mark.parametrize("target", ["completed", "no_show"])
def test_doctor_sets_status_by_put_and_other_fields_are_ignored(client, w, target):
    reg = w.started_registration()
    r = client.put(f"/registrations/{reg.id}", headers=w.headers,
                   json={"status": target, "notes": "doctor's", "schedule_id": w.e_future.id,
                         "queue_number": 99})
    assert r.status_code == 200, r.json
    assert (r.json["status"], r.json["notes"]) == (target, "owner's")
    assert (r.json["schedule_id"], r.json["queue_number"]) == (reg.schedule_id,
                                                               reg.queue_number)


@pytest.mark.parametrize("current,target,status,code", [
    ("scheduled", "cancelled", 403, "status_not_allowed"),
    ("cancelled", "scheduled", 403, "status_not_allowed"),
    ("completed", "no_show", 409, "invalid_status_transition"),
    ("no_show", "completed", 409, "invalid_status_transition"),
    ("cancelled", "completed", 409, "invalid_status_transition"),
], ids=["cancel", "reinstate", "completed-to-no_show", "no_show-to-completed",
        "cancelled-to-completed"])
def test_doctor_status_changes_outside_its_rights(client, w, current, target, status, code):
    reg = w.started_registration(current)
    r = client.put(f"/registrations/{reg.id}", headers=w.headers, json={"status": target})
    assert_error(r, status, code)
    assert status_of(reg.id) == current


@pytest.mark.parametrize("body", [{"status": "scheduled"}, {"notes": "doctor's"}, {}],
                         ids=["same-status", "notes-only", "empty"])
def test_doctor_put_without_a_status_change_changes_nothing(client, w, body):
    r = client.put(f"/registrations/{w.reg_started.id}", headers=w.headers, json=body)
    assert r.status_code == 200, r.json
    assert (r.json["status"], r.json["notes"]) == ("scheduled", "owner's")


def test_doctor_put_rejects_an_unknown_status(client, w):
    r = client.put(f"/registrations/{w.reg_started.id}", headers=w.headers,
                   json={"status": "healed"})
    assert set(assert_error(r, 400, "validation_error")["errors"]) == {"status"}


@pytest.mark.parametrize("method,path", [("put", "/cancel"), ("delete", "")],
                         ids=["cancel", "delete"])
def test_doctor_cannot_cancel_or_delete_others_registrations(client, w, method, path):
    r = getattr(client, method)(f"/registrations/{w.reg_future.id}{path}", headers=w.headers)
    assert_error(r, 403, "owner_required")
    assert status_of(w.reg_future.id) == "scheduled"


def test_owner_cannot_complete_or_set_status(client, w):
    headers = w.factory.headers(w.owner)
    assert_error(client.put(f"/registrations/{w.reg_started.id}/complete", headers=headers),
                 403, "admin_required")
    r = client.put(f"/registrations/{w.reg_started.id}", headers=headers,
                   json={"status": "no_show", "notes": "mine"})
    assert (r.status_code, r.json["status"], r.json["notes"]) == (200, "scheduled", "mine")


# --- a doctor is also a user -------------------------------------------------------------------

def test_doctor_books_and_manages_its_own_patients(client, w):
    own = w.factory.patient(w.doc)
    r = client.post("/registrations/", headers=w.headers,
                    json={"patient_id": own.id, "schedule_id": w.d_future.id})
    assert r.status_code == 201, r.json
    reg_id = r.json["id"]
    r = client.put(f"/registrations/{reg_id}", headers=w.headers, json={"notes": "mine"})
    assert (r.status_code, r.json["notes"]) == (200, "mine")
    assert client.put(f"/registrations/{reg_id}/cancel", headers=w.headers).status_code == 200


def test_doctor_cannot_book_a_patient_it_only_treats(client, w):
    r = client.post("/registrations/", headers=w.headers,
                    json={"patient_id": w.patient.id, "schedule_id": w.e_future.id})
    assert_error(r, 403, "owner_required")


def test_doctor_who_owns_the_patient_sets_notes_and_status(client, w):
    own = w.factory.patient(w.doc)
    reg = w.factory.registration(own, w.d_started)
    r = client.put(f"/registrations/{reg.id}", headers=w.headers,
                   json={"status": "no_show", "notes": "did not come"})
    assert (r.status_code, r.json["status"], r.json["notes"]) == (200, "no_show",
                                                                  "did not come")


def test_doctor_reads_the_catalogue_and_not_admin_lists(client, w):
    for path in ("/doctors/", f"/doctors/{w.d.id}", "/schedules/", "/departments/"):
        assert client.get(path, headers=w.headers).status_code == 200, path
    for path in ("/registrations/", "/patients/", "/users/", "/registrations/status/scheduled",
                 "/stats/overview"):
        assert_error(client.get(path, headers=w.headers), 403, "admin_required")
    r = client.put(f"/schedules/{w.d_future.id}", headers=w.headers, json={"max_appointments": 5})
    assert_error(r, 403, "admin_required")
