"""Registration and login."""
from __future__ import annotations

import datetime as dt

import pytest
from flask_jwt_extended import decode_token

from tests.assertions import assert_error
from tests.factories import PASSWORD

USER_FIELDS = {"id", "is_admin", "username", "phone_number", "bio", "doctor_id", "created_at",
               "updated_at"}



def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def register(client, **overrides):
    body = {"username": "alice", "phone_number": "13800000001", "password": "password123"}
    body.update(overrides)
    return client.post("/users/register", json=body)


def login(client, username: str, password: str = PASSWORD):
    return client.post("/users/login", json={"username": username, "password": password})


# --- register -------------------------------------------------------------------------------

def test_register_creates_a_plain_user(client):
    r = register(client, bio="hello")
    assert r.status_code == 201, r.json
    body = r.json
    assert set(body) == USER_FIELDS
    assert body["username"] == "alice"
    assert body["phone_number"] == "13800000001"
    assert body["bio"] == "hello"
    assert body["is_admin"] is False
    assert isinstance(body["id"], int)
    created = dt.datetime.fromisoformat(body["created_at"])
    assert created.utcoffset() == dt.timedelta(0)
    assert "password" not in r.get_data(as_text=True)


@pytest.mark.parametrize("overrides", [
    {"username": "abc"},
    {"username": "a" * 64},
    {"username": "张三丰"},
    {"username": "a.b_c-d"},
    {"username": "Zoë_99"},
    {"phone_number": "12345"},
    {"phone_number": "1" * 20},
    {"phone_number": "+86 (138) 0013-8000"},
    {"password": "12345678"},
    {"bio": "x" * 2000},
    {"bio": None},
], ids=["username-3", "username-64", "username-cjk", "username-punctuation", "username-accent",
        "phone-5", "phone-20", "phone-formatted", "password-8", "bio-2000", "bio-null"])
def test_register_accepts_values_at_the_limits(client, overrides):
    r = register(client, **overrides)
    assert r.status_code == 201, r.json
    for key, value in overrides.items():
        if key != "password":
            assert r.json[key] == value


@pytest.mark.parametrize("overrides, field", [
    ({"username": "ab"}, "username"),
    ({"username": "a" * 65}, "username"),
    ({"username": "with space"}, "username"),
    ({"username": "at@sign"}, "username"),
    ({"username": "slash/name"}, "username"),
    ({"username": "   "}, "username"),
    ({"username": 123}, "username"),
    ({"username": None}, "username"),
    ({"username": ["alice"]}, "username"),
    ({"phone_number": "1234"}, "phone_number"),
    ({"phone_number": "1" * 21}, "phone_number"),
    ({"phone_number": "1380000abcd"}, "phone_number"),
    ({"phone_number": 13800000001}, "phone_number"),
    ({"password": "1234567"}, "password"),
    ({"password": 12345678}, "password"),
    ({"bio": "x" * 2001}, "bio"),
    ({"bio": 5}, "bio"),
], ids=["username-short", "username-long", "username-space", "username-at", "username-slash",
        "username-blank", "username-int", "username-null", "username-list", "phone-short",
        "phone-long", "phone-letters", "phone-int", "password-short", "password-int",
        "bio-long", "bio-int"])
def test_register_rejects_invalid_fields(client, overrides, field):
    body = assert_error(register(client, **overrides), 400, "validation_error")
    assert set(body["errors"]) == {field}


@pytest.mark.parametrize("missing", ["username", "phone_number", "password"])
def test_register_requires_fields(client, missing):
    body = {"username": "alice", "phone_number": "13800000001", "password": "password123"}
    del body[missing]
    r = client.post("/users/register", json=body)
    err = assert_error(r, 400, "validation_error")
    assert err["errors"] == {missing: "is required"}


def test_register_lists_every_bad_field(client):
    r = client.post("/users/register", json={"username": "x"})
    err = assert_error(r, 400, "validation_error")
    assert set(err["errors"]) == {"username", "phone_number", "password"}


@pytest.mark.parametrize("data", ["", "[]", '"alice"', "42", "{not json"],
                         ids=["empty", "array", "string", "number", "malformed"])
def test_register_needs_a_json_object(client, data):
    r = client.post("/users/register", data=data, content_type="application/json")
    assert_error(r, 400, "invalid_json")


