"""Every operation of the URL map x every role -> the expected status, from one table.

Roles (tests/api/authz_world.py): anonymous; user (the owner of the shared patient and
registration, and the user named in /users/{id}/... paths); other_user; doctor (linked to the
doctor whose schedules hold those registrations); other_doctor; admin. A rule and method
missing from the table fails the test, so a new endpoint needs its row here.

Bad tokens (alg=none, another key, expired, refresh-as-access) are tried on every protected
operation at the end; their error shapes are covered in test_plumbing_production.py.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask_jwt_extended import create_access_token, create_refresh_token

from tests.api.authz_world import NEW_PASSWORD, ROLES, World
from tests.api.test_plumbing_production import resign, unsigned
from tests.assertions import assert_error
from tests.factories import PASSWORD

SKIPPED_ENDPOINTS = {"static", "doc", "specs", "restx_doc.static"}
SECRETS = ("password_hash", "scrypt:", "pbkdf2:", PASSWORD, NEW_PASSWORD)

Fill = Callable[[World, str], Any]


@dataclass(frozen=True)
class Op:
    """Expected statuses per role (in ROLES order) and how to build the request."""

    expect: tuple[int, ...]
    path: Fill | None = None  # path parameters beyond World.defaults()
    body: Fill | None = None
    query: str = ""
    fresh_actor: bool = False  # the call revokes or deletes its caller: use a new account
    refresh: bool = False  # send the role's refresh token


def row(*expect: int, **kwargs: Any) -> Op:
    assert len(expect) == len(ROLES)
    return Op(tuple(expect), **kwargs)


def public(status: int, **kwargs: Any) -> Op:
    return row(*[status] * 6, **kwargs)


def any_user(status: int, **kwargs: Any) -> Op:
    return row(401, *[status] * 5, **kwargs)


def admin_only(status: int, **kwargs: Any) -> Op:
    return row(401, 403, 403, 403, 403, status, **kwargs)


def self_or_admin(**kwargs: Any) -> Op:
    return row(401, 200, 403, 403, 403, 200, **kwargs)


def query(w: World, role: str) -> dict:
    return {"query": "a"}


def bio(w: World, role: str) -> dict:
    return {"bio": "matrix"}


def describe(w: World, role: str) -> dict:
    return {"description": "matrix"}


def future_registration(w: World, role: str) -> dict:
    return {"registration_id": w.fresh_registration(started=False).id}


def started_registration(w: World, role: str) -> dict:
    return {"registration_id": w.fresh_registration(started=True).id}


TABLE: dict[tuple[str, str], Op] = {
    # docs and health --------------------------------------------------- anon user oth doc odoc adm
    ("GET", "/"): public(200),
    ("GET", "/health"): public(200),
    # users
    ("POST", "/users/register"): public(201, body=lambda w, r: w.new_account()),
    ("POST", "/users/login"): public(200, body=lambda w, r: w.credentials(r)),
    ("POST", "/users/refresh"): any_user(200, refresh=True),
    ("POST", "/users/logout"): any_user(204, fresh_actor=True),
    ("GET", "/users/me"): any_user(200),
    ("PUT", "/users/me"): any_user(200, body=bio),
    ("DELETE", "/users/me"): any_user(204, fresh_actor=True),
    ("POST", "/users/me/change_password"): any_user(200, fresh_actor=True, body=lambda w, r: {
        "old_password": PASSWORD, "new_password": NEW_PASSWORD}),
    ("GET", "/users/"): admin_only(200),
    ("POST", "/users/"): admin_only(201, body=lambda w, r: w.new_account()),
    ("POST", "/users/search"): admin_only(200, body=query),
    ("POST", "/users/grant_admin"): admin_only(200, body=lambda w, r: {
        "user_id": w.fresh_user().id, "admin_password": PASSWORD}),
    ("POST", "/users/revoke_admin"): admin_only(200, body=lambda w, r: {
        "user_id": w.fresh_admin().id, "admin_password": PASSWORD}),
    ("GET", "/users/<int:user_id>"): admin_only(200),
    ("PUT", "/users/<int:user_id>"): admin_only(200, body=bio),
    ("DELETE", "/users/<int:user_id>"): admin_only(
        204, path=lambda w, r: {"user_id": w.fresh_user().id}),
    ("POST", "/users/<int:user_id>/change_password"): self_or_admin(
        fresh_actor=True,
        path=lambda w, r: {"user_id": w.me.id if r == "user" else w.fresh_user().id},
        body=lambda w, r: {"old_password": PASSWORD, "new_password": NEW_PASSWORD}),
    ("GET", "/users/<int:user_id>/patients"): self_or_admin(),
    ("POST", "/users/<int:user_id>/patients/search"): self_or_admin(body=query),
    ("GET", "/users/<int:user_id>/registrations"): self_or_admin(),
    ("POST", "/users/<int:user_id>/registrations/search"): self_or_admin(body=query),
    # patients
    ("POST", "/patients/"): any_user(201, body=lambda w, r: w.new_patient()),
    ("GET", "/patients/"): admin_only(200),
    ("POST", "/patients/search"): admin_only(200, body=query),
    ("GET", "/patients/<int:patient_id>"): row(401, 200, 404, 200, 404, 200),
    ("PUT", "/patients/<int:patient_id>"): row(401, 200, 404, 403, 404, 200, body=lambda w, r: {
        "phone_number": "13512345678"}),
    ("DELETE", "/patients/<int:patient_id>"): row(
        401, 204, 404, 403, 404, 204, path=lambda w, r: {"patient_id": w.fresh_patient().id}),
    ("GET", "/patients/<int:patient_id>/registrations"): row(401, 200, 404, 403, 404, 200),
    # The doctor sees the patient (its schedules hold the patient's registration) but owns
    # nothing of it: its credit is not the doctor's to read.
    ("GET", "/patients/<int:patient_id>/credit"): row(401, 200, 404, 403, 404, 200),
    ("POST", "/patients/<int:patient_id>/credit/pardon"): admin_only(
        200, body=lambda w, r: {"reason": "matrix"}),
    # doctors
    ("POST", "/doctors/"): admin_only(201, body=lambda w, r: w.new_doctor()),
    ("GET", "/doctors/"): any_user(200),
    ("POST", "/doctors/search"): any_user(200, body=query),
    ("GET", "/doctors/<int:doctor_id>"): any_user(200),
    ("PUT", "/doctors/<int:doctor_id>"): admin_only(200, body=describe),
    ("DELETE", "/doctors/<int:doctor_id>"): admin_only(
        204, path=lambda w, r: {"doctor_id": w.factory.doctor().id}),
    ("GET", "/doctors/<int:doctor_id>/departments"): any_user(200),
    ("GET", "/doctors/<int:doctor_id>/schedules"): any_user(200),
    # departments
    ("POST", "/departments/"): admin_only(201, body=lambda w, r: {
        "name": f"Matrix department {w.fresh_user().id}"}),
    ("GET", "/departments/"): any_user(200),
    ("POST", "/departments/search"): any_user(200, body=query),
    ("GET", "/departments/<int:department_id>"): any_user(200),
    ("PUT", "/departments/<int:department_id>"): admin_only(200, body=describe),
    ("DELETE", "/departments/<int:department_id>"): admin_only(
        204, path=lambda w, r: {"department_id": w.factory.department().id}),
    ("GET", "/departments/<int:department_id>/doctors"): any_user(200),
    ("GET", "/departments/<int:department_id>/schedules"): any_user(200),
    # affiliations
    ("POST", "/affiliations/"): admin_only(
        201, body=lambda w, r: w.fresh_pair(affiliated=False)),
    ("GET", "/affiliations/"): admin_only(200),
    ("DELETE", "/affiliations/<int:doctor_id>/<int:department_id>"): admin_only(
        204, path=lambda w, r: w.fresh_pair(affiliated=True)),
    # schedules
    ("POST", "/schedules/"): admin_only(201, body=lambda w, r: w.new_schedule()),
    ("GET", "/schedules/"): any_user(200),
    ("POST", "/schedules/search"): any_user(200, body=query),
    ("GET", "/schedules/<int:schedule_id>"): any_user(200),
    ("PUT", "/schedules/<int:schedule_id>"): admin_only(200, body=lambda w, r: {
        "max_appointments": 999}),
    ("DELETE", "/schedules/<int:schedule_id>"): admin_only(
        204, path=lambda w, r: {"schedule_id": w.fresh_schedule().id}),
    ("GET", "/schedules/<int:schedule_id>/registrations"): row(401, 403, 403, 200, 403, 200),
    ("GET", "/schedules/<int:schedule_id>/slots"): any_user(200),
    ("POST", "/schedules/<int:schedule_id>/suspend"): admin_only(
        200, path=lambda w, r: {"schedule_id": w.fresh_schedule().id},
        body=lambda w, r: {"reason": "matrix"}),
    ("POST", "/schedules/<int:schedule_id>/resume"): admin_only(
        200, path=lambda w, r: {"schedule_id": w.fresh_suspended_schedule().id}),
    # the waitlist: every account joins with a patient of its own
    ("POST", "/schedules/<int:schedule_id>/waitlist"): any_user(
        201, path=lambda w, r: {"schedule_id": w.fresh_full_schedule().id},
        body=lambda w, r: {"patient_id": w.own_patient.get(r, w.patient).id}),
    ("GET", "/schedules/<int:schedule_id>/waitlist"): admin_only(200),
    ("GET", "/patients/<int:patient_id>/waitlist"): row(401, 200, 404, 403, 404, 200),
    ("DELETE", "/waitlist/<int:entry_id>"): row(
        401, 204, 404, 404, 404, 204,
        path=lambda w, r: {"entry_id": w.fresh_waitlist_entry().id}),
    # the booking policy
    ("GET", "/settings/booking"): any_user(200),
    ("PUT", "/settings/booking"): admin_only(200, body=lambda w, r: {
        "booking_cutoff_minutes": 0}),
    # registrations
    ("POST", "/registrations/"): any_user(201, body=lambda w, r: {
        "patient_id": w.own_patient.get(r, w.patient).id,
        "schedule_id": w.open_schedule.id}),
    ("GET", "/registrations/"): admin_only(200),
    ("POST", "/registrations/search"): any_user(200, body=query),
    ("GET", "/registrations/status/<string:status>"): admin_only(200),
    ("GET", "/registrations/stats"): admin_only(200, query="?group_by=status"),
    ("GET", "/registrations/<int:registration_id>"): row(401, 200, 404, 200, 404, 200),
    # The doctor's status change needs a started schedule; the owner's status is ignored.
    ("PUT", "/registrations/<int:registration_id>"): row(
        401, 200, 404, 200, 404, 200, path=started_registration,
        body=lambda w, r: {"notes": "matrix", "status": "no_show"}),
    ("DELETE", "/registrations/<int:registration_id>"): row(
        401, 204, 404, 403, 404, 204, path=future_registration),
    ("PUT", "/registrations/<int:registration_id>/cancel"): row(
        401, 200, 404, 403, 404, 200, path=future_registration),
    ("PUT", "/registrations/<int:registration_id>/complete"): row(
        401, 403, 404, 200, 404, 200, path=started_registration),
    ("PUT", "/registrations/<int:registration_id>/check_in"): row(
        401, 200, 404, 403, 404, 200,
        path=lambda w, r: {"registration_id": w.fresh_check_in().id}),
    ("GET", "/registrations/<int:registration_id>/events"): row(401, 200, 404, 403, 404, 200),
    # the event log
    ("GET", "/events/"): admin_only(200),
    ("GET", "/events/webhook"): admin_only(200),
    # statistics
    ("GET", "/stats/overview"): admin_only(200),
}


def operations(app) -> list[tuple[str, str]]:
    """(METHOD, rule) of every operation in the URL map."""
    ops = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIPPED_ENDPOINTS:
            continue
        ops += [(method, rule.rule) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return sorted(ops)


def fill(rule: str, values: dict[str, Any]) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: str(values[m.group(1)]), rule)


def call(client, w: World, method: str, rule: str, op: Op, role: str):
    w.me = w.actor(role, op.fresh_actor)
    values = {**w.defaults(), **(op.path(w, role) if op.path else {})}
    body = op.body(w, role) if op.body else None
    return client.open(fill(rule, values) + op.query, method=method, json=body,
                       headers=w.headers(w.me, refresh=op.refresh))


def test_authorization_matrix(app, client, factory):
    w = World(factory)
    missing = [op for op in operations(app) if op not in TABLE]
    assert not missing, f"operations without a row in the matrix: {missing}"
    assert set(TABLE) <= set(operations(app)), "rows for operations that do not exist"
    failures, texts = [], []
    for method, rule in operations(app):
        op = TABLE[(method, rule)]
        for role, expected in zip(ROLES, op.expect, strict=True):
            response = call(client, w, method, rule, op, role)
            texts.append(response.get_data(as_text=True))
            if response.status_code != expected:
                failures.append(f"{method} {rule} as {role}: {response.status_code} "
                                f"(expected {expected}) {texts[-1][:160]}")
            elif expected >= 400:  # the matrix fixes the status; the shape holds for any code
                assert_error(response, expected, response.get_json()["code"])
    assert not failures, "\n".join(failures)
    # No password or hash anywhere in the answers of the whole run.
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, (secret, text[:300])


BAD_TOKENS = {
    "alg-none": lambda w, user: unsigned(create_access_token(identity=user)),
    "wrong-key": lambda w, user: resign(create_access_token(identity=user), "not-the-key" * 4),
    "expired": lambda w, user: create_access_token(identity=user,
                                                   expires_delta=dt.timedelta(seconds=-10)),
    "refresh-as-access": lambda w, user: create_refresh_token(identity=user),
}


@pytest.mark.parametrize("kind", list(BAD_TOKENS))
def test_bad_tokens_are_401_on_every_protected_operation(app, client, factory, kind):
    w = World(factory)
    admin = w.accounts["admin"]
    for method, rule in operations(app):
        op = TABLE.get((method, rule))
        if op is None or op.expect[0] != 401:
            continue  # public (and unknown operations fail the matrix test)
        if kind == "refresh-as-access" and op.refresh:
            continue  # /users/refresh wants exactly that token type
        values = {**w.defaults(), "user_id": admin.id}
        headers = {"Authorization": f"Bearer {BAD_TOKENS[kind](w, admin)}"}
        r = client.open(fill(rule, values) + op.query, method=method, headers=headers,
                        json=op.body(w, "admin") if op.body else None)
        assert_error(r, 401, "token_expired" if kind == "expired" else "invalid_token")
