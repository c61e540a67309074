"""Rate limits (Flask-Limiter) on login, registration and booking.

Storage is in memory by default and Redis when REDIS_URL is set, so that several processes
share one limit. Limits are configurable; RATELIMIT_ENABLED switches them all off.
"""
from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from app.web.redis_bounds import redis_client_options


def _login_key() -> str:
    """Address plus the username being tried: guessing one account is slowed, a family is not."""
    body = request.get_json(silent=True) if request.content_length else None
    username = body.get("username") if isinstance(body, dict) else None
    name = username.strip().lower()[:64] if isinstance(username, str) else ""
    return f"{get_remote_address()}|{name}"


def _user_key() -> str:
    """Address plus the bearer token's tail (one family's bookings share a budget)."""
    auth = request.headers.get("Authorization", "")
    return f"{get_remote_address()}|{auth[-24:]}"


limiter = Limiter(key_func=get_remote_address, headers_enabled=True)

# Only failed logins count: the 11th failure within a minute (one username, one address)
# is refused, however many successful logins there were.
login_limit = limiter.limit(
    lambda: _config("RATELIMIT_LOGIN"),
    key_func=_login_key,
    deduct_when=lambda response: response.status_code == 401,
    methods=["POST"],
)
register_limit = limiter.limit(lambda: _config("RATELIMIT_REGISTER"), methods=["POST"])
booking_limit = limiter.limit(
    lambda: _config("RATELIMIT_BOOKING"), key_func=_user_key, methods=["POST"]
)


def _config(name: str) -> str:
    from flask import current_app

    return current_app.config[name]


def init_rate_limits(app: Flask) -> None:
    """Bind the limiter with storage from REDIS_URL (memory when unset)."""
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    # If Redis is briefly unreachable, limit in memory rather than fail requests.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_KEY_PREFIX", f"{app.config['REDIS_KEY_PREFIX']}-rl")
    if app.config.get("REDIS_URL"):
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", redis_client_options(app.config))
    limiter.init_app(app)
