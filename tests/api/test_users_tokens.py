"""Tokens: refresh, logout, revocation, token types, the 401s and the login rate limit."""
from __future__ import annotations

import datetime as dt

import pytest
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token

from tests.assertions import assert_error
from tests.factories import PASSWORD


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client, username: str, password: str = PASSWORD):
    return client.post("/users/login", json={"username": username, "password": password})


# --- refresh --------------------------------------------------------------------------------

def test_refresh_token_gives_a_working_access_token(client, factory):
    factory.user(username="frank")
    tokens = login(client, "frank").json
    r = client.post("/users/refresh", headers=bearer(tokens["refresh_token"]))
    assert r.status_code == 200, r.json
    assert set(r.json) == {"access_token", "refresh_token"}
    assert decode_token(r.json["access_token"])["type"] == "access"
    assert decode_token(r.json["refresh_token"])["type"] == "refresh"
    me = client.get("/users/me", headers=bearer(r.json["access_token"]))
    assert me.status_code == 200
    assert me.json["username"] == "frank"


def test_refresh_tokens_rotate_and_reuse_revokes_the_family(client, factory):
    factory.user(username="frank")
    first = login(client, "frank").json["refresh_token"]
    second = client.post("/users/refresh", headers=bearer(first)).json["refresh_token"]
    third = client.post("/users/refresh", headers=bearer(second)).json["refresh_token"]
    # The first token is spent: presenting it again is a copy in someone else's hands.
    assert_error(client.post("/users/refresh", headers=bearer(first)), 401, "token_reused")
    # ... so the whole family is revoked, the current token included.
    assert_error(client.post("/users/refresh", headers=bearer(third)), 401, "invalid_token")


def test_another_login_is_another_family(client, factory):
    factory.user(username="frank")
    phone = login(client, "frank").json["refresh_token"]
    laptop = login(client, "frank").json["refresh_token"]
    client.post("/users/refresh", headers=bearer(phone))
    assert_error(client.post("/users/refresh", headers=bearer(phone)), 401, "token_reused")
    assert client.post("/users/refresh", headers=bearer(laptop)).status_code == 200


def test_refresh_after_logout_is_401(client, factory):
    factory.user(username="frank")
    tokens = login(client, "frank").json
    client.post("/users/logout", headers=bearer(tokens["access_token"]))
    assert_error(client.post("/users/refresh", headers=bearer(tokens["refresh_token"])), 401,
                 "invalid_token")


def test_a_refresh_token_without_a_family_is_401(client, factory):
    user = factory.user(username="frank")
    with client.application.app_context():
        legacy = create_refresh_token(identity=user)
    assert_error(client.post("/users/refresh", headers=bearer(legacy)), 401, "invalid_token")


def test_access_token_on_refresh_is_401(client, factory):
    factory.user(username="frank")
    tokens = login(client, "frank").json
    r = client.post("/users/refresh", headers=bearer(tokens["access_token"]))
    assert_error(r, 401, "invalid_token")


def test_refresh_token_on_a_normal_endpoint_is_401(client, factory):
    factory.user(username="frank")
    tokens = login(client, "frank").json
    r = client.get("/users/me", headers=bearer(tokens["refresh_token"]))
    assert_error(r, 401, "invalid_token")


def test_refresh_token_on_an_admin_endpoint_is_401(client, factory, token_for):
    admin = factory.admin()
    r = client.get("/users/", headers=token_for(admin, refresh=True))
    assert_error(r, 401, "invalid_token")


def test_refresh_accepts_a_json_body_and_no_content_type(client, factory, token_for):
    user = factory.user()
    assert client.post("/users/refresh", headers=token_for(user, refresh=True),
                       json={"whatever": 1}).status_code == 200
    assert client.post("/users/refresh", headers=token_for(user, refresh=True),
                       data="").status_code == 200


# --- logout ---------------------------------------------------------------------------------

