"""Verified tokens are remembered per process: only while they are valid, only for the key
and settings that verified them."""
from __future__ import annotations

import datetime as dt
import time

import pytest
from flask_jwt_extended import create_access_token, decode_token
from jwt import DecodeError, ExpiredSignatureError, InvalidSignatureError

from app.extensions import VerifiedTokenCache, jwt
from tests.conftest import build_app


def test_a_token_verified_under_one_key_is_refused_under_another(app, test_database, factory):
    user = factory.user()
    token = factory.headers(user)["Authorization"].split()[1]
    with app.app_context():
        assert decode_token(token)["sub"] == str(user.id)  # verified, now remembered
    other = build_app(test_database, JWT_SECRET_KEY="another-signing-key-" + "x" * 40)
    with other.app_context(), pytest.raises(InvalidSignatureError):
        decode_token(token)


def test_an_expired_token_is_refused_although_it_was_verified(app, factory):
    user = factory.user()
    with app.app_context():
        token = create_access_token(identity=user, expires_delta=dt.timedelta(seconds=1))
        assert decode_token(token)["sub"] == str(user.id)  # verified, now remembered
        time.sleep(2.1)
        with pytest.raises(ExpiredSignatureError):
            decode_token(token)


def test_the_claims_handed_out_are_copies(app, factory):
    user = factory.user()
    token = factory.headers(user)["Authorization"].split()[1]
    with app.app_context():
        first = decode_token(token)
        first["sub"] = "someone else"
        assert decode_token(token)["sub"] == str(user.id)


def test_a_bad_token_is_never_remembered(app):
    before = len(jwt.verified._entries)
    with app.app_context(), pytest.raises(DecodeError):
        decode_token("not.a.token")
    assert len(jwt.verified._entries) == before


def test_the_cache_is_bounded_and_keeps_only_expiring_claims(monkeypatch):
    monkeypatch.setattr("app.extensions.time.time", lambda: 1000.0)
    cache = VerifiedTokenCache(size=2)
    for n in range(3):
        cache.put((f"token{n}",), {"sub": str(n), "exp": 2000})
    assert cache.get(("token0",), leeway=0) is None
    assert cache.get(("token2",), leeway=0) == {"sub": "2", "exp": 2000}
    cache.put(("forever",), {"sub": "x"})  # no exp: not kept
    assert cache.get(("forever",), leeway=0) is None
    cache.put(("old",), {"sub": "y", "exp": 999})
    assert cache.get(("old",), leeway=0) is None
    assert cache.get(("old",), leeway=5) == {"sub": "y", "exp": 999}
