"""Shared HTTP plumbing: the error shape for routing errors, bodies, slashes, request ids, CORS."""
from __future__ import annotations

import json
import re

import pytest

from app.services import users as user_service
from tests.assertions import assert_error
from tests.conftest import build_app

BIG = 64 * 1024 + 1


# --- routing errors -------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/nope", "/users/nope/deeper", "/users/1/nope",
                                  "/swaggerui/missing.js", "/users/-1"])
def test_unknown_urls_are_404_in_the_error_shape(client, admin_headers, path):
    r = client.get(path, headers=admin_headers)
    body = assert_error(r, 404, "not_found")
    assert set(body) <= {"message", "code", "errors", "request_id"}


@pytest.mark.parametrize("method, path, allowed", [
    ("delete", "/users/login", {"POST"}),
    ("get", "/users/register", {"POST"}),
    ("patch", "/users/me", {"GET", "PUT", "DELETE"}),
    ("post", "/users/1", {"GET", "PUT", "DELETE"}),
    ("put", "/users/", {"GET", "POST"}),
], ids=["delete-login", "get-register", "patch-me", "post-item", "put-list"])
def test_wrong_method_in_a_namespace_is_405(client, method, path, allowed):
    r = getattr(client, method)(path)
    assert_error(r, 405, "method_not_allowed")
    assert allowed <= {m.strip() for m in r.headers["Allow"].split(",")}


@pytest.mark.parametrize("method, path", [
    ("post", "/swaggerui/swagger-ui.css"),
    ("delete", "/static/anything.txt"),
    ("post", "/swagger.json"),
    ("delete", "/"),
], ids=["swaggerui-asset", "static", "spec", "docs"])
def test_wrong_method_outside_the_namespaces_is_405(client, method, path):
    r = getattr(client, method)(path)
    assert_error(r, 405, "method_not_allowed")


def test_ids_beyond_postgres_integer_are_404_not_500(client, admin_headers):
    for path in ("/users/2147483648", "/users/99999999999", "/users/" + "9" * 40):
        assert_error(client.get(path, headers=admin_headers), 404, "not_found")


# --- bodies ---------------------------------------------------------------------------------

def test_body_over_64_kib_is_413(client):
    body = json.dumps({"username": "alice", "phone_number": "13800000001",
                       "password": "password123", "bio": "x" * BIG})
    r = client.post("/users/register", data=body, content_type="application/json")
    assert_error(r, 413, "payload_too_large")


def test_body_of_exactly_64_kib_is_accepted(client):
    body = json.dumps({"username": "alice", "phone_number": "13800000001",
                       "password": "password123"})
    body += " " * (64 * 1024 - len(body))  # whitespace after the object is still valid JSON
    assert len(body.encode()) == 64 * 1024
    r = client.post("/users/register", data=body, content_type="application/json")
    assert r.status_code == 201, r.json


@pytest.mark.parametrize("method, path", [
    ("post", "/users/logout"),
    ("get", "/users/me"),
    ("post", "/users/refresh"),
], ids=["logout", "get-me", "refresh"])
def test_413_also_on_endpoints_that_ignore_the_body(client, factory, method, path):
    user = factory.user()
    headers = factory.headers(user)
    r = getattr(client, method)(path, headers=headers, data="x" * BIG,
                                content_type="application/octet-stream")
    assert_error(r, 413, "payload_too_large")
    # Refused before the endpoint ran: the token was not revoked by the logout.
    assert client.get("/users/me", headers=headers).status_code == 200


def test_413_before_authentication(client):
    r = client.post("/users/logout", data="x" * BIG, content_type="application/json")
    assert_error(r, 413, "payload_too_large")


@pytest.mark.parametrize("data, content_type", [
    ("{not json", "application/json"),
    ('{"username": "a",}', "application/json"),
    ("[1, 2]", "application/json"),
    ('"text"', "application/json"),
    ("null", "application/json"),
    (b"\xff\xfe{}", "application/json"),
], ids=["malformed", "trailing-comma", "array", "string", "null", "not-utf8"])
def test_bodies_that_are_not_a_json_object_are_400(client, data, content_type):
    r = client.post("/users/register", data=data, content_type=content_type)
    assert_error(r, 400, "invalid_json")


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", None],
                         ids=["form", "none"])
def test_bodies_not_declared_as_json_are_415(client, content_type):
    # Content types in full: tests/api/test_http_input_hardening.py
    r = client.post("/users/register", content_type=content_type, data=json.dumps(
        {"username": "alice", "phone_number": "13800000001", "password": "password123"}))
    assert_error(r, 415, "unsupported_media_type")


def test_deeply_nested_json_is_400_not_500(client):
    r = client.post("/users/register", data="[" * 30000 + "]" * 30000,
                    content_type="application/json")
    assert_error(r, 400, "invalid_json")


def test_action_endpoints_need_no_body(client, factory, token_for):
    user = factory.user()
    assert client.post("/users/refresh", headers=token_for(user, refresh=True)).status_code == 200
    r = client.post("/users/logout", headers=factory.headers(user), data="not json at all")
    assert r.status_code == 204


