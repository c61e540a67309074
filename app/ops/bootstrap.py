"""First-admin bootstrap: create it once, print a generated password once, never again."""
from __future__ import annotations

import logging
import secrets
import string

from flask import Flask
from sqlalchemy import exists, select, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from app.errors import ApiError
from app.extensions import db
from app.models import User

log = logging.getLogger(__name__)
PASSWORD_ALPHABET = string.ascii_letters + string.digits
# Any fixed 64-bit number: serialises concurrent bootstraps of several processes.
BOOTSTRAP_LOCK_ID = 7_242_011_001


def generate_password(length: int = 20) -> str:
    """A random password from letters and digits (≈119 bits for 20 characters)."""
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))


def available_admin_phone(preferred: str) -> str:
    """`preferred` unless a user already has it, else an unused random 11-digit number."""
    phone = preferred
    while db.session.scalar(select(exists().where(User.phone_number == phone))):
        phone = "1" + "".join(secrets.choice(string.digits) for _ in range(10))
    return phone


def schema_is_current(app: Flask) -> bool:
    """True when the database is at the newest migration."""
    from alembic.script import ScriptDirectory
    from flask_migrate import Migrate  # noqa: F401  (ensures the extension is loaded)

    config = app.extensions["migrate"].migrate.get_config()
    heads = set(ScriptDirectory.from_config(config).get_heads())
    try:
        rows = db.session.execute(text("SELECT version_num FROM alembic_version")).scalars()
        current = set(rows)
    except (ProgrammingError, OperationalError):
        db.session.rollback()
        return False
    return current == heads


def bootstrap_admin(app: Flask) -> User | None:
    """Create the admin named by ADMIN_USERNAME if the schema is current and no admin exists."""
    if not schema_is_current(app):
        log.info("Schema is not current; admin bootstrap skipped (run `flask db upgrade`).")
        return None
    from app.schemas.users import USER_CREATE
    from app.services.users import create_user
    from app.validation import validate

    db.session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": BOOTSTRAP_LOCK_ID})
    if db.session.scalar(select(exists().where(User.is_admin.is_(True)))):
        db.session.rollback()
        return None
    password = app.config.get("ADMIN_PASSWORD")
    generated = not password
    if generated:
        password = generate_password()
    username = app.config["ADMIN_USERNAME"]
    try:
        data = validate(USER_CREATE, {
            "username": username,
            "phone_number": available_admin_phone(app.config["ADMIN_PHONE"]),
            "password": password,
        })
        user = create_user(**data, is_admin=True, bio="Bootstrap administrator")
    except ApiError as exc:  # invalid settings, or the name belongs to a non-admin user
        db.session.rollback()
        log.error("Could not bootstrap admin %r: %s %s", username, exc.message,
                  exc.errors or "")
        return None
    if generated:
        print(f"Generated admin password: {password}", flush=True)
    log.info("Created admin user %r", user.username)
    return user
