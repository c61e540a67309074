"""Linking an account to a doctor (PUT /users/{id} doctor_id) and revoking the link."""
from __future__ import annotations

import datetime as dt

import pytest

from app.extensions import db
from app.models import User
from tests.assertions import assert_error


def link(client, admin_headers, user_id: int, doctor_id):
    return client.put(f"/users/{user_id}", headers=admin_headers, json={"doctor_id": doctor_id})


def stored_doctor_id(user_id: int) -> int | None:
    db.session.expire_all()
    return db.session.get(User, user_id).doctor_id


def test_admin_links_an_account_to_a_doctor(client, factory, admin_headers):
    user, doctor = factory.user(), factory.doctor()
    r = link(client, admin_headers, user.id, doctor.id)
    assert r.status_code == 200, r.json
    assert r.json["doctor_id"] == doctor.id and r.json["id"] == user.id
    assert client.get(f"/users/{user.id}", headers=admin_headers).json["doctor_id"] == doctor.id
    assert client.get("/users/me", headers=factory.headers(user)).json["doctor_id"] == doctor.id


def test_linking_the_same_doctor_again_is_a_no_op(client, factory, admin_headers):
    user, doctor = factory.user(), factory.doctor()
    assert link(client, admin_headers, user.id, doctor.id).status_code == 200
    r = link(client, admin_headers, user.id, doctor.id)
    assert (r.status_code, r.json["doctor_id"]) == (200, doctor.id)


def test_the_whole_user_sent_back_keeps_the_link(client, factory, admin_headers):
    user, doctor = factory.user(), factory.doctor()
    whole = link(client, admin_headers, user.id, doctor.id).json
    whole["bio"] = "cardiologist"
    r = client.put(f"/users/{user.id}", headers=admin_headers, json=whole)
    assert r.status_code == 200, r.json
    assert (r.json["doctor_id"], r.json["bio"]) == (doctor.id, "cardiologist")


def test_null_unlinks(client, factory, admin_headers):
    user, doctor = factory.user(), factory.doctor()
    link(client, admin_headers, user.id, doctor.id)
    r = link(client, admin_headers, user.id, None)
    assert (r.status_code, r.json["doctor_id"]) == (200, None)
    assert stored_doctor_id(user.id) is None
    # Unlinking an unlinked account is fine too.
    assert link(client, admin_headers, user.id, None).status_code == 200


def test_a_link_can_move_to_another_doctor(client, factory, admin_headers):
    user, first, second = factory.user(), factory.doctor(), factory.doctor()
    link(client, admin_headers, user.id, first.id)
    assert link(client, admin_headers, user.id, second.id).json["doctor_id"] == second.id
    # The first doctor is free again for another account.
    other = factory.user()
    assert link(client, admin_headers, other.id, first.id).json["doctor_id"] == first.id


def test_unknown_doctor_is_404(client, factory, admin_headers):
    user = factory.user()
    assert_error(link(client, admin_headers, user.id, 2**31 - 1), 404, "doctor_not_found")
    assert stored_doctor_id(user.id) is None


def test_unknown_user_is_404(client, factory, admin_headers):
    r = link(client, admin_headers, 2**31 - 1, factory.doctor().id)
    assert_error(r, 404, "user_not_found")


def test_a_doctor_linked_to_another_account_is_409(client, factory, admin_headers):
    first, second, doctor = factory.user(), factory.user(), factory.doctor()
    link(client, admin_headers, first.id, doctor.id)
    body = assert_error(link(client, admin_headers, second.id, doctor.id), 409,
                        "doctor_already_linked")
    assert set(body["errors"]) == {"doctor_id"}
    assert stored_doctor_id(second.id) is None
    assert stored_doctor_id(first.id) == doctor.id


@pytest.mark.parametrize("value", ["1", True, 0, -3, 2**31, 1.5, [1], {"id": 1}],
                         ids=["string", "bool", "zero", "negative", "beyond-int", "float",
                              "list", "object"])
def test_invalid_doctor_id_is_400(client, factory, admin_headers, value):
    user = factory.user()
    body = assert_error(link(client, admin_headers, user.id, value), 400, "validation_error")
    assert set(body["errors"]) == {"doctor_id"}
    assert stored_doctor_id(user.id) is None


def test_only_admins_link(client, factory):
    user, doctor = factory.user(), factory.doctor()
    assert_error(client.put(f"/users/{user.id}", headers=factory.headers(user),
                            json={"doctor_id": doctor.id}), 403, "admin_required")
    assert stored_doctor_id(user.id) is None


