"""Password changes: /users/me/change_password and /users/{id}/change_password."""
from __future__ import annotations

import pytest

from tests.assertions import assert_error
from tests.factories import PASSWORD


def login(client, username: str, password: str = PASSWORD):
    return client.post("/users/login", json={"username": username, "password": password})


def assert_no_secrets(response) -> None:
    text = response.get_data(as_text=True)
    assert "password" not in text
    assert "token_version" not in text
    assert "pbkdf2" not in text and "scrypt" not in text


# --- change password ------------------------------------------------------------------------

def test_change_own_password(client, factory):
    factory.user(username="paul")
    tokens = login(client, "paul").json
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    r = client.post("/users/me/change_password", headers=headers,
                    json={"old_password": PASSWORD, "new_password": "brand-new-pass"})
    assert r.status_code == 200, r.json
    assert r.json["username"] == "paul"
    assert_no_secrets(r)
    assert_error(client.get("/users/me", headers=headers), 401, "invalid_token")
    assert_error(client.post("/users/refresh",
                             headers={"Authorization": f"Bearer {tokens['refresh_token']}"}),
                 401, "invalid_token")
    assert_error(login(client, "paul"), 401, "invalid_credentials")
    fresh = login(client, "paul", "brand-new-pass")
    assert fresh.status_code == 200
    assert client.get("/users/me", headers={
        "Authorization": f"Bearer {fresh.json['access_token']}"}).status_code == 200


def test_change_own_password_with_a_wrong_old_password_is_400(client, factory):
    user = factory.user(username="quinn")
    headers = factory.headers(user)
    r = client.post("/users/me/change_password", headers=headers,
                    json={"old_password": "wrong-password", "new_password": "brand-new-pass"})
    err = assert_error(r, 400, "wrong_password")
    assert set(err["errors"]) == {"old_password"}
    # Nothing changed: the token still works and the old password still logs in.
    assert client.get("/users/me", headers=headers).status_code == 200
    assert login(client, "quinn").status_code == 200


@pytest.mark.parametrize("body, field", [
    ({"new_password": "brand-new-pass"}, "old_password"),
    ({"old_password": PASSWORD}, "new_password"),
    ({"old_password": PASSWORD, "new_password": "short"}, "new_password"),
    ({"old_password": PASSWORD, "new_password": 12345678}, "new_password"),
    ({"old_password": None, "new_password": "brand-new-pass"}, "old_password"),
], ids=["no-old", "no-new", "new-short", "new-int", "old-null"])
def test_change_own_password_validation(client, factory, body, field):
    user = factory.user()
    r = client.post("/users/me/change_password", headers=factory.headers(user), json=body)
    err = assert_error(r, 400, "validation_error")
    assert set(err["errors"]) == {field}


def test_change_password_by_id_on_oneself_needs_the_old_password(client, factory):
    user = factory.user(username="rita")
    headers = factory.headers(user)
    r = client.post(f"/users/{user.id}/change_password", headers=headers,
                    json={"new_password": "brand-new-pass"})
    err = assert_error(r, 400, "validation_error")
    assert set(err["errors"]) == {"old_password"}
    r = client.post(f"/users/{user.id}/change_password", headers=headers,
                    json={"new_password": "brand-new-pass", "old_password": "wrong-one"})
    assert_error(r, 400, "wrong_password")
    r = client.post(f"/users/{user.id}/change_password", headers=headers,
                    json={"new_password": "brand-new-pass", "old_password": PASSWORD})
    assert r.status_code == 200, r.json
    assert login(client, "rita", "brand-new-pass").status_code == 200


def test_admin_changing_own_password_by_id_also_needs_the_old_one(client, factory):
    admin = factory.admin()
    r = client.post(f"/users/{admin.id}/change_password", headers=factory.headers(admin),
                    json={"new_password": "brand-new-pass"})
    assert_error(r, 400, "validation_error")


def test_admin_changes_another_users_password_without_the_old_one(client, factory):
    admin = factory.admin()
    admin_headers = factory.headers(admin)
    factory.user(username="sam")
    sam_tokens = login(client, "sam").json
    sam_id = sam_tokens["user"]["id"]
    r = client.post(f"/users/{sam_id}/change_password", headers=admin_headers,
                    json={"new_password": "set-by-admin"})
    assert r.status_code == 200, r.json
    assert r.json["id"] == sam_id
    assert_no_secrets(r)
    assert_error(client.get("/users/me", headers={
        "Authorization": f"Bearer {sam_tokens['access_token']}"}), 401, "invalid_token")
    assert_error(login(client, "sam"), 401, "invalid_credentials")
    assert login(client, "sam", "set-by-admin").status_code == 200
    # The admin's own tokens are unaffected.
    assert client.get("/users/me", headers=admin_headers).status_code == 200


def test_non_admin_cannot_change_another_users_password(client, factory):
    user = factory.user()
    factory.user(username="tina")
    victim_id = login(client, "tina").json["user"]["id"]
    r = client.post(f"/users/{victim_id}/change_password", headers=factory.headers(user),
                    json={"new_password": "brand-new-pass", "old_password": PASSWORD})
    assert_error(r, 403, "not_self")
    assert login(client, "tina").status_code == 200


@pytest.mark.parametrize("as_admin", [False, True], ids=["user", "admin"])
@pytest.mark.parametrize("path_id, code", [("2147483647", "user_not_found"),
                                            ("99999999999", "not_found")],
                         ids=["max-int", "huge"])
def test_change_password_of_an_unknown_user_is_404(client, factory, as_admin, path_id, code):
    caller = factory.admin() if as_admin else factory.user()
    r = client.post(f"/users/{path_id}/change_password", headers=factory.headers(caller),
                    json={"new_password": "brand-new-pass"})
    assert_error(r, 404, code)
