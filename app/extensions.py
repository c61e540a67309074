"""Extension objects, bound to the app in create_app()."""
import threading
import time

import jwt as pyjwt
from flask_cors import CORS
from flask_jwt_extended import JWTManager
from flask_jwt_extended import view_decorators as jwt_views
from flask_jwt_extended.default_callbacks import default_decode_key_callback
from flask_jwt_extended.tokens import _decode_jwt
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from jwt import ExpiredSignatureError

from app.models import Base

# create_savepoint: a session bound to a connection already inside a transaction (the test
# suite's rolled-back transaction) commits to a savepoint instead; no effect on engines.
db = SQLAlchemy(model_class=Base, session_options={"join_transaction_mode": "create_savepoint"})
migrate = Migrate()


class VerifiedTokenCache:
    """Claims of tokens that passed full verification, keyed by the exact token string.

    Verifying a token is a pure function of its string and the verification settings (part
    of the key), except for the clock: a hit is only used while the token's `exp` (plus the
    configured leeway) has not passed; after that the full verification runs again and
    reports the expiry itself. Bounded: the oldest entry goes first when full.
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._entries: dict[tuple, tuple[dict, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple, leeway: float) -> dict | None:
        """A copy of the claims stored under `key` while still unexpired, else None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        claims, expires_at = entry
        if time.time() > expires_at + leeway:
            return None
        return dict(claims)

    def put(self, key: tuple, claims: dict) -> None:
        """Remember verified claims (only tokens that carry an expiry are kept)."""
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)) or self.size <= 0:
            return
        with self._lock:
            while len(self._entries) >= self.size:
                self._entries.pop(next(iter(self._entries)), None)
            self._entries[key] = (dict(claims), float(exp))

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()


class HospitalJWTManager(JWTManager):
    """JWTManager that verifies each distinct token once per process, in one decoding pass.

    A token is sent with every request. flask_jwt_extended decodes it three times to verify
    it (claims and header unverified, to find the key; then verified) and PyJWT checks every
    character of each segment in Python on each pass, which made token checks a large share
    of a request's CPU. Here, with the default key (no decode_key_loader), a token is decoded
    once with verification, and the claims of a verified token are remembered until it
    expires. Revocation is not affected: it is checked on every request against the users
    row (app/auth.py).
    """

    def __init__(self) -> None:
        super().__init__()
        self.verified = VerifiedTokenCache()

    def init_app(self, app) -> None:
        """Bind to the app, and remember decoded token headers (see _remembered_headers)."""
        super().init_app(app)
        if jwt_views.get_unverified_jwt_headers is not _remembered_headers:
            _original_headers[0] = jwt_views.get_unverified_jwt_headers
            jwt_views.get_unverified_jwt_headers = _remembered_headers

    def _decode_jwt_from_config(self, encoded_token: str, csrf_value=None,
                                allow_expired: bool = False) -> dict:
        from flask_jwt_extended.config import config

        # Everything else verification depends on is part of the key: apps in one process
        # (the test suite builds several) may use different keys and settings.
        key = (encoded_token, csrf_value, config.decode_key, tuple(config.decode_algorithms),
               str(config.decode_audience), config.decode_issuer, config.verify_sub)
        claims = None if allow_expired else self.verified.get(key, config.leeway)
        if claims is not None:
            return claims
        if self._decode_key_callback is not default_decode_key_callback:
            claims = super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        else:
            claims = _verify_with_default_key(encoded_token, csrf_value, allow_expired, config)
        if not allow_expired:
            self.verified.put(key, claims)
        return claims


_original_headers: list = [None]
_headers_seen: dict[str, dict] = {}
_HEADERS_KEPT = 4096
_headers_lock = threading.Lock()


def _remembered_headers(encoded_token: str) -> dict:
    """flask_jwt_extended's get_unverified_jwt_headers, remembered per token string.

    After verifying a token, flask_jwt_extended decodes its header once more (unverified)
    on every request. The header is a pure function of the token's first segment, so the
    decoded value is kept (bounded, oldest first out) and a copy handed back.
    """
    header = _headers_seen.get(encoded_token)
    if header is None:
        header = _original_headers[0](encoded_token)
        with _headers_lock:  # evicting iterates the dict: not while another thread inserts
            while len(_headers_seen) >= _HEADERS_KEPT:
                _headers_seen.pop(next(iter(_headers_seen)), None)
            _headers_seen[encoded_token] = dict(header)
    return dict(header)


def _verify_with_default_key(encoded_token: str, csrf_value, allow_expired: bool,
                             config) -> dict:
    """What JWTManager._decode_jwt_from_config does when the key is config.decode_key."""
    kwargs = {
        "algorithms": config.decode_algorithms,
        "audience": config.decode_audience,
        "csrf_value": csrf_value,
        "encoded_token": encoded_token,
        "identity_claim_key": config.identity_claim_key,
        "issuer": config.decode_issuer,
        "leeway": config.leeway,
        "secret": config.decode_key,
        "verify_aud": config.decode_audience is not None,
        "verify_sub": config.verify_sub,
    }
    try:
        return _decode_jwt(**kwargs, allow_expired=allow_expired)
    except ExpiredSignatureError as exc:
        # As flask_jwt_extended does: its expired-token callback receives both.
        exc.jwt_header = pyjwt.get_unverified_header(encoded_token)
        exc.jwt_data = _decode_jwt(**kwargs, allow_expired=True)
        raise


jwt = HospitalJWTManager()
cors = CORS()
