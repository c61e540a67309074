"""The error shape with TESTING and DEBUG off, as in production.

flask-restx handles exceptions differently when the app is not in testing or debug mode (it
swallowed Flask-JWT-Extended's exceptions into 500s), so these run on an app built with
TESTING=False, inside their own rolled-back transaction.
"""
from __future__ import annotations

import base64
import datetime as dt
import json

import jwt as pyjwt
import pytest
from flask_jwt_extended import create_access_token, create_refresh_token

from app.services import users as user_service
from tests.assertions import assert_error as assert_shared_error
from tests.conftest import build_app, rolled_back_transaction

SECRET_WORDS = ("Traceback", "SELECT", "sqlalchemy", "psycopg2", "File \"", "RuntimeError",
                "hunter2-secret")


@pytest.fixture(scope="module")
def prod_app(app, test_database):
    """An app with TESTING off (the session `app` fixture has already migrated the schema)."""
    application = build_app(test_database, TESTING=False, DEBUG=False)
    assert application.testing is False and application.debug is False

    @application.route("/_boom")
    def _boom():
        raise RuntimeError("SELECT password_hash FROM users -- hunter2-secret")

    return application


@pytest.fixture()
def prod(prod_app):
    """The production-mode app inside one transaction that is rolled back afterwards."""
    with rolled_back_transaction(prod_app):
        yield prod_app


@pytest.fixture()
def prod_client(prod):
    return prod.test_client()


@pytest.fixture()
def user(prod):
    return user_service.create_user(username="produser", phone_number="13600000001",
                                    password="password123")


@pytest.fixture()
def admin(prod):
    return user_service.create_user(username="prodadmin", phone_number="13600000002",
                                    password="password123", is_admin=True)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(response, status: int, code: str) -> dict:
    """The contract's error shape (tests/assertions.py), and no internals in production."""
    body = assert_shared_error(response, status, code)
    text = response.get_data(as_text=True)
    for word in SECRET_WORDS:
        assert word not in text
    return body


def resign(token: str, key: str, algorithm: str = "HS256") -> str:
    """The same claims under another key."""
    claims = pyjwt.decode(token, options={"verify_signature": False})
    return pyjwt.encode(claims, key, algorithm=algorithm)


def unsigned(token: str) -> str:
    """The same claims with alg=none and no signature."""
    claims = pyjwt.decode(token, options={"verify_signature": False})

    def part(obj) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


PROTECTED = [("get", "/users/me"), ("get", "/users/"), ("post", "/users/logout"),
             ("post", "/users/1/change_password")]


@pytest.mark.parametrize("method, path", PROTECTED, ids=[p for _, p in PROTECTED])
def test_missing_token_is_401(prod_client, method, path):
    assert_error(getattr(prod_client, method)(path), 401, "invalid_token")


@pytest.mark.parametrize("method, path", PROTECTED, ids=[p for _, p in PROTECTED])
def test_expired_token_is_401(prod_client, user, method, path):
    token = create_access_token(identity=user, expires_delta=dt.timedelta(seconds=-10))
    assert_error(getattr(prod_client, method)(path, headers=bearer(token)), 401,
                 "token_expired")


def test_expired_refresh_token_is_401(prod_client, user):
    token = create_refresh_token(identity=user, expires_delta=dt.timedelta(seconds=-10))
    assert_error(prod_client.post("/users/refresh", headers=bearer(token)), 401, "token_expired")


@pytest.mark.parametrize("method, path", PROTECTED, ids=[p for _, p in PROTECTED])
def test_token_signed_with_another_key_is_401(prod_client, user, method, path):
    token = resign(create_access_token(identity=user), "some-other-key-of-sufficient-length!!")
    assert_error(getattr(prod_client, method)(path, headers=bearer(token)), 401,
                 "invalid_token")


@pytest.mark.parametrize("method, path", PROTECTED, ids=[p for _, p in PROTECTED])
def test_alg_none_token_is_401(prod_client, user, method, path):
    token = unsigned(create_access_token(identity=user))
    assert_error(getattr(prod_client, method)(path, headers=bearer(token)), 401,
                 "invalid_token")


def test_other_algorithm_is_401(prod_client, user, prod):
    token = resign(create_access_token(identity=user), prod.config["JWT_SECRET_KEY"], "HS512")
    assert_error(prod_client.get("/users/me", headers=bearer(token)), 401, "invalid_token")


