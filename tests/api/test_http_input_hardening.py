"""Strict input: JSON bodies only as UTF-8 application/json, no lone surrogates, ASCII digits."""
from __future__ import annotations

import json

import pytest
from werkzeug.datastructures import MultiDict

from app.errors import ValidationFailed
from tests.assertions import assert_error

LONE = "\ud800"  # json.dumps writes it as the escape \ud800, which json.loads turns back


def raw_json(body: dict) -> str:
    return json.dumps(body)  # ASCII only: lone surrogates become \uXXXX escapes


# --- C. lone surrogates are 400, never 500 --------------------------------------------------

@pytest.fixture()
def world(factory):
    owner = factory.user()
    admin = factory.admin()
    patient = factory.patient(owner)
    return {"owner": owner, "owner_headers": factory.headers(owner),
            "admin_headers": factory.headers(admin), "patient": patient,
            "schedule": factory.schedule(), "doctor": factory.doctor()}


def surrogate_cases(w):
    """(method, path, headers, body, field) with a lone surrogate in `field`."""
    owner, admin = w["owner_headers"], w["admin_headers"]
    return {
        "login-username": ("post", "/users/login", {},
                           {"username": "ali" + LONE, "password": "password123"}, "username"),
        "login-password": ("post", "/users/login", {},
                           {"username": "alice", "password": "pass" + LONE + "word"}, "password"),
        "register-bio": ("post", "/users/register", {},
                         {"username": "alice", "phone_number": "13800000001",
                          "password": "password123", "bio": LONE}, "bio"),
        "me-bio": ("put", "/users/me", owner, {"bio": "x" + LONE}, "bio"),
        "patient-name": ("post", "/patients/", owner,
                         {"name": "张" + LONE, "gender": "male", "birthday": "1990-01-01",
                          "phone_number": "13800000002"}, "name"),
        "doctor-description": ("put", f"/doctors/{w['doctor'].id}", admin,
                               {"description": "\udfff"}, "description"),
        "notes": ("post", "/registrations/", owner,
                  {"patient_id": w["patient"].id, "schedule_id": w["schedule"].id,
                   "notes": LONE}, "notes"),
        "search-query": ("post", "/departments/search", owner, {"query": LONE}, "query"),
        "registration-search": ("post", "/registrations/search", owner,
                                {"query": "a" + LONE + "b"}, "query"),
        "nested": ("post", "/departments/search", owner,
                   {"query": "x", "sort": ["id", {"deep": LONE}]}, "sort"),
    }


CASE_IDS = ["login-username", "login-password", "register-bio", "me-bio", "patient-name",
            "doctor-description", "notes", "search-query", "registration-search", "nested"]


@pytest.mark.parametrize("case", CASE_IDS)
def test_a_lone_surrogate_in_a_json_body_is_400(client, world, case):
    method, path, headers, body, field = surrogate_cases(world)[case]
    r = getattr(client, method)(path, data=raw_json(body), headers=headers,
                                content_type="application/json")
    err = assert_error(r, 400, "invalid_text")
    assert set(err["errors"]) == {field}


def test_a_lone_surrogate_in_a_key_is_400(client):
    r = client.post("/users/login", data='{"\\udc00": 1}', content_type="application/json")
    err = assert_error(r, 400, "invalid_text")
    assert "errors" not in err  # the key itself cannot be echoed


def test_surrogate_pairs_are_characters(client, factory):
    owner = factory.user()
    r = client.put("/users/me", data=raw_json({"bio": "挂号 \U0001F3E5"}),
                   content_type="application/json", headers=factory.headers(owner))
    assert r.status_code == 200, r.json
    assert r.json["bio"] == "挂号 \U0001F3E5"


def test_other_readers_of_the_body_never_see_a_lone_surrogate(app):
    """The login rate limit keys on the username (a Redis key, which must be UTF-8)."""
    from app.web.ratelimit import _login_key

    with app.test_request_context("/users/login", method="POST", content_type="application/json",
                                  data=raw_json({"username": "ali" + LONE, "password": "x"})):
        key = _login_key()
    assert key.endswith("|") and LONE not in key


@pytest.mark.parametrize("args, field", [
    (MultiDict({"sort": LONE}), "sort"),
    (MultiDict([("page", "1"), ("date_from", "2030-01-01"), ("date_from", "x\udfffx")]),
     "date_from"),
], ids=["value", "second-value"])
def test_a_lone_surrogate_in_query_parameters_is_refused(args, field):
    from app.web.requests import reject_lone_surrogates

    with pytest.raises(ValidationFailed) as caught:
        reject_lone_surrogates(args.items(multi=True))
    assert caught.value.code == "invalid_text"
    assert set(caught.value.errors) == {field}


def test_query_strings_are_checked_before_any_view(app, client, factory, monkeypatch):
    """Werkzeug never decodes a URL to a lone surrogate; the check still runs on the args."""
    seen = []
    monkeypatch.setattr("app.web.hooks.reject_lone_surrogates",
                        lambda items: seen.append(list(items)))
    r = client.get("/departments/?sort=%ED%A0%80&page=1",
                   headers=factory.headers(factory.user()))
    assert_error(r, 400, "validation_error")  # not a sort field
    assert [[name for name, _ in args] for args in seen] == [["sort", "page"]]