def test_logout_revokes_access_and_refresh_tokens(client, factory):
    factory.user(username="gina")
    tokens = login(client, "gina").json
    other = login(client, "gina").json
    r = client.post("/users/logout", headers=bearer(tokens["access_token"]))
    assert r.status_code == 204
    assert r.get_data() == b""
    assert_error(client.get("/users/me", headers=bearer(tokens["access_token"])),
                 401, "invalid_token")
    assert_error(client.post("/users/refresh", headers=bearer(tokens["refresh_token"])),
                 401, "invalid_token")
    # Every earlier token of the user goes, not only the one used.
    assert_error(client.get("/users/me", headers=bearer(other["access_token"])),
                 401, "invalid_token")
    again = login(client, "gina").json
    assert client.get("/users/me", headers=bearer(again["access_token"])).status_code == 200


def test_logout_needs_a_token(client):
    assert_error(client.post("/users/logout"), 401, "invalid_token")


def test_logout_does_not_revoke_other_users(client, factory):
    a, b = factory.user(), factory.user()
    hb = factory.headers(b)
    assert client.post("/users/logout", headers=factory.headers(a)).status_code == 204
    assert client.get("/users/me", headers=hb).status_code == 200


# --- tokens in general ----------------------------------------------------------------------

ALL_AUTHENTICATED = [
    ("get", "/users/me"),
    ("put", "/users/me"),
    ("delete", "/users/me"),
    ("post", "/users/me/change_password"),
    ("get", "/users/"),
    ("post", "/users/"),
    ("post", "/users/search"),
    ("post", "/users/grant_admin"),
    ("post", "/users/revoke_admin"),
    ("get", "/users/1"),
    ("put", "/users/1"),
    ("delete", "/users/1"),
    ("post", "/users/1/change_password"),
    ("post", "/users/refresh"),
    ("post", "/users/logout"),
]


@pytest.mark.parametrize("method, path", ALL_AUTHENTICATED,
                         ids=[f"{m.upper()} {p}" for m, p in ALL_AUTHENTICATED])
def test_every_endpoint_but_register_and_login_needs_a_token(client, method, path):
    r = getattr(client, method)(path, json={})
    assert_error(r, 401, "invalid_token")


@pytest.mark.parametrize("header", ["Bearer", "Bearer not.a.jwt", "Basic dXNlcjpwYXNz",
                                    "Bearer a b"],
                         ids=["empty-bearer", "garbage", "basic", "two-parts"])
def test_malformed_authorization_headers_are_401(client, header):
    r = client.get("/users/me", headers={"Authorization": header})
    assert_error(r, 401, "invalid_token")


def test_expired_token_is_401_token_expired(client, factory):
    user = factory.user()
    token = create_access_token(identity=user, expires_delta=dt.timedelta(seconds=-5))
    assert_error(client.get("/users/me", headers=bearer(token)), 401, "token_expired")


def test_token_of_a_deleted_user_is_401(client, factory):
    user = factory.user()
    headers = factory.headers(user)
    assert client.delete("/users/me", headers=headers).status_code == 204
    assert_error(client.get("/users/me", headers=headers), 401, "invalid_token")


# --- rate limits ----------------------------------------------------------------------------

@pytest.fixture()
def limited_app(test_database, app, monkeypatch):
    """An app with rate limits on (the limiter is process-wide: switched off again after)."""
    from app.web.ratelimit import limiter
    from tests.conftest import build_app

    monkeypatch.setattr(limiter, "enabled", limiter.enabled)
    return build_app(test_database, RATELIMIT_ENABLED=True, RATELIMIT_REGISTER="3 per hour")


def test_the_eleventh_failed_login_within_a_minute_is_429(limited_app):
    client = limited_app.test_client()
    attempt = {"username": "ghost", "password": "wrong-password"}
    for _ in range(10):
        assert_error(client.post("/users/login", json=attempt), 401, "invalid_credentials")
    r = client.post("/users/login", json=attempt)
    assert_error(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) > 0
    # Another username from the same address is not slowed down.
    r = client.post("/users/login", json={"username": "someone-else", "password": "x"})
    assert_error(r, 401, "invalid_credentials")


def test_registrations_are_rate_limited_per_address(limited_app):
    client = limited_app.test_client()
    for _ in range(3):
        assert_error(client.post("/users/register", json={}), 400, "validation_error")
    assert_error(client.post("/users/register", json={}), 429, "rate_limited")