@pytest.mark.parametrize("header", ["Bearer garbage", "Bearer a.b.c", "Bearer", "Token abc"],
                         ids=["garbage", "three-parts", "empty", "other-scheme"])
def test_malformed_tokens_are_401(prod_client, header):
    r = prod_client.get("/users/me", headers={"Authorization": header})
    assert_error(r, 401, "invalid_token")


def test_revoked_tokens_are_401(prod_client, user):
    access = create_access_token(identity=user)
    refresh = create_refresh_token(identity=user)
    assert prod_client.get("/users/me", headers=bearer(access)).status_code == 200
    assert prod_client.post("/users/logout", headers=bearer(access)).status_code == 204
    assert_error(prod_client.get("/users/me", headers=bearer(access)), 401, "invalid_token")
    assert_error(prod_client.post("/users/refresh", headers=bearer(refresh)), 401,
                 "invalid_token")


def test_wrong_token_type_is_401(prod_client, user):
    assert_error(prod_client.get("/users/me",
                                 headers=bearer(create_refresh_token(identity=user))),
                 401, "invalid_token")
    assert_error(prod_client.post("/users/refresh",
                                  headers=bearer(create_access_token(identity=user))),
                 401, "invalid_token")


def test_token_of_a_deleted_user_is_401(prod_client, user):
    token = create_access_token(identity=user)
    assert prod_client.delete("/users/me", headers=bearer(token)).status_code == 204
    assert_error(prod_client.get("/users/me", headers=bearer(token)), 401, "invalid_token")


@pytest.mark.parametrize("sub", ["not-a-number", "0", "99999999999", "-5"])
def test_token_for_an_impossible_subject_is_401(prod_client, prod, sub):
    claims = {"sub": sub, "type": "access", "fresh": False, "jti": "x", "ver": 0,
              "iat": 1, "nbf": 1, "exp": 4102444800}
    token = pyjwt.encode(claims, prod.config["JWT_SECRET_KEY"], algorithm="HS256")
    assert_error(prod_client.get("/users/me", headers=bearer(token)), 401, "invalid_token")


def test_valid_token_works(prod_client, user, admin):
    r = prod_client.get("/users/me", headers=bearer(create_access_token(identity=user)))
    assert r.status_code == 200, r.json
    assert r.json["username"] == "produser"
    r = prod_client.get("/users/", headers=bearer(create_access_token(identity=admin)))
    assert r.status_code == 200, r.json


def test_forbidden_and_not_found_keep_their_shape(prod_client, user, admin):
    assert_error(prod_client.get("/users/", headers=bearer(create_access_token(identity=user))),
                 403, "admin_required")
    assert_error(prod_client.get("/users/2147483647",
                                 headers=bearer(create_access_token(identity=admin))),
                 404, "user_not_found")
    assert_error(prod_client.get("/nope"), 404, "not_found")
    assert_error(prod_client.delete("/users/login"), 405, "method_not_allowed")
    assert_error(prod_client.post("/swaggerui/swagger-ui.css"), 405, "method_not_allowed")
    assert_error(prod_client.post("/users/register", data="{bad", content_type="application/json"),
                 400, "invalid_json")
    assert_error(prod_client.post("/users/logout", data="x" * (64 * 1024 + 1)),
                 413, "payload_too_large")


def test_unexpected_exception_outside_the_api_is_a_clean_500(prod_client):
    assert_error(prod_client.get("/_boom"), 500, "internal_error")


def test_unexpected_exception_in_a_service_is_a_clean_500(prod_client, admin, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("SELECT password_hash FROM users -- hunter2-secret")

    monkeypatch.setattr(user_service, "list_users", broken)
    r = prod_client.get("/users/", headers=bearer(create_access_token(identity=admin)))
    assert_error(r, 500, "internal_error")


def test_the_session_is_usable_after_a_500(prod_client, admin, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    headers = bearer(create_access_token(identity=admin))
    with monkeypatch.context() as patch:
        patch.setattr(user_service, "get_user", broken)
        assert_error(prod_client.get(f"/users/{admin.id}", headers=headers), 500,
                     "internal_error")
    r = prod_client.get(f"/users/{admin.id}", headers=headers)
    assert r.status_code == 200, r.json
