"""Configuration, read from the environment each time an app is built."""
from __future__ import annotations

import math
import os
from datetime import timedelta
from typing import Any

ENVIRONMENTS = ("development", "testing", "production")
PRODUCTION_REQUIRED = ("DATABASE_URL", "SECRET_KEY", "JWT_SECRET_KEY")
SIGNING_KEYS = ("SECRET_KEY", "JWT_SECRET_KEY")
MIN_SECRET_BYTES = 32
DEV_SECRET_KEY = "dev-secret-key-not-for-production"
DEV_JWT_SECRET_KEY = "dev-jwt-secret-key-not-for-production-use"
TEST_SECRET_KEY = "test-secret-key"
TEST_JWT_SECRET_KEY = "test-jwt-secret-key-that-is-long-enough-for-hs256"
# Keys anyone can read: the fallbacks written above, and the placeholders people paste from
# examples. Compared case-insensitively, without surrounding whitespace.
PUBLIC_SECRETS = frozenset(
    key.lower() for key in (
        DEV_SECRET_KEY, DEV_JWT_SECRET_KEY, TEST_SECRET_KEY, TEST_JWT_SECRET_KEY,
        "change-me", "changeme", "change_me", "change-this", "changethis", "secret",
        "secret-key", "secret_key", "jwt-secret", "jwt-secret-key", "jwt_secret_key",
        "your-secret-key", "your-jwt-secret-key", "please-change-me", "not-a-secret",
    )
)
GENERATE_HINT = 'python3 -c "import secrets; print(secrets.token_urlsafe(48))"'


class ConfigError(RuntimeError):
    """The environment does not describe a runnable configuration."""


