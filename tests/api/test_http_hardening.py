"""What every response carries: UTF-8 JSON from one encoder, auth challenges, security headers.

Input strictness (content types, lone surrogates, digits) is in test_http_input_hardening.py.
"""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from app.config import load_settings
from app.schemas.patients import BIRTHDAY
from tests.assertions import assert_error
from tests.conftest import build_app

JSON_UTF8 = "application/json; charset=utf-8"


def assert_utf8_json(app, response, *texts: str) -> None:
    """The body is the app's one JSON encoding, with these texts as raw UTF-8 characters."""
    assert response.headers["Content-Type"] == JSON_UTF8
    for text in texts:
        assert text.encode("utf-8") in response.data, response.data[:300]
        assert json.dumps(text)[1:-1].encode() not in response.data  # no \uXXXX escapes
    assert response.data == app.json.response(response.get_json()).data


# --- A. one JSON encoder, UTF-8 characters --------------------------------------------------

def test_restx_reads_send_characters(app, client, factory):
    owner = factory.user(bio="张三的账户")
    r = client.get("/users/me", headers=factory.headers(owner))
    assert r.status_code == 200
    assert_utf8_json(app, r, "张三的账户")


def test_cached_catalogue_reads_send_characters(app, client, factory):
    department = factory.department("儿科")
    headers = factory.headers(factory.user())
    miss = client.get(f"/departments/{department.id}", headers=headers)
    hit = client.get(f"/departments/{department.id}", headers=headers)
    for r in (miss, hit):
        assert r.status_code == 200
        assert_utf8_json(app, r, "儿科")
    assert hit.data == miss.data


def test_errors_send_characters(app, client, factory):
    r = client.get("/registrations/status/挂号", headers=factory.headers(factory.admin()))
    assert_error(r, 400, "unknown_status")
    assert_utf8_json(app, r, "挂号")


def test_the_unknown_url_404_uses_the_same_encoder(app, client):
    r = client.get("/no/such/place")
    assert_error(r, 404, "not_found")
    assert_utf8_json(app, r)


def test_the_swagger_spec_sends_characters(app, client):
    r = client.get("/swagger.json")
    assert r.status_code == 200
    assert_utf8_json(app, r, "医院挂号管理系统")


def test_a_replayed_booking_is_the_first_response_byte_for_byte(app, client, factory):
    owner = factory.user()
    headers = {**factory.headers(owner), "Idempotency-Key": "retry-1"}
    body = {"patient_id": factory.patient(owner, name="张三").id,
            "schedule_id": factory.schedule().id, "notes": "复诊，带上病历"}
    first = client.post("/registrations/", json=body, headers=headers)
    again = client.post("/registrations/", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201), first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    for r in (first, again):
        assert_utf8_json(app, r, "复诊，带上病历")
    assert again.data == first.data


# --- B. 401 challenges, stats without group_by, birthdays before 1900 ------------------------

def expired_token(app, user) -> dict[str, str]:
    from flask_jwt_extended import create_access_token

    with app.app_context():
        token = create_access_token(identity=user, expires_delta=dt.timedelta(seconds=-60))
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("case", ["no-token", "garbage-token", "expired-token", "refresh-token",
                                  "bad-login"])
def test_every_401_carries_a_bearer_challenge(app, client, factory, token_for, case):
    user = factory.user()
    if case == "bad-login":
        r = client.post("/users/login", json={"username": user.username, "password": "wrong!!!"})
    else:
        headers = {
            "no-token": {},
            "garbage-token": {"Authorization": "Bearer not.a.token"},
            "expired-token": expired_token(app, user),
            "refresh-token": token_for(user, refresh=True),
        }[case]
        r = client.get("/users/me", headers=headers)
    assert r.status_code == 401
    challenge = r.headers["WWW-Authenticate"]
    assert challenge.split()[0] == "Bearer"
    if case in ("garbage-token", "expired-token", "refresh-token"):
        assert challenge == 'Bearer error="invalid_token"'
    else:  # no credentials for the resource: no error code (RFC 6750, section 3.1)
        assert challenge == "Bearer"


@pytest.fixture(scope="module")
def prod_app(app, test_database):
    """TESTING off: flask-restx takes another path for errors (STYLE trap 1)."""
    return build_app(test_database, TESTING=False, DEBUG=False)


def test_401_challenge_with_testing_off(prod_app):
    r = prod_app.test_client().get("/users/me", headers={"Authorization": "Bearer x.y.z"})
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert r.headers["Content-Type"] == JSON_UTF8


def test_the_spec_documents_the_401_challenge(client):
    spec = client.get("/swagger.json").json
    response = spec["paths"]["/users/me"]["get"]["responses"]["401"]
    assert "WWW-Authenticate" in response["headers"]


def test_stats_without_group_by_lists_the_allowed_values(client, factory):
    r = client.get("/registrations/stats", headers=factory.headers(factory.admin()))
    err = assert_error(r, 400, "validation_error")
    for value in ("department", "doctor", "date", "status"):
        assert value in err["message"]
        assert value in err["errors"]["group_by"]


PATIENT = {"name": "王芳", "gender": "female", "phone_number": "13800138000"}


@pytest.mark.parametrize("birthday, status", [
    ("1899-12-31", 400), ("1066-10-14", 400), ("0001-01-01", 400), ("1900-01-01", 201),
], ids=["day-before-1900", "1066", "year-1", "1900-01-01"])
def test_birthdays_before_1900_are_refused(client, factory, birthday, status):
    r = client.post("/patients/", json={**PATIENT, "birthday": birthday},
                    headers=factory.headers(factory.user()))
    if status == 201:
        assert r.status_code == 201, r.json
        assert r.json["birthday"] == birthday
    else:
        err = assert_error(r, 400, "validation_error")
        assert set(err["errors"]) == {"birthday"}
        assert "1900-01-01" in err["errors"]["birthday"]


