"""Settings per environment: production secrets, password hashing, refusal to start."""
from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from werkzeug.security import check_password_hash, generate_password_hash

from app import config
from app.config import PRODUCTION_REQUIRED, ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION_ENV = {
    "DATABASE_URL": "postgresql://hospital:secret@db.invalid:5432/hospital",
    "SECRET_KEY": "q7Vt2mXc9LpR4sWn8bYk3HdJ6fGa1ZeU",
    "JWT_SECRET_KEY": "N4xw8Pq2Lr6Ty0Ub3Vc7Md1Ke5Jf9Hg2Sa4Zo8",
}


@pytest.fixture()
def production_env(monkeypatch):
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("APP_ENV", "production")
    return monkeypatch


def test_production_settings_come_from_the_environment(production_env):
    settings = load_settings("production")
    assert settings["ENV_NAME"] == "production"
    for name, value in PRODUCTION_ENV.items():
        assert settings[name] == value
    assert settings["TESTING"] is False
    assert settings["DEBUG"] is False
    assert settings["ADMIN_PASSWORD"] is None


def test_production_hashes_passwords_with_scrypt(production_env):
    settings = load_settings("production")
    assert settings["PASSWORD_HASH_METHOD"] == "scrypt"
    hashed = generate_password_hash("password123", method=settings["PASSWORD_HASH_METHOD"])
    assert hashed.startswith("scrypt:")
    assert check_password_hash(hashed, "password123")
    assert not check_password_hash(hashed, "password124")


def test_development_also_hashes_with_scrypt(monkeypatch):
    monkeypatch.delenv("PASSWORD_HASH_METHOD", raising=False)
    assert load_settings("development")["PASSWORD_HASH_METHOD"] == "scrypt"


@pytest.mark.parametrize("missing", PRODUCTION_REQUIRED)
@pytest.mark.parametrize("how", ["unset", "empty"])
def test_production_refuses_settings_without_each_secret(production_env, missing, how):
    if how == "unset":
        production_env.delenv(missing)
    else:
        production_env.setenv(missing, "")
    with pytest.raises(ConfigError, match=missing):
        load_settings("production")


def test_production_names_every_missing_setting(production_env):
    for name in PRODUCTION_REQUIRED:
        production_env.delenv(name)
    with pytest.raises(ConfigError) as info:
        load_settings("production")
    for name in PRODUCTION_REQUIRED:
        assert name in str(info.value)


WEAK_KEYS = {
    "one_letter": "a",
    "whitespace": "   ",
    "tab_and_newline": "\t\n",
    "placeholder": "change-me",
    "placeholder_padded": "  CHANGE-ME  ",
    "dev_secret": config.DEV_SECRET_KEY,
    "dev_jwt_secret": config.DEV_JWT_SECRET_KEY,
    "test_jwt_secret": config.TEST_JWT_SECRET_KEY,
    "31_bytes": "x9" * 15 + "y",
    "one_char_repeated": "a" * 64,
}


@pytest.mark.parametrize("name", config.SIGNING_KEYS)
@pytest.mark.parametrize("value", list(WEAK_KEYS.values()), ids=list(WEAK_KEYS))
def test_production_refuses_a_weak_signing_key(production_env, name, value):
    production_env.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings("production")
    message = str(info.value)
    assert name in message
    assert "secrets.token_urlsafe" in message  # says how to make a good one


def test_production_accepts_32_random_bytes(production_env):
    production_env.setenv("JWT_SECRET_KEY", "Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0fX")  # exactly 32
    assert load_settings("production")["JWT_SECRET_KEY"].startswith("Ab3d")


