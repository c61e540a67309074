"""JWT wiring: who is calling, read from the database on every request."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import g, has_request_context, request
from flask_jwt_extended import get_jwt, jwt_required, verify_jwt_in_request

from app.database.rawsql import fetch_one
from app.errors import Forbidden, Unauthorized
from app.extensions import jwt
from app.identity.actor import Actor
from app.identity.callers import caller_cache
from app.models import User

VERSION_CLAIM = "ver"
MAX_USER_ID = 2**31 - 1


@dataclass(frozen=True, slots=True)
class AuthUser:
    """What a request needs to know about its caller: its `users` row (app/callers.py)."""

    id: int
    is_admin: bool
    doctor_id: int | None
    token_version: int


# The one query every authenticated request runs, straight on the driver (app/rawsql.py).
USER_LOOKUP_SQL = "SELECT id, is_admin, doctor_id, token_version FROM users WHERE id = %(user_id)s"


def fetch_auth_user(user_id: int) -> AuthUser | None:
    """The caller's row (id, rights, token version), or None when it does not exist.

    From this process's short-lived caller cache (app/callers.py), else read outside the
    request's ORM session in one autocommit round trip, so a request answered from the
    catalogue cache opens no transaction at all.
    """
    cache = caller_cache()  # always there in a request (create_app makes it)
    cached = cache.get(user_id)
    if cached is not None:
        return cached
    epoch = cache.epoch()
    row = fetch_one(USER_LOOKUP_SQL, {"user_id": user_id})
    if row is None:
        return None
    user = AuthUser(*row)
    cache.put(user_id, user, epoch)  # a no-op when AUTH_CACHE_SECONDS is 0
    return user


def _load_user(payload: dict[str, Any]) -> AuthUser | None:
    # Cached for this request only: an app context (and its `g`) can span several requests,
    # e.g. the test client's requests inside a test's app context.
    this_request = request._get_current_object() if has_request_context() else None
    if g.get("_jwt_request") is not this_request:
        g.pop("_jwt_user", None)
        g._jwt_request = this_request
    if "_jwt_user" not in g:
        try:
            user_id = int(payload["sub"])
        except (KeyError, TypeError, ValueError):
            g._jwt_user = None
        else:
            g._jwt_user = fetch_auth_user(user_id) if 0 < user_id <= MAX_USER_ID else None
    return g._jwt_user


def init_jwt_callbacks() -> None:
    """Register the callbacks that tie tokens to the users table."""

    @jwt.additional_claims_loader
    def _claims(user: User | AuthUser) -> dict[str, Any]:
        return {VERSION_CLAIM: user.token_version}

    @jwt.user_identity_loader
    def _identity(user: User | AuthUser) -> str:
        # PyJWT >= 2.10 requires a string subject.
        return str(user.id)

    @jwt.token_in_blocklist_loader
    def _revoked(_header: dict, payload: dict) -> bool:
        user = _load_user(payload)
        return user is None or payload.get(VERSION_CLAIM) != user.token_version

    @jwt.user_lookup_loader
    def _lookup(_header: dict, payload: dict) -> AuthUser | None:
        return _load_user(payload)


def current_user() -> AuthUser:
    """The caller behind the verified token of this request (see current_actor)."""
    user = g.get("_jwt_user")
    if user is None:
        raise Unauthorized("Token does not belong to an existing user", "invalid_token")
    return user


def current_actor() -> Actor:
    """The caller as an Actor (plain values for services)."""
    user = current_user()
    return Actor(id=user.id, is_admin=user.is_admin, doctor_id=user.doctor_id)


def login_required(fn: Callable) -> Callable:
    """Require a valid, unrevoked access token."""
    return jwt_required()(fn)


def admin_required(fn: Callable) -> Callable:
    """Require a valid access token of a user who is an admin right now."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        verify_jwt_in_request()
        if not current_user().is_admin:
            raise Forbidden("Administrator rights are required", "admin_required")
        return fn(*args, **kwargs)

    return wrapper


def refresh_required(fn: Callable) -> Callable:
    """Require a valid, unrevoked refresh token."""
    return jwt_required(refresh=True)(fn)


def token_claims() -> dict[str, Any]:
    """Claims of the verified token."""
    return get_jwt()
