"""Granting and revoking admin rights, and the last-admin rule."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import User
from tests.assertions import assert_error
from tests.factories import PASSWORD

# --- grant / revoke -------------------------------------------------------------------------

def test_grant_admin(client, factory):
    admin = factory.admin()
    user = factory.user()
    user_headers = factory.headers(user)
    assert_error(client.get("/users/", headers=user_headers), 403, "admin_required")
    r = client.post("/users/grant_admin", headers=factory.headers(admin),
                    json={"user_id": user.id, "admin_password": PASSWORD})
    assert r.status_code == 200, r.json
    assert r.json["id"] == user.id
    assert r.json["is_admin"] is True
    # Rights are read from the database: the token issued before the grant now works.
    assert client.get("/users/", headers=user_headers).status_code == 200


def test_grant_admin_is_idempotent(client, factory):
    admin = factory.admin()
    other = factory.admin()
    r = client.post("/users/grant_admin", headers=factory.headers(admin),
                    json={"user_id": other.id, "admin_password": PASSWORD})
    assert r.status_code == 200, r.json
    assert r.json["is_admin"] is True


@pytest.mark.parametrize("endpoint", ["grant_admin", "revoke_admin"])
def test_wrong_admin_password_is_403(client, factory, endpoint):
    admin = factory.admin()
    target = factory.admin() if endpoint == "revoke_admin" else factory.user()
    before = target.is_admin
    r = client.post(f"/users/{endpoint}", headers=factory.headers(admin),
                    json={"user_id": target.id, "admin_password": "not-my-password"})
    assert_error(r, 403, "wrong_admin_password")
    # The token stays valid (a step-up failure is not a 401) and nothing changed.
    r = client.get(f"/users/{target.id}", headers=factory.headers(admin))
    assert r.status_code == 200
    assert r.json["is_admin"] is before


@pytest.mark.parametrize("endpoint", ["grant_admin", "revoke_admin"])
def test_admin_password_is_the_acting_admins_own(client, factory, endpoint):
    admin = factory.admin()
    target = factory.admin(password="targets-password")
    if endpoint == "grant_admin":
        target = factory.user(password="targets-password")
    r = client.post(f"/users/{endpoint}", headers=factory.headers(admin),
                    json={"user_id": target.id, "admin_password": "targets-password"})
    assert_error(r, 403, "wrong_admin_password")


@pytest.mark.parametrize("endpoint", ["grant_admin", "revoke_admin"])
@pytest.mark.parametrize("user_id", [2147483647, 99999999999, 10**30],
                         ids=["max-int", "huge", "beyond-bigint"])
def test_grant_or_revoke_for_an_unknown_user_is_404(client, factory, endpoint, user_id):
    admin = factory.admin()
    r = client.post(f"/users/{endpoint}", headers=factory.headers(admin),
                    json={"user_id": user_id, "admin_password": PASSWORD})
    assert_error(r, 404, "user_not_found")


@pytest.mark.parametrize("endpoint", ["grant_admin", "revoke_admin"])
@pytest.mark.parametrize("body, fields", [
    ({"admin_password": PASSWORD}, {"user_id"}),
    ({"user_id": 1}, {"admin_password"}),
    ({"user_id": "1", "admin_password": PASSWORD}, {"user_id"}),
    ({"user_id": True, "admin_password": PASSWORD}, {"user_id"}),
    ({"user_id": 1.5, "admin_password": PASSWORD}, {"user_id"}),
    ({"user_id": 0, "admin_password": PASSWORD}, {"user_id"}),
    ({"user_id": 1, "admin_password": 12345678}, {"admin_password"}),
    ({}, {"user_id", "admin_password"}),
], ids=["no-user-id", "no-password", "id-string", "id-bool", "id-float", "id-zero",
        "password-int", "empty"])
def test_grant_or_revoke_validation(client, factory, endpoint, body, fields):
    admin = factory.admin()
    r = client.post(f"/users/{endpoint}", headers=factory.headers(admin), json=body)
    err = assert_error(r, 400, "validation_error")
    assert set(err["errors"]) == fields


def test_revoke_admin_takes_effect_on_existing_tokens(client, factory):
    admin = factory.admin()
    other = factory.admin()
    other_headers = factory.headers(other)
    assert client.get("/users/", headers=other_headers).status_code == 200
    r = client.post("/users/revoke_admin", headers=factory.headers(admin),
                    json={"user_id": other.id, "admin_password": PASSWORD})
    assert r.status_code == 200, r.json
    assert r.json["is_admin"] is False
    assert_error(client.get("/users/", headers=other_headers), 403, "admin_required")
    assert_error(client.get(f"/users/{admin.id}", headers=other_headers), 403, "admin_required")
    # Still a valid user.
    assert client.get("/users/me", headers=other_headers).json["is_admin"] is False


def test_revoking_the_last_admin_is_409(client, factory):
    admin = factory.admin()
    headers = factory.headers(admin)
    r = client.post("/users/revoke_admin", headers=headers,
                    json={"user_id": admin.id, "admin_password": PASSWORD})
    assert_error(r, 409, "last_admin")
    assert client.get("/users/", headers=headers).status_code == 200


def test_an_admin_may_revoke_itself_while_another_remains(client, factory):
    admin = factory.admin()
    factory.admin()
    headers = factory.headers(admin)
    r = client.post("/users/revoke_admin", headers=headers,
                    json={"user_id": admin.id, "admin_password": PASSWORD})
    assert r.status_code == 200, r.json
    assert r.json["is_admin"] is False
    assert_error(client.get("/users/", headers=headers), 403, "admin_required")


def test_revoking_a_plain_user_leaves_them_plain(client, factory):
    admin = factory.admin()
    user = factory.user()
    r = client.post("/users/revoke_admin", headers=factory.headers(admin),
                    json={"user_id": user.id, "admin_password": PASSWORD})
    assert r.status_code == 200, r.json
    assert r.json["is_admin"] is False


def test_the_admin_count_never_reaches_zero(client, factory, db_session):
    a, b = factory.admin(), factory.admin()
    ha, hb = factory.headers(a), factory.headers(b)
    assert client.post("/users/revoke_admin", headers=ha,
                       json={"user_id": b.id, "admin_password": PASSWORD}).status_code == 200
    # b lost its rights, so it cannot revoke a; a cannot revoke itself.
    assert_error(client.post("/users/revoke_admin", headers=hb,
                             json={"user_id": a.id, "admin_password": PASSWORD}),
                 403, "admin_required")
    assert_error(client.post("/users/revoke_admin", headers=ha,
                             json={"user_id": a.id, "admin_password": PASSWORD}),
                 409, "last_admin")
    db_session.expire_all()
    assert db_session.scalars(select(User.id).where(User.is_admin.is_(True))).all() == [a.id]