# --- D. ids and integers are ASCII digits only ----------------------------------------------

DIGIT_ZEROS = {"arabic-indic": 0x0660, "fullwidth": 0xFF10, "bengali": 0x09E6,
               "math-bold": 0x1D7CE}


def in_script(number: int, zero: int) -> str:
    """`number` written with the digits of another script (int() reads them all)."""
    return "".join(chr(zero + int(c)) for c in str(number))


@pytest.mark.parametrize("script", list(DIGIT_ZEROS))
def test_non_ascii_digits_are_not_ids(client, factory, script):
    admin = factory.admin()
    headers = factory.headers(admin)
    schedule = factory.schedule()
    for template, number in [
        ("/doctors/{}/schedules", schedule.doctor_id), ("/doctors/{}", schedule.doctor_id),
        ("/departments/{}", schedule.department_id), ("/schedules/{}/registrations", schedule.id),
        ("/users/{}", admin.id),
    ]:
        assert client.get(template.format(number), headers=headers).status_code == 200
        other = in_script(number, DIGIT_ZEROS[script])
        assert int(other) == number
        assert_error(client.get(template.format(other), headers=headers), 404, "not_found")


@pytest.mark.parametrize("query", [
    "page=+1", "page=%201", "page=1%20", "per_page=+5", "page=%2B1", "page=%D9%A1",
    "doctor_id=+1", "department_id=%201",
], ids=["plus-as-space", "leading-space", "trailing-space", "per-page-plus", "plus-sign",
        "arabic-digit", "id-filter-plus", "id-filter-space"])
def test_list_integers_are_plain_ascii_digits(client, factory, query):
    factory.schedule()
    r = client.get(f"/schedules/?{query}", headers=factory.headers(factory.user()))
    err = assert_error(r, 400, "validation_error")
    assert set(err["errors"]) == {query.split("=")[0]}


# --- D. bodies: application/json in UTF-8, else 415 ------------------------------------------

ACCOUNT = {"username": "alice", "phone_number": "13800000001", "password": "password123"}


@pytest.mark.parametrize("content_type", [
    "text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x", "application/octet-stream", "application/xml",
    "application/json; charset=utf-16", "application/json; charset=latin-1", None,
], ids=["text", "text-utf8", "form", "multipart", "octet-stream", "xml", "json-utf16",
        "json-latin1", "no-content-type"])
def test_a_body_that_is_not_declared_utf8_json_is_415(client, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    r = client.post("/users/register", data=json.dumps(ACCOUNT), headers=headers)
    assert_error(r, 415, "unsupported_media_type")


def test_415_before_authentication_rules_and_validation(client, factory):
    r = client.post("/departments/search", data='{"query": "x"}', content_type="text/plain",
                    headers=factory.headers(factory.user()))
    assert_error(r, 415, "unsupported_media_type")


@pytest.mark.parametrize("content_type", [
    "application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8",
    "Application/JSON", "application/merge-patch+json",
], ids=["plain", "charset", "charset-upper", "mixed-case", "plus-json"])
def test_json_content_types_are_accepted(client, content_type):
    r = client.post("/users/register", data=json.dumps(ACCOUNT),
                    headers={"Content-Type": content_type})
    assert r.status_code == 201, r.json


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32", "utf-8-sig"])
def test_json_bodies_must_be_utf8(client, encoding):
    r = client.post("/users/register", data=json.dumps(ACCOUNT).encode(encoding),
                    content_type="application/json")
    assert_error(r, 400, "invalid_json")


def test_an_empty_body_without_content_type_is_still_a_missing_body(client, factory):
    r = client.post("/patients/", headers=factory.headers(factory.user()))
    assert_error(r, 400, "invalid_json")


def test_action_endpoints_need_no_body_and_no_content_type(client, factory):
    owner = factory.user()
    admin_headers = factory.headers(factory.admin())
    patient = factory.patient(owner)
    first = factory.registration(patient, factory.schedule())
    second = factory.registration(patient, factory.schedule())
    for headers in ({}, {"Content-Type": "text/plain"}):
        r = client.put(f"/registrations/{first.id}/cancel", headers={**admin_headers, **headers})
        assert r.status_code in (200, 409), r.json  # 409: already cancelled on the second turn
    r = client.put(f"/registrations/{second.id}/complete", headers=admin_headers)
    assert r.status_code == 200, r.json
    tokens = client.post("/users/login", json={"username": owner.username,
                                               "password": "password123"}).json
    r = client.post("/users/refresh", headers={
        "Authorization": f"Bearer {tokens['refresh_token']}"})
    assert r.status_code == 200, r.json
    r = client.post("/users/logout", data="bye", headers={**factory.headers(owner),
                                                          "Content-Type": "text/plain"})
    assert r.status_code == 204


def test_the_spec_documents_415_where_bodies_are_taken(client):
    spec = client.get("/swagger.json").json
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            takes_body = any(p.get("in") == "body" for p in op.get("parameters", []))
            assert ("415" in op["responses"]) == takes_body, (method, path)
