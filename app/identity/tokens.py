"""Checking bearer tokens, over PyJWT's public API.

Tokens are minted by Flask-JWT-Extended (``create_access_token`` / ``create_refresh_token``,
with the claims loaders in app/identity/auth.py). They are checked here: one PyJWT
``decode`` verifies signature, algorithm, expiry and required claims, and the claims of a
token that passed are remembered per process until the token expires, so a client sending the
same token with every request pays for the verification once. The memo is keyed by the token
string *and* the key and algorithms that verified it. Revocation is not part of this check:
app/identity/auth.py compares the token's version with the caller's row on every request.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from flask import current_app, request
from flask_jwt_extended import create_access_token, create_refresh_token

from app.errors import Unauthorized

REQUIRED_CLAIMS = ("exp", "iat", "sub", "type", "jti")
ACCESS, REFRESH = "access", "refresh"
FAMILY_CLAIM = "fam"


@dataclass(frozen=True)
class TokenPair:
    """An access token and a refresh token, with what rotation records of the latter."""

    access_token: str
    refresh_token: str
    refresh_jti: str
    family: str
    refresh_expires_at: dt.datetime


def mint_pair(user, family: str | None = None) -> TokenPair:
    """A new access/refresh pair for `user`; the refresh token joins `family` (new if None)."""
    family = family or uuid.uuid4().hex
    # Our own jti (additional claims take precedence, as documented), so that the token
    # need not be decoded again to learn it.
    jti = uuid.uuid4().hex
    refresh = create_refresh_token(identity=user,
                                   additional_claims={FAMILY_CLAIM: family, "jti": jti})
    expires_at = dt.datetime.now(dt.UTC) + current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
    return TokenPair(create_access_token(identity=user), refresh, jti, family, expires_at)


class VerifiedTokens:
    """Claims of tokens that passed verification, until they expire; bounded, oldest out."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._entries: dict[tuple, tuple[dict[str, Any], float]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple, leeway: float) -> dict[str, Any] | None:
        """The claims stored under `key` while unexpired (the caller must not change them)."""
        entry = self._entries.get(key)
        if entry is None or time.time() > entry[1] + leeway:
            return None
        return entry[0]

    def put(self, key: tuple, claims: dict[str, Any]) -> None:
        """Remember verified claims."""
        with self._lock:  # evicting iterates the dict: not while another thread inserts
            while len(self._entries) >= self.size:
                self._entries.pop(next(iter(self._entries)), None)
            self._entries[key] = (claims, float(claims["exp"]))

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()


verified = VerifiedTokens()


def invalid(message: str = "Invalid token") -> Unauthorized:
    """The 401 for a token that cannot be used."""
    return Unauthorized(message, "invalid_token")


def bearer_token() -> str:
    """The token of the request's `Authorization: Bearer <token>` header."""
    header = request.headers.get("Authorization")
    if not header:
        raise invalid("Missing Authorization header with a Bearer token")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise invalid("Malformed Authorization header; expected 'Bearer <token>'")
    return token


def verify(token: str, expected_type: str) -> dict[str, Any]:
    """The claims of a valid token of `expected_type` (access or refresh), else 401."""
    config = current_app.config
    key = config["JWT_SECRET_KEY"]
    algorithms = (config["JWT_ALGORITHM"],)
    leeway = float(config.get("JWT_DECODE_LEEWAY", 0))
    memo_key = (token, key, algorithms)
    claims = verified.get(memo_key, leeway)
    if claims is None:
        try:
            claims = jwt.decode(token, key, algorithms=list(algorithms), leeway=leeway,
                                options={"require": list(REQUIRED_CLAIMS)})
        except jwt.ExpiredSignatureError:
            raise Unauthorized("Token has expired", "token_expired") from None
        except jwt.PyJWTError:
            raise invalid() from None
        verified.put(memo_key, claims)
    if claims.get("type") != expected_type:
        raise invalid(f"Wrong token type for this endpoint: it takes the {expected_type} "
                      "token")
    return claims
