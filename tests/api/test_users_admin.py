"""Admin-only user management: create, read, update and delete any account."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import Patient
from tests.assertions import assert_error
from tests.factories import PASSWORD

USER_FIELDS = {"id", "is_admin", "username", "phone_number", "bio", "doctor_id", "created_at",
               "updated_at"}



def login(client, username: str, password: str = PASSWORD):
    return client.post("/users/login", json={"username": username, "password": password})


NEW_USER = {"username": "newadmin", "phone_number": "13700000001", "password": "password123"}

ADMIN_ONLY = [
    ("get", "/users/", None),
    ("get", "/users", None),
    ("post", "/users/", NEW_USER),
    ("post", "/users/search", {"query": "a"}),
    ("post", "/users/grant_admin", {"user_id": "SELF", "admin_password": PASSWORD}),
    ("post", "/users/revoke_admin", {"user_id": "SELF", "admin_password": PASSWORD}),
    ("get", "/users/SELF", None),
    ("put", "/users/SELF", {"bio": "x"}),
    ("delete", "/users/SELF", None),
]


@pytest.mark.parametrize("method, path, body", ADMIN_ONLY,
                         ids=[f"{m.upper()} {p}" for m, p, _ in ADMIN_ONLY])
def test_admin_endpoints_refuse_plain_users(client, factory, method, path, body):
    user = factory.user()
    other = factory.user()
    path = path.replace("SELF", str(other.id))
    if body and body.get("user_id") == "SELF":
        body = dict(body, user_id=other.id)
    kwargs = {"json": body} if body is not None else {}
    r = getattr(client, method)(path, headers=factory.headers(user), **kwargs)
    assert_error(r, 403, "admin_required")
    # Nothing happened to the other user.
    admin_view = client.get(f"/users/{other.id}", headers=factory.headers(factory.admin()))
    assert admin_view.status_code == 200
    assert admin_view.json["is_admin"] is False
    assert admin_view.json["bio"] is None


# --- POST /users/ ---------------------------------------------------------------------------

def test_admin_creates_an_admin(client, factory):
    admin = factory.admin()
    r = client.post("/users/", headers=factory.headers(admin),
                    json=dict(NEW_USER, is_admin=False, bio="second"))
    assert r.status_code == 201, r.json
    assert set(r.json) == USER_FIELDS
    assert r.json["is_admin"] is True
    assert r.json["bio"] == "second"
    assert "password" not in r.get_data(as_text=True)
    tokens = login(client, "newadmin", "password123").json
    r = client.get("/users/", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert r.status_code == 200


def test_admin_create_validates(client, factory):
    admin = factory.admin()
    r = client.post("/users/", headers=factory.headers(admin),
                    json={"username": "ab", "phone_number": "x", "password": "short"})
    err = assert_error(r, 400, "validation_error")
    assert set(err["errors"]) == {"username", "phone_number", "password"}


def test_admin_create_duplicate_is_409(client, factory):
    admin = factory.admin(username="root")
    r = client.post("/users/", headers=factory.headers(admin), json=dict(NEW_USER, username="ROOT"))
    err = assert_error(r, 409, "duplicate_username")
    assert set(err["errors"]) == {"username"}


# --- GET/PUT/DELETE /users/{id} -------------------------------------------------------------

def test_admin_gets_a_user(client, factory):
    admin = factory.admin()
    user = factory.user(username="uma", bio="b")
    r = client.get(f"/users/{user.id}", headers=factory.headers(admin))
    assert r.status_code == 200, r.json
    assert set(r.json) == USER_FIELDS
    assert (r.json["id"], r.json["username"], r.json["bio"], r.json["is_admin"]) == (
        user.id, "uma", "b", False)
    assert "password" not in r.get_data(as_text=True)
    assert client.get(f"/users/{user.id}/", headers=factory.headers(admin)).status_code == 200


@pytest.mark.parametrize("method", ["get", "put", "delete"])
@pytest.mark.parametrize("path_id, code", [
    ("2147483647", "user_not_found"),
    ("99999999999", "not_found"),
    ("0", "user_not_found"),
], ids=["max-int", "huge", "zero"])
def test_unknown_user_id_is_404(client, factory, method, path_id, code):
    admin = factory.admin()
    kwargs = {"json": {"bio": "x"}} if method == "put" else {}
    r = getattr(client, method)(f"/users/{path_id}", headers=factory.headers(admin), **kwargs)
    assert_error(r, 404, code)


def test_non_numeric_user_id_is_404(client, factory):
    r = client.get("/users/abc", headers=factory.headers(factory.admin()))
    assert_error(r, 404, "not_found")


def test_admin_updates_a_user_ignoring_read_only_fields(client, factory):
    admin = factory.admin()
    user = factory.user(username="vera")
    whole = client.get(f"/users/{user.id}", headers=factory.headers(admin)).json
    whole.update(username="vera2", bio="edited", is_admin=True, id=admin.id,
                 created_at="2000-01-01T00:00:00+00:00", password_hash="x", token_version=9)
    r = client.put(f"/users/{user.id}", headers=factory.headers(admin), json=whole)
    assert r.status_code == 200, r.json
    assert r.json["id"] == user.id
    assert r.json["username"] == "vera2"
    assert r.json["bio"] == "edited"
    assert r.json["is_admin"] is False
    assert not r.json["created_at"].startswith("2000")
    assert login(client, "vera2").status_code == 200


def test_admin_update_validates_and_detects_duplicates(client, factory):
    admin = factory.admin(username="wade")
    user = factory.user()
    headers = factory.headers(admin)
    err = assert_error(client.put(f"/users/{user.id}", headers=headers, json={"bio": "x" * 2001}),
                       400, "validation_error")
    assert set(err["errors"]) == {"bio"}
    err = assert_error(client.put(f"/users/{user.id}", headers=headers,
                                  json={"username": "Wade"}), 409, "duplicate_username")
    assert set(err["errors"]) == {"username"}
    err = assert_error(client.put(f"/users/{user.id}", headers=headers,
                                  json={"phone_number": admin.phone_number}),
                       409, "duplicate_phone_number")
    assert set(err["errors"]) == {"phone_number"}


def test_admin_deletes_a_user_with_their_patients(client, factory, db_session):
    admin = factory.admin()
    user = factory.user(username="xena")
    patient_id = factory.patient(user).id
    headers = factory.headers(admin)
    r = client.delete(f"/users/{user.id}", headers=headers)
    assert r.status_code == 204
    assert r.get_data() == b""
    assert_error(client.get(f"/users/{user.id}", headers=headers), 404, "user_not_found")
    db_session.expire_all()
    assert db_session.scalar(select(Patient).where(Patient.id == patient_id)) is None
    assert_error(login(client, "xena"), 401, "invalid_credentials")


def test_deleting_the_last_admin_is_409(client, factory):
    admin = factory.admin()
    headers = factory.headers(admin)
    assert_error(client.delete(f"/users/{admin.id}", headers=headers), 409, "last_admin")
    assert client.get(f"/users/{admin.id}", headers=headers).status_code == 200


def test_deleting_another_admin_is_fine_while_one_remains(client, factory):
    admin = factory.admin()
    other = factory.admin()
    headers = factory.headers(admin)
    assert client.delete(f"/users/{other.id}", headers=headers).status_code == 204
    assert_error(client.delete(f"/users/{admin.id}", headers=headers), 409, "last_admin")