def test_register_ignores_read_only_fields(client):
    r = register(client, id=999999, is_admin=True, created_at="2000-01-01T00:00:00+00:00",
                 updated_at="2000-01-01T00:00:00+00:00", password_hash="plain",
                 token_version=42, doctor_id=1)
    assert r.status_code == 201, r.json
    assert r.json["is_admin"] is False
    assert r.json["id"] != 999999
    assert r.json["doctor_id"] is None
    assert not r.json["created_at"].startswith("2000")
    assert login(client, "alice", "password123").status_code == 200


def test_register_duplicate_username_is_case_insensitive(client):
    assert register(client).status_code == 201
    r = register(client, username="ALICE", phone_number="13800000002")
    err = assert_error(r, 409, "duplicate_username")
    assert set(err["errors"]) == {"username"}


def test_register_duplicate_phone_number(client):
    assert register(client).status_code == 201
    r = register(client, username="bob")
    err = assert_error(r, 409, "duplicate_phone_number")
    assert set(err["errors"]) == {"phone_number"}


def test_register_duplicate_both_names_both_fields(client):
    assert register(client).status_code == 201
    err = assert_error(register(client), 409, "duplicate_username")
    assert set(err["errors"]) == {"username", "phone_number"}


def test_register_trims_surrounding_spaces(client):
    r = register(client, username="  alice  ", phone_number=" 13800000001 ")
    assert r.status_code == 201, r.json
    assert r.json["username"] == "alice"
    assert r.json["phone_number"] == "13800000001"


def test_register_is_public_and_ignores_a_bad_token(client):
    r = client.post("/users/register", headers=bearer("garbage"),
                    json={"username": "alice", "phone_number": "13800000001",
                          "password": "password123"})
    assert r.status_code == 201, r.json


# --- login ----------------------------------------------------------------------------------

def test_login_returns_tokens_and_the_user(client, factory):
    user = factory.user(username="carol")
    r = login(client, "carol")
    assert r.status_code == 200, r.json
    assert set(r.json) == {"access_token", "refresh_token", "user"}
    assert r.json["user"]["id"] == user.id
    assert set(r.json["user"]) == USER_FIELDS
    assert "password" not in r.get_data(as_text=True)
    me = client.get("/users/me", headers=bearer(r.json["access_token"]))
    assert me.status_code == 200
    assert me.json["username"] == "carol"


def test_login_matches_the_username_case_insensitively(client, factory):
    factory.user(username="Carol")
    r = login(client, "cAROL")
    assert r.status_code == 200, r.json
    assert r.json["user"]["username"] == "Carol"


@pytest.mark.parametrize("username", ["İlker", "ÄRZTE", "张三丰"],
                         ids=["dotted-capital-i", "umlaut", "cjk"])
def test_login_works_for_non_ascii_usernames(client, factory, username):
    factory.user(username=username)
    r = login(client, username)
    assert r.status_code == 200, r.json
    assert r.json["user"]["username"] == username


def test_jwt_subject_is_the_user_id_as_a_string(client, factory):
    user = factory.user(username="dave")
    r = login(client, "dave")
    for kind in ("access_token", "refresh_token"):
        claims = decode_token(r.json[kind])
        assert claims["sub"] == str(user.id)
    assert decode_token(r.json["access_token"])["type"] == "access"
    assert decode_token(r.json["refresh_token"])["type"] == "refresh"


def test_unknown_user_and_wrong_password_get_the_same_401(client, factory):
    factory.user(username="erin")
    wrong = login(client, "erin", "not-the-password")
    unknown = login(client, "nobody-here", "not-the-password")
    wrong_body = assert_error(wrong, 401, "invalid_credentials")
    unknown_body = assert_error(unknown, 401, "invalid_credentials")
    wrong_body.pop("request_id", None)
    unknown_body.pop("request_id", None)
    assert wrong_body == unknown_body


@pytest.mark.parametrize("body, field", [
    ({"password": "password123"}, "username"),
    ({"username": "erin"}, "password"),
    ({"username": 123, "password": "password123"}, "username"),
    ({"username": "erin", "password": 12345678}, "password"),
    ({"username": "", "password": "password123"}, "username"),
    ({"username": "erin", "password": ""}, "password"),
], ids=["no-username", "no-password", "username-int", "password-int", "username-empty",
        "password-empty"])
def test_login_rejects_malformed_bodies(client, factory, body, field):
    factory.user(username="erin")
    err = assert_error(client.post("/users/login", json=body), 400, "validation_error")
    assert set(err["errors"]) == {field}


def test_login_without_a_body_is_400(client):
    assert_error(client.post("/users/login"), 400, "invalid_json")
