"""Who is calling: the verified token and the caller's row, read from the database.

Flask-JWT-Extended mints tokens (with the loaders registered here); app/identity/tokens.py
checks them. A token names its user (`sub`) and carries the user's `token_version` (`ver`):
logout and password changes bump the version in the row, so older tokens stop working at
once. Rights (admin, doctor) are read from the row, never from the token.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import g, request

from app.database.autocommit import Statement, run_alone
from app.database.generations import generations
from app.errors import Forbidden
from app.extensions import jwt
from app.identity.actor import Actor
from app.identity.callers import caller_cache
from app.identity.tokens import ACCESS, REFRESH, bearer_token, invalid, verify

VERSION_CLAIM = "ver"
MAX_USER_ID = 2**31 - 1
# CORS preflights carry no credentials (Flask answers them without running the view).
EXEMPT_METHODS = frozenset({"OPTIONS"})


@dataclass(frozen=True, slots=True)
class AuthUser:
    """What a request needs to know about its caller: its `users` row."""

    id: int
    is_admin: bool
    doctor_id: int | None
    token_version: int


# The one query every authenticated request runs (unless the row is cached), in autocommit.
USER_LOOKUP_SQL = Statement(
    "SELECT id, is_admin, doctor_id, token_version FROM users WHERE id = :user_id")


def fetch_auth_user(user_id: int) -> AuthUser | None:
    """The caller's row (id, rights, token version), or None when it does not exist.

    From this process's caller cache while the `callers` generation is unchanged, else one
    autocommit statement outside the request's ORM session, so a request answered from the
    catalogue cache opens no transaction at all.
    """
    cache = caller_cache()
    current = generations().current(("callers",)) if cache.enabled else None
    generation = current["callers"] if current else None
    if generation is not None:
        cached = cache.get(user_id, generation)
        if cached is not None:
            return cached
    row = run_alone(USER_LOOKUP_SQL, {"user_id": user_id})
    if row is None:
        return None
    user = AuthUser(*row)
    if generation is not None:
        cache.put(user_id, user, generation)
    return user


def authenticate(token_type: str = ACCESS) -> AuthUser:
    """Verify the request's bearer token and return its caller (401 when that fails).

    Done at most once per request and token type: the catalogue cache's hook and the view's
    decorator may both ask.
    """
    this_request = request._get_current_object()
    done = g.get("_auth")
    if done is not None and done[0] is this_request and done[1] == token_type:
        return done[2]
    claims = verify(bearer_token(), token_type)
    try:
        user_id = int(claims["sub"])
    except (TypeError, ValueError):
        raise invalid() from None
    user = fetch_auth_user(user_id) if 0 < user_id <= MAX_USER_ID else None
    if user is None:
        raise invalid("Token does not belong to an existing user")
    if claims.get(VERSION_CLAIM) != user.token_version:
        raise invalid("Token has been revoked")
    g._auth = (this_request, token_type, user, claims)
    return user


def init_jwt_callbacks() -> None:
    """Register the loaders Flask-JWT-Extended uses when it mints tokens."""

    @jwt.additional_claims_loader
    def _claims(user) -> dict[str, Any]:
        return {VERSION_CLAIM: user.token_version}

    @jwt.user_identity_loader
    def _identity(user) -> str:
        # PyJWT >= 2.10 requires a string subject.
        return str(user.id)


def current_user() -> AuthUser:
    """The caller behind the verified token of this request."""
    done = g.get("_auth")
    if done is None or done[0] is not request._get_current_object():
        raise invalid("Missing Authorization header with a Bearer token")
    return done[2]


def current_actor() -> Actor:
    """The caller as an Actor (plain values for services)."""
    user = current_user()
    return Actor(id=user.id, is_admin=user.is_admin, doctor_id=user.doctor_id)


def token_claims() -> dict[str, Any]:
    """Claims of this request's verified token."""
    current_user()
    return g._auth[3]


def _guard(check: Callable[[], None]) -> Callable[[Callable], Callable]:
    def decorator(fn: Callable) -> Callable:
        @wraps(fn)
        def wrapper(*args, **kwargs):
            if request.method not in EXEMPT_METHODS:
                check()
            return fn(*args, **kwargs)

        return wrapper

    return decorator


def _admin() -> None:
    if not authenticate().is_admin:
        raise Forbidden("Administrator rights are required", "admin_required")


login_required = _guard(authenticate)
login_required.__doc__ = "Require a valid, unrevoked access token."
admin_required = _guard(_admin)
admin_required.__doc__ = "Require a valid access token of a user who is an admin right now."
refresh_required = _guard(lambda: authenticate(REFRESH))
refresh_required.__doc__ = "Require a valid, unrevoked refresh token."