@pytest.mark.parametrize("path, body, field", [
    ("/users/register", {"username": "alice", "phone_number": "13800000001",
                         "password": "password123", "bio": "nul\u0000byte"}, "bio"),
    ("/users/register", {"username": "alice", "phone_number": "13800000001",
                         "password": "pass\u0000word123"}, "password"),
    ("/users/login", {"username": "ali\u0000ce", "password": "password123"}, "username"),
    ("/users/login", {"username": "alice", "password": "pass\u0000word"}, "password"),
], ids=["register-bio", "register-password", "login-username", "login-password"])
def test_nul_characters_are_never_a_500(client, path, body, field):
    err = assert_error(client.post(path, json=body), 400, "validation_error")
    assert set(err["errors"]) == {field}


def test_nul_in_a_search_query_is_400(client, admin_headers):
    r = client.post("/users/search", headers=admin_headers, json={"query": "a\u0000b"})
    err = assert_error(r, 400, "validation_error")
    assert set(err["errors"]) == {"query"}


def test_nul_in_a_list_parameter_is_400(client, admin_headers):
    r = client.get("/users/?sort=id%00", headers=admin_headers)
    assert_error(r, 400, "validation_error")


# --- trailing slashes -----------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/users", "/users/"])
def test_collection_answers_both_slash_forms_without_redirect(client, admin_headers, path):
    r = client.get(path, headers=admin_headers)
    assert r.status_code == 200, (r.status_code, r.headers.get("Location"))
    assert "Location" not in r.headers


def test_post_collection_without_slash(client, admin_headers):
    r = client.post("/users", headers=admin_headers,
                    json={"username": "noslash", "phone_number": "13700000009",
                          "password": "password123"})
    assert r.status_code == 201, r.json


@pytest.mark.parametrize("path", ["/users/login", "/users/login/"])
def test_action_answers_both_slash_forms(client, factory, path):
    factory.user(username="slashy")
    r = client.post(path, json={"username": "slashy", "password": "password123"})
    assert r.status_code == 200, r.json


# --- request ids ----------------------------------------------------------------------------

def test_request_id_is_echoed(client):
    r = client.get("/nope", headers={"X-Request-ID": "abc-123.DEF:4_5"})
    assert r.headers["X-Request-ID"] == "abc-123.DEF:4_5"
    assert r.json["request_id"] == "abc-123.DEF:4_5"


def test_request_id_is_generated_when_absent(client):
    first = client.get("/nope")
    second = client.get("/nope")
    rid = first.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid)
    assert first.json["request_id"] == rid
    assert second.headers["X-Request-ID"] != rid


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "<script>", "semi;colon"])
def test_unsafe_request_ids_are_replaced(client, bad):
    r = client.get("/nope", headers={"X-Request-ID": bad})
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["X-Request-ID"])


def test_request_id_on_successful_responses(client, factory):
    r = client.get("/users/me", headers={**factory.headers(factory.user()),
                                         "X-Request-ID": "trace-1"})
    assert r.status_code == 200
    assert r.headers["X-Request-ID"] == "trace-1"


# --- constraint races -----------------------------------------------------------------------

@pytest.fixture()
def no_precheck(monkeypatch):
    """Skip the friendly uniqueness check, as if a concurrent writer won the race."""
    monkeypatch.setattr(user_service, "_check_unique", lambda *args, **kwargs: None)


def test_duplicate_username_race_is_409(client, factory, no_precheck):
    factory.user(username="racer")
    r = client.post("/users/register", json={"username": "RACER", "phone_number": "13700000077",
                                             "password": "password123"})
    err = assert_error(r, 409, "duplicate_username")
    assert set(err["errors"]) == {"username"}
    # The session is usable again afterwards.
    r = client.post("/users/register", json={"username": "racer2", "phone_number": "13700000078",
                                             "password": "password123"})
    assert r.status_code == 201, r.json


def test_duplicate_phone_race_is_409(client, factory, no_precheck):
    user = factory.user()
    r = client.post("/users/register", json={"username": "racer", "password": "password123",
                                             "phone_number": user.phone_number})
    err = assert_error(r, 409, "duplicate_phone_number")
    assert set(err["errors"]) == {"phone_number"}


def test_duplicate_race_on_update_is_409(client, factory, no_precheck):
    factory.user(username="taken")
    user = factory.user()
    r = client.put("/users/me", headers=factory.headers(user), json={"username": "Taken"})
    assert_error(r, 409, "duplicate_username")


# --- CORS -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cors_app(test_database):
    return build_app(test_database, CORS_ORIGINS=["https://front.example"])


def preflight(app, origin: str):
    return app.test_client().options("/users/login", headers={
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type",
    })


def test_cors_preflight_from_the_allowed_origin(cors_app):
    r = preflight(cors_app, "https://front.example")
    assert r.status_code in (200, 204)
    assert r.headers["Access-Control-Allow-Origin"] == "https://front.example"
    allowed = r.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "POST" in r.headers["Access-Control-Allow-Methods"]


def test_cors_preflight_from_another_origin(cors_app):
    r = preflight(cors_app, "https://evil.example")
    assert "Access-Control-Allow-Origin" not in r.headers


def test_cors_headers_on_errors_for_the_allowed_origin(cors_app):
    r = cors_app.test_client().get("/nope", headers={"Origin": "https://front.example"})
    assert_error(r, 404, "not_found")
    assert r.headers["Access-Control-Allow-Origin"] == "https://front.example"
    assert "X-Request-ID" in r.headers.get("Access-Control-Expose-Headers", "")