def test_put_me_ignores_doctor_id(client, factory, admin_headers):
    user, doctor, other_doctor = factory.user(), factory.doctor(), factory.doctor()
    headers = factory.headers(user)
    r = client.put("/users/me", headers=headers, json={"doctor_id": doctor.id, "bio": "hi"})
    assert r.status_code == 200, r.json
    assert (r.json["doctor_id"], r.json["bio"]) == (None, "hi")
    # A linked doctor can neither move nor drop its own link; bad values are ignored too.
    link(client, admin_headers, user.id, doctor.id)
    for value in (other_doctor.id, None, "junk", 2**40):
        r = client.put("/users/me", headers=headers, json={"doctor_id": value})
        assert (r.status_code, r.json["doctor_id"]) == (200, doctor.id), value


def test_deleting_the_doctor_unlinks_the_account(client, factory, admin_headers):
    user, doctor = factory.user(), factory.doctor()
    link(client, admin_headers, user.id, doctor.id)
    assert client.delete(f"/doctors/{doctor.id}?force=true",
                         headers=admin_headers).status_code == 204
    assert client.get("/users/me", headers=factory.headers(user)).json["doctor_id"] is None


def test_swagger_documents_doctor_id_on_user_update(client):
    spec = client.get("/swagger.json").json
    prop = spec["definitions"]["UserUpdate"]["properties"]["doctor_id"]
    assert prop["type"] == "integer" and "Admins only" in prop["description"]
    put = spec["paths"]["/users/{user_id}"]["put"]["responses"]
    assert {"200", "404", "409"} <= set(put)


# --- revoking the link ---------------------------------------------------------------------

def test_unlinking_takes_effect_on_the_next_request(client, factory, admin_headers):
    """Same token before and after: the rights come from the database, not the token."""
    account, doctor, owner = factory.user(), factory.doctor(), factory.user()
    started = factory.schedule(doctor, date=dt.date.today() - dt.timedelta(days=1))
    patient = factory.patient(owner)
    reg = factory.registration(patient, started)
    headers = factory.headers(account)  # issued before the link exists
    calls = [
        ("get", f"/registrations/{reg.id}"),
        ("get", f"/patients/{patient.id}"),
        ("get", f"/schedules/{started.id}/registrations"),
    ]
    refusals = [(404, "registration_not_found"), (404, "patient_not_found"),
                (403, "admin_required")]
    for (method, path), (status, code) in zip(calls, refusals, strict=True):
        assert_error(getattr(client, method)(path, headers=headers), status, code)

    assert link(client, admin_headers, account.id, doctor.id).status_code == 200
    after_link = [getattr(client, m)(p, headers=headers).status_code for m, p in calls]
    assert after_link == [200, 200, 200]

    assert link(client, admin_headers, account.id, None).status_code == 200
    assert_error(client.get(f"/registrations/{reg.id}", headers=headers), 404,
                 "registration_not_found")
    assert_error(client.get(f"/patients/{patient.id}", headers=headers), 404,
                 "patient_not_found")
    assert_error(client.get(f"/schedules/{started.id}/registrations", headers=headers), 403,
                 "admin_required")
    assert_error(client.put(f"/registrations/{reg.id}/complete", headers=headers), 404,
                 "registration_not_found")
    r = client.put(f"/registrations/{reg.id}", headers=headers, json={"status": "no_show"})
    assert_error(r, 404, "registration_not_found")
    assert stored_doctor_id(account.id) is None
    assert client.get(f"/registrations/{reg.id}", headers=admin_headers).json["status"] == \
        "scheduled"


def test_moving_the_link_moves_the_rights(client, factory, admin_headers):
    account, first, second = factory.user(), factory.doctor(), factory.doctor()
    first_schedule, second_schedule = factory.schedule(first), factory.schedule(second)
    headers = factory.headers(account)
    link(client, admin_headers, account.id, first.id)
    assert client.get(f"/schedules/{first_schedule.id}/registrations",
                      headers=headers).status_code == 200
    link(client, admin_headers, account.id, second.id)
    assert_error(client.get(f"/schedules/{first_schedule.id}/registrations", headers=headers),
                 403, "admin_required")
    assert client.get(f"/schedules/{second_schedule.id}/registrations",
                      headers=headers).status_code == 200