@pytest.mark.parametrize("flags", [0, re.ASCII], ids=["unicode-re", "ascii-re"])
def test_the_spec_states_the_earliest_birthday(flags):
    from tests.api.test_spec_agreement import accepted, documented

    for value in ("1899-12-31", "1900-01-01", "1900-12-31", "1909-09-09", "1989-06-04",
                  "2000-02-29", "0999-01-01", "9999-12-31", "1900-13-01", "1900-01-00"):
        assert documented(BIRTHDAY, value, flags) == accepted(BIRTHDAY, value), value


def test_birthday_before_1900_is_refused_on_update(client, factory):
    owner = factory.user()
    patient = factory.patient(owner)
    r = client.put(f"/patients/{patient.id}", json={"birthday": "1899-12-31"},
                   headers=factory.headers(owner))
    err = assert_error(r, 400, "validation_error")
    assert set(err["errors"]) == {"birthday"}


# --- E. security and caching headers --------------------------------------------------------

def assert_security_headers(response) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'"


def test_swagger_ui_cannot_be_framed(client):
    r = client.get("/")
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert_security_headers(r)


@pytest.mark.parametrize("path", ["/health", "/no/such/place", "/swagger.json", "/users/me"])
def test_security_headers_on_every_response(client, path):
    assert_security_headers(client.get(path))


def test_security_headers_on_cached_catalogue_reads(client, factory):
    headers = factory.headers(factory.user())
    factory.department()
    for _ in range(2):  # a miss, then a hit served before the view runs
        assert_security_headers(client.get("/departments/", headers=headers))


def per_user_requests(client, factory):
    """(label, response) of per-user answers: accounts, patients, bookings, stats, tokens."""
    owner = factory.user()
    admin = factory.admin()
    owner_headers, admin_headers = factory.headers(owner), factory.headers(admin)
    patient = factory.patient(owner)
    registration = factory.registration(patient, factory.schedule())
    yield "me", client.get("/users/me", headers=owner_headers)
    yield "patient", client.get(f"/patients/{patient.id}", headers=owner_headers)
    yield "registration", client.get(f"/registrations/{registration.id}", headers=owner_headers)
    yield "own-patients", client.get(f"/users/{owner.id}/patients", headers=owner_headers)
    yield "stats", client.get("/registrations/stats?group_by=status", headers=admin_headers)
    yield "overview", client.get("/stats/overview", headers=admin_headers)
    yield "users", client.get("/users/", headers=admin_headers)
    login = client.post("/users/login", json={"username": owner.username,
                                              "password": "password123"})
    yield "login", login
    yield "refresh", client.post("/users/refresh", headers={
        "Authorization": f"Bearer {login.json['refresh_token']}"})
    yield "error", client.get("/users/me")


def test_per_user_answers_are_never_stored(client, factory):
    for label, r in per_user_requests(client, factory):
        assert r.status_code == (401 if label == "error" else 200), (label, r.status_code)
        assert r.headers.get("Cache-Control") == "no-store", (label, r.headers)


def test_catalogue_reads_are_revalidated_private_copies(client, factory):
    headers = factory.headers(factory.user())
    schedule = factory.schedule()
    paths = ["/departments/", f"/departments/{schedule.department_id}",
             f"/doctors/{schedule.doctor_id}", f"/doctors/{schedule.doctor_id}/schedules",
             "/schedules/", f"/schedules/{schedule.id}"]
    for path in paths:
        for _ in range(2):  # a miss, then a hit
            r = client.get(path, headers=headers)
            assert r.status_code == 200, path
            assert r.headers["Cache-Control"] == "private, no-cache", path
        not_modified = client.get(path, headers={**headers, "If-None-Match": r.headers["ETag"]})
        assert not_modified.status_code == 304
        assert not_modified.headers["Cache-Control"] == "private, no-cache", path


def test_catalogue_writes_are_never_stored(client, factory):
    r = client.post("/departments/", json={"name": "眼科"},
                    headers=factory.headers(factory.admin()))
    assert r.status_code == 201
    assert r.headers["Cache-Control"] == "no-store"


# --- E. CORS: no origin by default in production ---------------------------------------------

PRODUCTION_ENV = {
    "DATABASE_URL": "postgresql://hospital:secret@db.invalid:5432/hospital",
    "SECRET_KEY": "q7Vt2mXc9LpR4sWn8bYk3HdJ6fGa1ZeU",
    "JWT_SECRET_KEY": "N4xw8Pq2Lr6Ty0Ub3Vc7Md1Ke5Jf9Hg2Sa4Zo8",
}


@pytest.mark.parametrize("env, origins", [
    ("production", []), ("development", ["*"]), ("testing", ["*"]),
])
def test_cors_origins_default_per_environment(monkeypatch, env, origins):
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CORS_ORIGINS", raising=False)
    assert load_settings(env)["CORS_ORIGINS"] == origins


@pytest.mark.parametrize("env", ["production", "development", "testing"])
def test_cors_origins_from_the_environment_win(monkeypatch, env):
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CORS_ORIGINS", "https://front.example")
    assert load_settings(env)["CORS_ORIGINS"] == ["https://front.example"]


def test_an_app_without_origins_allows_no_origin(test_database):
    client = build_app(test_database, CORS_ORIGINS=[]).test_client()
    r = client.options("/users/login", headers={
        "Origin": "https://front.example", "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in r.headers
    r = client.get("/health", headers={"Origin": "https://front.example"})
    assert "Access-Control-Allow-Origin" not in r.headers