def _str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _bool(name: str, default: bool) -> bool:
    value = _str(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = _str(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, not {value!r}") from exc


def _float(name: str, default: float) -> float:
    value = _str(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, not {value!r}") from exc
    if not (math.isfinite(number) and number >= 0):
        raise ConfigError(f"{name} must be a finite number >= 0, not {value!r}")
    return number


def _list(name: str, default: str) -> list[str]:
    return [item.strip() for item in (_str(name, default) or "").split(",") if item.strip()]


def base_settings() -> dict[str, Any]:
    """Settings shared by every environment, from the process environment."""
    return {
        "SECRET_KEY": _str("SECRET_KEY"),
        "JWT_SECRET_KEY": _str("JWT_SECRET_KEY"),
        # Keys the fingerprints of resident ID numbers; unset: derived from SECRET_KEY (set
        # it to keep the fingerprints when SECRET_KEY is rotated).
        "ID_NUMBER_KEY": _str("ID_NUMBER_KEY"),
        # None means "start an embedded PostgreSQL" (development and tests only).
        "DATABASE_URL": _str("DATABASE_URL"),
        "EMBEDDED_PG_DIR": _str("EMBEDDED_PG_DIR"),
        "DB_POOL_SIZE": _int("DB_POOL_SIZE", 10),
        "DB_MAX_OVERFLOW": _int("DB_MAX_OVERFLOW", 10),
        "DB_POOL_TIMEOUT": _int("DB_POOL_TIMEOUT", 5),
        "DB_CONNECT_TIMEOUT": _int("DB_CONNECT_TIMEOUT", 3),
        "DB_STATEMENT_TIMEOUT_MS": _int("DB_STATEMENT_TIMEOUT_MS", 5000),
        # Send statement_timeout and timezone=UTC as startup options of each connection. Set
        # 0 behind PgBouncer, which refuses them, and set both on the database role instead.
        "DB_STARTUP_OPTIONS": _bool("DB_STARTUP_OPTIONS", True),
        # Bounded cost per request (app/web/load.py).
        "REQUEST_TIMEOUT_SECONDS": _float("REQUEST_TIMEOUT_SECONDS", 10.0),
        "EXPENSIVE_CONCURRENCY": _int("EXPENSIVE_CONCURRENCY", 2),
        "EXPENSIVE_WAIT_SECONDS": _float("EXPENSIVE_WAIT_SECONDS", 0.05),
        "JWT_ACCESS_TOKEN_EXPIRES": timedelta(seconds=_int("JWT_ACCESS_TOKEN_EXPIRES", 900)),
        "JWT_REFRESH_TOKEN_EXPIRES": timedelta(
            seconds=_int("JWT_REFRESH_TOKEN_EXPIRES", 30 * 24 * 3600)
        ),
        "JWT_TOKEN_LOCATION": ["headers"],
        "JWT_ALGORITHM": "HS256",
        "PASSWORD_HASH_METHOD": "scrypt",
        "HOSPITAL_TIMEZONE": _str("HOSPITAL_TIMEZONE", "Asia/Shanghai"),
        # Origins allowed by CORS. None by default: production lists its frontend's origins;
        # development and tests default to any origin.
        "CORS_ORIGINS": _list("CORS_ORIGINS", ""),
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 64 * 1024),
        "ADMIN_USERNAME": _str("ADMIN_USERNAME", "admin"),
        "ADMIN_PASSWORD": _str("ADMIN_PASSWORD"),
        "ADMIN_PHONE": _str("ADMIN_PHONE", "10000000000"),
        "ADMIN_BOOTSTRAP": _bool("ADMIN_BOOTSTRAP", True),
        "REDIS_URL": _str("REDIS_URL"),
        # Every Redis call gives up after this long; after a failure Redis is left alone for
        # REDIS_RETRY_SECONDS (app/web/redis_bounds.py).
        "REDIS_TIMEOUT_SECONDS": _float("REDIS_TIMEOUT_SECONDS", 0.25),
        "REDIS_RETRY_SECONDS": _float("REDIS_RETRY_SECONDS", 5.0),
        # Namespaces this deployment's keys in a shared Redis (rate limits and cache).
        "REDIS_KEY_PREFIX": _str("REDIS_KEY_PREFIX", "hospital"),
        "RATELIMIT_ENABLED": _bool("RATELIMIT_ENABLED", True),
        "RATELIMIT_LOGIN": _str("RATELIMIT_LOGIN", "10 per minute"),
        "RATELIMIT_REGISTER": _str("RATELIMIT_REGISTER", "30 per hour"),
        "RATELIMIT_BOOKING": _str("RATELIMIT_BOOKING", "30 per minute"),
        "CACHE_ENABLED": _bool("CACHE_ENABLED", True),
        "CACHE_TIMEOUT": _int("CACHE_TIMEOUT", 300),
        "AUTH_CACHE_SECONDS": _float("AUTH_CACHE_SECONDS", 60.0),
        # How stale a process's view of other processes' writes may be (app/database/
        # generations.py): the bound on cached reads after a write made elsewhere.
        "CACHE_SYNC_SECONDS": _float("CACHE_SYNC_SECONDS", 1.0),
        "PROXY_FIX_COUNT": _int("PROXY_FIX_COUNT", 0),
        "SCHEDULER_ENABLED": _bool("SCHEDULER_ENABLED", True),
        "NO_SHOW_INTERVAL_MINUTES": _int("NO_SHOW_INTERVAL_MINUTES", 10),
        "NO_SHOW_GRACE_MINUTES": _int("NO_SHOW_GRACE_MINUTES", 30),
        # Webhooks (app/ops/webhooks.py): every event POSTed to WEBHOOK_URL, signed with
        # WEBHOOK_SECRET; retried with exponential backoff from WEBHOOK_BACKOFF_SECONDS up to
        # WEBHOOK_BACKOFF_MAX_SECONDS while the receiver fails.
        "WEBHOOK_URL": _str("WEBHOOK_URL"),
        "WEBHOOK_SECRET": _str("WEBHOOK_SECRET"),
        "WEBHOOK_INTERVAL_SECONDS": _float("WEBHOOK_INTERVAL_SECONDS", 5.0),
        "WEBHOOK_TIMEOUT_SECONDS": _float("WEBHOOK_TIMEOUT_SECONDS", 5.0),
        "WEBHOOK_BACKOFF_SECONDS": _float("WEBHOOK_BACKOFF_SECONDS", 5.0),
        "WEBHOOK_BACKOFF_MAX_SECONDS": _float("WEBHOOK_BACKOFF_MAX_SECONDS", 900.0),
        "WEBHOOK_BATCH": _int("WEBHOOK_BATCH", 100),
        "LOG_LEVEL": _str("LOG_LEVEL", "INFO"),
        # flask-restx: our handlers own every error body (see app/errors.py).
        "ERROR_INCLUDE_MESSAGE": False,
        "RESTX_ERROR_404_HELP": False,
        "RESTX_MASK_SWAGGER": False,
        "PROPAGATE_EXCEPTIONS": False,
        "TESTING": False,
        "DEBUG": False,
    }


def development_settings() -> dict[str, Any]:
    """Local development: embedded PostgreSQL unless DATABASE_URL is set."""
    settings = base_settings()
    settings["CORS_ORIGINS"] = settings["CORS_ORIGINS"] or ["*"]
    settings["SECRET_KEY"] = settings["SECRET_KEY"] or DEV_SECRET_KEY
    settings["JWT_SECRET_KEY"] = settings["JWT_SECRET_KEY"] or DEV_JWT_SECRET_KEY
    return settings


def testing_settings() -> dict[str, Any]:
    """The test suite: TEST_DATABASE_URL or an embedded PostgreSQL in a temp directory."""
    settings = base_settings()
    settings.update(
        TESTING=True,
        SECRET_KEY=TEST_SECRET_KEY,
        JWT_SECRET_KEY=TEST_JWT_SECRET_KEY,
        DATABASE_URL=_str("TEST_DATABASE_URL"),
        CORS_ORIGINS=settings["CORS_ORIGINS"] or ["*"],
        # scrypt costs ~50 ms a hash and the suite creates hundreds of users.
        PASSWORD_HASH_METHOD="pbkdf2:sha256:1000",
        RATELIMIT_ENABLED=False,
        # Tests write through the ORM as well as through requests: read the generations on
        # every cached read so that both are seen at once.
        CACHE_SYNC_SECONDS=0.0,
        SCHEDULER_ENABLED=False,
        ADMIN_BOOTSTRAP=False,
    )
    return settings


def production_settings() -> dict[str, Any]:
    """Production: the database and every secret must come from the environment."""
    missing = [name for name in PRODUCTION_REQUIRED if not _str(name)]
    if missing:
        raise ConfigError(
            "Refusing to start in production without " + ", ".join(missing) + " set."
        )
    settings = base_settings()
    keys = SIGNING_KEYS + (("ID_NUMBER_KEY",) if settings["ID_NUMBER_KEY"] else ())
    if settings["WEBHOOK_URL"]:
        if not settings["WEBHOOK_SECRET"]:
            raise ConfigError("Refusing to start in production with WEBHOOK_URL but no "
                              "WEBHOOK_SECRET: receivers could not tell our events from "
                              "forgeries.")
        keys += ("WEBHOOK_SECRET",)
    weak = [f"{name} {why}" for name in keys
            if (why := secret_weakness(settings[name])) is not None]
    if weak:
        raise ConfigError(
            "Refusing to start in production with a weak signing key: " + "; ".join(weak)
            + f". Generate each key with: {GENERATE_HINT}"
        )
    return settings


def secret_weakness(value: str) -> str | None:
    """Why `value` must not sign anything in production, or None when it may.

    A key shorter than MIN_SECRET_BYTES can be brute-forced offline from any token; a
    published key (the development and test fallbacks above, example placeholders) lets
    anyone mint an admin token.
    """
    stripped = value.strip()
    if not stripped:
        return "is only whitespace"
    if stripped.lower() in PUBLIC_SECRETS:
        return "is a publicly known value"
    if len(stripped.encode("utf-8")) < MIN_SECRET_BYTES:
        return f"is shorter than {MIN_SECRET_BYTES} bytes"
    if len(set(stripped)) < 8:
        return "repeats too few different characters"
    return None


def load_settings(env_name: str | None = None) -> dict[str, Any]:
    """Return the settings of APP_ENV (default development)."""
    name = (env_name or _str("APP_ENV", "development")).strip().lower()
    builders = {
        "development": development_settings,
        "testing": testing_settings,
        "production": production_settings,
    }
    if name not in builders:
        raise ConfigError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, not {name!r}")
    settings = builders[name]()
    settings["ENV_NAME"] = name
    return settings
