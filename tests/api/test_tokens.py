"""Bearer tokens are checked by app/identity/tokens.py over PyJWT's public API: verified
once per process while valid, only for the key and algorithms that verified them, and every
refusal is a 401 in the error shape."""
from __future__ import annotations

import datetime as dt
import time

import jwt as pyjwt
import pytest
from flask_jwt_extended import create_access_token, create_refresh_token

from app.errors import Unauthorized
from app.identity import tokens
from app.identity.tokens import ACCESS, REFRESH, VerifiedTokens, verify
from tests.assertions import assert_error
from tests.conftest import build_app


def test_a_token_verified_under_one_key_is_refused_under_another(app, test_database, factory):
    user = factory.user()
    token = factory.headers(user)["Authorization"].split()[1]
    with app.test_request_context():
        assert verify(token, ACCESS)["sub"] == str(user.id)  # verified, now remembered
    other = build_app(test_database, JWT_SECRET_KEY="another-signing-key-" + "x" * 40)
    with other.test_request_context(), pytest.raises(Unauthorized) as info:
        verify(token, ACCESS)
    assert info.value.code == "invalid_token"


def test_an_expired_token_is_refused_although_it_was_verified(app, factory):
    user = factory.user()
    with app.test_request_context():
        token = create_access_token(identity=user, expires_delta=dt.timedelta(seconds=1))
        assert verify(token, ACCESS)["sub"] == str(user.id)
        time.sleep(2.1)
        with pytest.raises(Unauthorized) as info:
            verify(token, ACCESS)
    assert info.value.code == "token_expired"


def test_a_token_of_the_other_type_is_refused(app, factory):
    user = factory.user()
    with app.test_request_context():
        refresh = create_refresh_token(identity=user)
        access = create_access_token(identity=user)
        assert verify(refresh, REFRESH)["type"] == "refresh"
        for token, wanted in ((refresh, ACCESS), (access, REFRESH)):
            with pytest.raises(Unauthorized) as info:
                verify(token, wanted)
            assert "Wrong token type" in info.value.message


def test_a_bad_token_is_never_remembered(app):
    before = len(tokens.verified._entries)
    with app.test_request_context(), pytest.raises(Unauthorized):
        verify("not.a.token", ACCESS)
    assert len(tokens.verified._entries) == before


@pytest.mark.parametrize("claim", ["exp", "sub", "type", "jti", "iat"])
def test_a_token_without_a_required_claim_is_refused(app, client, factory, claim):
    user = factory.user()
    now = int(time.time())
    claims = {"sub": str(user.id), "type": "access", "jti": "x", "iat": now, "nbf": now,
              "exp": now + 600, "ver": user.token_version, "fresh": False}
    del claims[claim]
    token = pyjwt.encode(claims, app.config["JWT_SECRET_KEY"], algorithm="HS256")
    r = client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    assert_error(r, 401, "invalid_token")


def test_the_memo_is_bounded_and_forgets_expired_claims(monkeypatch):
    monkeypatch.setattr("app.identity.tokens.time.time", lambda: 1000.0)
    memo = VerifiedTokens(size=2)
    for n in range(3):
        memo.put((f"token{n}",), {"sub": str(n), "exp": 2000})
    assert memo.get(("token0",), leeway=0) is None
    assert memo.get(("token2",), leeway=0) == {"sub": "2", "exp": 2000}
    monkeypatch.setattr("app.identity.tokens.time.time", lambda: 2001.0)
    assert memo.get(("token2",), leeway=0) is None
    assert memo.get(("token2",), leeway=5) is not None


@pytest.mark.parametrize("header", [
    "Bearer", "Bearer ", "Basic abc", "Bearer a b", "bearer", "Token abc.def.ghi",
    "Bearer \u00e9\u00e9", "Bearer Bearer x",
], ids=["no_token", "blank_token", "basic", "two_tokens", "scheme_only", "other_scheme",
        "latin1", "doubled"])
def test_malformed_authorization_headers_are_401_in_the_error_shape(client, header):
    assert_error(client.get("/users/me", headers={"Authorization": header}), 401,
                 "invalid_token")


@pytest.mark.parametrize("header", [None, "Bearer garbage", "Bearer a.b.c", "Basic x"],
                         ids=["missing", "garbage", "three_parts", "basic"])
def test_a_catalogue_id_too_large_to_route_answers_401_in_the_error_shape(client, header):
    """The catalogue cache's hook checks the token before routing: its refusal is ours too."""
    headers = {} if header is None else {"Authorization": header}
    assert_error(client.get("/departments/2199023255552", headers=headers), 401,
                 "invalid_token")


def test_a_revoked_token_on_an_unroutable_catalogue_id_is_401(client, factory):
    user = factory.user()
    headers = factory.headers(user)
    assert client.post("/users/logout", headers=headers).status_code in (200, 204)
    assert_error(client.get("/departments/2199023255552", headers=headers), 401,
                 "invalid_token")
