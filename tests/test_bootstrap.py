"""The first admin: created once at start, and the create-admin / bootstrap-admin commands."""
from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import func, select, text
from werkzeug.security import check_password_hash

from app.models import User
from app.ops.bootstrap import bootstrap_admin

GENERATED = re.compile(r"^Generated admin password: ([A-Za-z0-9]{20})$", re.MULTILINE)


@pytest.fixture()
def settings(app, monkeypatch):
    """Bootstrap settings for one test (restored afterwards)."""
    monkeypatch.setitem(app.config, "ADMIN_USERNAME", "admin")
    monkeypatch.setitem(app.config, "ADMIN_PASSWORD", None)
    monkeypatch.setitem(app.config, "ADMIN_PHONE", "10000000000")
    return app.config


def user_count(session) -> int:
    return session.scalar(select(func.count()).select_from(User))


def admins(session) -> list[User]:
    session.expire_all()
    return list(session.scalars(select(User).where(User.is_admin.is_(True))))


def test_bootstrap_uses_the_configured_password(app, db_session, settings, capsys):
    settings["ADMIN_PASSWORD"] = "configured-password"
    user = bootstrap_admin(app)
    assert user is not None
    assert (user.username, user.is_admin, user.phone_number) == ("admin", True, "10000000000")
    assert check_password_hash(user.password_hash, "configured-password")
    assert "password" not in capsys.readouterr().out.lower()
    assert [a.id for a in admins(db_session)] == [user.id]


def test_bootstrap_generates_and_prints_a_password_once(app, db_session, settings, capsys):
    user = bootstrap_admin(app)
    out = capsys.readouterr().out
    found = GENERATED.findall(out)
    assert len(found) == 1, out
    assert out.count("Generated admin password") == 1
    assert check_password_hash(user.password_hash, found[0])
    count = user_count(db_session)
    hash_before = user.password_hash

    assert bootstrap_admin(app) is None
    assert capsys.readouterr().out == ""
    assert user_count(db_session) == count
    assert [a.id for a in admins(db_session)] == [user.id]
    assert admins(db_session)[0].password_hash == hash_before


def test_generated_passwords_differ(app, db_session, settings, capsys):
    first = bootstrap_admin(app)
    password = GENERATED.findall(capsys.readouterr().out)[0]
    db_session.delete(first)
    db_session.commit()
    bootstrap_admin(app)
    assert GENERATED.findall(capsys.readouterr().out)[0] != password


def test_the_generated_password_logs_in(app, client, db_session, settings, capsys):
    bootstrap_admin(app)
    password = GENERATED.findall(capsys.readouterr().out)[0]
    r = client.post("/users/login", json={"username": "admin", "password": password})
    assert r.status_code == 200, r.json
    assert r.json["user"]["is_admin"] is True


def test_no_bootstrap_when_an_admin_exists(app, db_session, factory, settings, capsys):
    existing = factory.admin(username="chief")
    count = user_count(db_session)
    assert bootstrap_admin(app) is None
    assert capsys.readouterr().out == ""
    assert user_count(db_session) == count
    assert [a.id for a in admins(db_session)] == [existing.id]


def test_no_bootstrap_when_the_schema_is_not_current(app, db_session, settings, capsys):
    db_session.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    assert bootstrap_admin(app) is None
    assert capsys.readouterr().out == ""
    assert admins(db_session) == []


def test_bootstrap_survives_a_non_admin_with_the_admin_name(app, db_session, factory, settings,
                                                            capsys, caplog):
    factory.user(username="Admin")
    with caplog.at_level(logging.ERROR, logger="app.ops.bootstrap"):
        assert bootstrap_admin(app) is None
    assert capsys.readouterr().out == ""
    assert admins(db_session) == []
    assert "admin" in caplog.text.lower()


def test_bootstrap_takes_another_phone_when_admin_phone_is_used(app, db_session, factory,
                                                                settings, capsys):
    factory.user(phone_number="10000000000")
    user = bootstrap_admin(app)
    assert user is not None and user.is_admin
    assert user.phone_number != "10000000000"
    assert re.fullmatch(r"1\d{10}", user.phone_number)


def test_bootstrap_refuses_an_invalid_configured_password(app, db_session, settings, capsys):
    settings["ADMIN_PASSWORD"] = "short"
    assert bootstrap_admin(app) is None
    assert admins(db_session) == []


# --- CLI ------------------------------------------------------------------------------------

def test_create_admin_command(app, db_session, settings):
    result = app.test_cli_runner().invoke(
        args=["create-admin", "boss", "--password", "boss-password", "--phone", "13500000001"])
    assert result.exit_code == 0, result.output
    assert "Created admin user 'boss'" in result.output
    assert "Generated admin password" not in result.output
    user = db_session.scalar(select(User).where(User.username == "boss"))
    assert user.is_admin is True
    assert user.phone_number == "13500000001"
    assert check_password_hash(user.password_hash, "boss-password")


def test_create_admin_command_generates_a_password(app, db_session, settings):
    result = app.test_cli_runner().invoke(args=["create-admin", "boss"])
    assert result.exit_code == 0, result.output
    found = GENERATED.findall(result.output)
    assert len(found) == 1, result.output
    user = db_session.scalar(select(User).where(User.username == "boss"))
    assert check_password_hash(user.password_hash, found[0])


def test_create_admin_command_after_bootstrap(app, db_session, settings, capsys):
    assert bootstrap_admin(app) is not None
    capsys.readouterr()
    result = app.test_cli_runner().invoke(args=["create-admin", "second",
                                                "--password", "second-password"])
    assert result.exit_code == 0, result.output
    assert sorted(a.username for a in admins(db_session)) == ["admin", "second"]


@pytest.mark.parametrize("args, fragment", [
    (["create-admin", "x"], "username"),
    (["create-admin", "boss", "--password", "short"], "password"),
    (["create-admin", "boss", "--phone", "abc"], "phone_number"),
], ids=["bad-name", "short-password", "bad-phone"])
def test_create_admin_command_validates(app, db_session, settings, args, fragment):
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code != 0
    assert fragment in result.output
    assert admins(db_session) == []


def test_create_admin_command_refuses_a_taken_name(app, db_session, factory, settings):
    factory.user(username="boss")
    result = app.test_cli_runner().invoke(args=["create-admin", "BOSS",
                                                "--password", "boss-password"])
    assert result.exit_code != 0
    assert "username" in result.output
    assert admins(db_session) == []


def test_bootstrap_admin_command(app, db_session, settings):
    settings["ADMIN_PASSWORD"] = "configured-password"
    runner = app.test_cli_runner()
    assert runner.invoke(args=["bootstrap-admin"]).exit_code == 0
    assert [a.username for a in admins(db_session)] == ["admin"]
    again = runner.invoke(args=["bootstrap-admin"])
    assert again.exit_code == 0
    assert again.output == ""
    assert len(admins(db_session)) == 1