def test_weak_key_stops_the_server_before_it_serves(production_env):
    """The forged-admin-token attack: the published development key must not start."""
    env = {**os.environ, "APP_ENV": "production", "JWT_SECRET_KEY": config.DEV_JWT_SECRET_KEY,
           **{k: v for k, v in PRODUCTION_ENV.items() if k != "JWT_SECRET_KEY"}}
    result = subprocess.run(
        [sys.executable, "-c", "from app import create_app; create_app()"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert "JWT_SECRET_KEY is a publicly known value" in result.stderr


def test_development_has_fallback_secrets_but_production_does_not(monkeypatch):
    for name in PRODUCTION_REQUIRED:
        monkeypatch.delenv(name, raising=False)
    dev = load_settings("development")
    assert dev["SECRET_KEY"] and dev["JWT_SECRET_KEY"]
    with pytest.raises(ConfigError):
        load_settings("production")


def test_token_lifetimes_come_from_the_environment(production_env):
    production_env.setenv("JWT_ACCESS_TOKEN_EXPIRES", "60")
    production_env.setenv("JWT_REFRESH_TOKEN_EXPIRES", "3600")
    settings = load_settings("production")
    assert settings["JWT_ACCESS_TOKEN_EXPIRES"] == dt.timedelta(seconds=60)
    assert settings["JWT_REFRESH_TOKEN_EXPIRES"] == dt.timedelta(hours=1)


def test_token_lifetime_defaults(production_env):
    production_env.delenv("JWT_ACCESS_TOKEN_EXPIRES", raising=False)
    production_env.delenv("JWT_REFRESH_TOKEN_EXPIRES", raising=False)
    settings = load_settings("production")
    assert settings["JWT_ACCESS_TOKEN_EXPIRES"] == dt.timedelta(minutes=15)
    assert settings["JWT_REFRESH_TOKEN_EXPIRES"] == dt.timedelta(days=30)
    assert settings["MAX_CONTENT_LENGTH"] == 64 * 1024


def test_bad_integer_setting_is_named(production_env):
    production_env.setenv("DB_POOL_SIZE", "ten")
    with pytest.raises(ConfigError, match="DB_POOL_SIZE"):
        load_settings("production")


def test_caller_cache_lifetime(production_env, monkeypatch):
    assert load_settings()["AUTH_CACHE_SECONDS"] == 60.0
    monkeypatch.setenv("AUTH_CACHE_SECONDS", "0.5")
    assert load_settings()["AUTH_CACHE_SECONDS"] == 0.5
    monkeypatch.setenv("AUTH_CACHE_SECONDS", "0")
    assert load_settings()["AUTH_CACHE_SECONDS"] == 0.0


def test_cache_sync_interval(production_env, monkeypatch):
    assert load_settings()["CACHE_SYNC_SECONDS"] == 1.0
    monkeypatch.setenv("CACHE_SYNC_SECONDS", "0.25")
    assert load_settings()["CACHE_SYNC_SECONDS"] == 0.25


@pytest.mark.parametrize("value", ["-1", "soon", "nan", "inf"])
def test_bad_caller_cache_lifetime_is_named(production_env, monkeypatch, value):
    monkeypatch.setenv("AUTH_CACHE_SECONDS", value)
    with pytest.raises(ConfigError, match="AUTH_CACHE_SECONDS"):
        load_settings()


def test_unknown_environment_is_refused():
    with pytest.raises(ConfigError, match="APP_ENV"):
        load_settings("staging")


def test_cors_origins_are_a_list(production_env):
    production_env.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    assert load_settings("production")["CORS_ORIGINS"] == ["https://a.example",
                                                           "https://b.example"]


# --- starting the process -------------------------------------------------------------------

def start_app(env_overrides: dict[str, str]) -> subprocess.CompletedProcess:
    """Run create_app() in a fresh interpreter with APP_ENV=production."""
    env = {key: value for key, value in os.environ.items()
           if key not in PRODUCTION_ENV and not key.startswith(("ADMIN_", "TEST_"))}
    env.update(PRODUCTION_ENV)
    # No database is reachable here and none is needed: nothing may connect at start.
    env.update(APP_ENV="production", ADMIN_BOOTSTRAP="0", SCHEDULER_ENABLED="0",
               PYTHONPATH=str(ROOT))
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-c", "from app import create_app; create_app()"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )


def test_production_starts_with_every_setting():
    result = start_app({})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("missing", PRODUCTION_REQUIRED)
def test_production_refuses_to_start_without_each_setting(missing):
    # Empty rather than unset, so that a developer's .env cannot fill it in.
    result = start_app({missing: ""})
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, result.stderr
    assert "Traceback" not in result.stderr
    assert len(lines) == 1, result.stderr
    assert missing in lines[0]
    assert lines[0].startswith("Configuration error:")
    named = set(re.findall(r"\b[A-Z_]+_(?:URL|KEY)\b", lines[0]))
    assert named == {missing}


def test_production_start_names_every_missing_setting():
    result = start_app({name: "" for name in PRODUCTION_REQUIRED})
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    for name in PRODUCTION_REQUIRED:
        assert name in result.stderr


def test_production_refuses_a_webhook_without_a_strong_secret(production_env):
    production_env.setenv("WEBHOOK_URL", "https://sms-gateway.example/hook")
    with pytest.raises(ConfigError) as info:
        load_settings("production")
    assert "WEBHOOK_SECRET" in str(info.value)
    production_env.setenv("WEBHOOK_SECRET", "secret")
    with pytest.raises(ConfigError) as info:
        load_settings("production")
    assert "WEBHOOK_SECRET" in str(info.value)
    production_env.setenv("WEBHOOK_SECRET", "Zr8Kq3Wm6Tx1Vb4Nc7Lp0Hs2Jd5Fg9Ay")
    assert load_settings("production")["WEBHOOK_URL"].startswith("https://")
