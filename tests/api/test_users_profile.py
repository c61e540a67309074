"""The caller's own account: GET, PUT and DELETE /users/me."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.models import Patient, Registration, User
from tests.assertions import assert_error
from tests.factories import PASSWORD

USER_FIELDS = {"id", "is_admin", "username", "phone_number", "bio", "doctor_id", "created_at",
               "updated_at"}



def login(client, username: str, password: str = PASSWORD):
    return client.post("/users/login", json={"username": username, "password": password})


def assert_no_secrets(response) -> None:
    text = response.get_data(as_text=True)
    assert "password" not in text
    assert "token_version" not in text
    assert "pbkdf2" not in text and "scrypt" not in text


# --- GET /users/me --------------------------------------------------------------------------

def test_me_returns_the_caller(client, factory):
    user = factory.user(username="hana", bio="about me")
    r = client.get("/users/me", headers=factory.headers(user))
    assert r.status_code == 200, r.json
    assert set(r.json) == USER_FIELDS
    assert r.json["id"] == user.id
    assert r.json["username"] == "hana"
    assert r.json["bio"] == "about me"
    assert r.json["is_admin"] is False
    assert_no_secrets(r)


def test_me_trailing_slash_is_the_same_resource(client, factory):
    user = factory.user()
    r = client.get("/users/me/", headers=factory.headers(user))
    assert r.status_code == 200, r.json
    assert r.json["id"] == user.id


# --- PUT /users/me --------------------------------------------------------------------------

def test_put_me_is_partial(client, factory):
    user = factory.user(username="ivan", bio="old")
    before = client.get("/users/me", headers=factory.headers(user)).json
    r = client.put("/users/me", headers=factory.headers(user), json={"bio": "new"})
    assert r.status_code == 200, r.json
    assert r.json["bio"] == "new"
    assert r.json["username"] == "ivan"
    assert r.json["phone_number"] == before["phone_number"]
    assert r.json["created_at"] == before["created_at"]
    updated = dt.datetime.fromisoformat(r.json["updated_at"])
    assert updated > dt.datetime.fromisoformat(before["updated_at"])
    assert_no_secrets(r)
    assert client.get("/users/me", headers=factory.headers(user)).json["bio"] == "new"


def test_put_me_changes_every_writable_field(client, factory):
    user = factory.user()
    r = client.put("/users/me", headers=factory.headers(user),
                   json={"username": "新名字", "phone_number": "+86 139 1111 2222", "bio": None})
    assert r.status_code == 200, r.json
    assert (r.json["username"], r.json["phone_number"], r.json["bio"]) == (
        "新名字", "+86 139 1111 2222", None)
    assert login(client, "新名字").status_code == 200


def test_put_me_with_the_whole_object_ignores_read_only_fields(client, factory):
    user = factory.user(username="judy")
    other = factory.user()
    headers = factory.headers(user)
    whole = client.get("/users/me", headers=headers).json
    whole.update(
        id=other.id, is_admin=True, created_at="2000-01-01T00:00:00+00:00",
        updated_at="2000-01-01T00:00:00+00:00", password_hash="x", password="hijacked1",
        token_version=0, doctor_id=12345, bio="sent back whole",
    )
    r = client.put("/users/me", headers=headers, json=whole)
    assert r.status_code == 200, r.json
    assert r.json["id"] == user.id
    assert r.json["is_admin"] is False
    assert r.json["doctor_id"] is None
    assert r.json["bio"] == "sent back whole"
    assert not r.json["created_at"].startswith("2000")
    # Not escalated: admin endpoints still refuse the caller, the token still works.
    assert_error(client.get("/users/", headers=headers), 403, "admin_required")
    assert client.get("/users/me", headers=headers).json["is_admin"] is False
    # The password was not changed either.
    assert login(client, "judy").status_code == 200
    assert_error(login(client, "judy", "hijacked1"), 401, "invalid_credentials")
    # The other user is untouched.
    assert client.get(f"/users/{other.id}", headers=factory.headers(factory.admin())
                      ).json["bio"] is None


@pytest.mark.parametrize("body, field", [
    ({"username": "ab"}, "username"),
    ({"username": "a" * 65}, "username"),
    ({"username": "bad name"}, "username"),
    ({"username": 123}, "username"),
    ({"username": None}, "username"),
    ({"phone_number": "12"}, "phone_number"),
    ({"phone_number": "phone-number"}, "phone_number"),
    ({"phone_number": None}, "phone_number"),
    ({"bio": "x" * 2001}, "bio"),
    ({"bio": ["x"]}, "bio"),
], ids=["username-short", "username-long", "username-space", "username-int", "username-null",
        "phone-short", "phone-letters", "phone-null", "bio-long", "bio-list"])
def test_put_me_rejects_invalid_fields(client, factory, body, field):
    user = factory.user(username="kate")
    err = assert_error(client.put("/users/me", headers=factory.headers(user), json=body),
                       400, "validation_error")
    assert set(err["errors"]) == {field}
    assert client.get("/users/me", headers=factory.headers(user)).json["username"] == "kate"


def test_put_me_needs_a_json_object(client, factory):
    user = factory.user()
    assert_error(client.put("/users/me", headers=factory.headers(user), json=[1]),
                 400, "invalid_json")


def test_put_me_empty_object_changes_nothing(client, factory):
    user = factory.user(username="liam")
    r = client.put("/users/me", headers=factory.headers(user), json={})
    assert r.status_code == 200, r.json
    assert r.json["username"] == "liam"


def test_put_me_duplicate_username_is_409_case_insensitively(client, factory):
    factory.user(username="mona")
    user = factory.user()
    r = client.put("/users/me", headers=factory.headers(user), json={"username": "MONA"})
    err = assert_error(r, 409, "duplicate_username")
    assert set(err["errors"]) == {"username"}


def test_put_me_duplicate_phone_is_409(client, factory):
    other = factory.user()
    user = factory.user()
    r = client.put("/users/me", headers=factory.headers(user),
                   json={"phone_number": other.phone_number})
    err = assert_error(r, 409, "duplicate_phone_number")
    assert set(err["errors"]) == {"phone_number"}


def test_put_me_may_keep_or_recase_its_own_username(client, factory):
    user = factory.user(username="nina")
    headers = factory.headers(user)
    r = client.put("/users/me", headers=headers,
                   json={"username": "nina", "phone_number": user.phone_number})
    assert r.status_code == 200, r.json
    r = client.put("/users/me", headers=headers, json={"username": "NINA"})
    assert r.status_code == 200, r.json
    assert r.json["username"] == "NINA"


# --- DELETE /users/me -----------------------------------------------------------------------

def test_delete_me_removes_the_account_its_patients_and_registrations(client, factory,
                                                                      db_session):
    user = factory.user(username="oscar")
    patient = factory.patient(user)
    registration = factory.registration(patient, factory.schedule())
    ids = (user.id, patient.id, registration.id)
    headers = factory.headers(user)
    r = client.delete("/users/me", headers=headers)
    assert r.status_code == 204
    assert r.get_data() == b""
    db_session.expire_all()
    assert db_session.get(User, ids[0]) is None
    assert db_session.scalar(select(Patient).where(Patient.id == ids[1])) is None
    assert db_session.scalar(select(Registration).where(Registration.id == ids[2])) is None
    assert_error(client.get("/users/me", headers=headers), 401, "invalid_token")
    assert_error(login(client, "oscar"), 401, "invalid_credentials")


def test_delete_me_as_the_last_admin_is_409(client, factory):
    admin = factory.admin()
    headers = factory.headers(admin)
    assert_error(client.delete("/users/me", headers=headers), 409, "last_admin")
    assert client.get("/users/me", headers=headers).status_code == 200


def test_delete_me_as_one_of_two_admins(client, factory):
    admin = factory.admin()
    other = factory.admin()
    assert client.delete("/users/me", headers=factory.headers(admin)).status_code == 204
    # Now the other one is the last.
    assert_error(client.delete("/users/me", headers=factory.headers(other)), 409, "last_admin")
