"""Fixtures: one migrated database per run, one rolled-back transaction per test.

Concurrency tests use `committing_db` / `live_server` instead: real commits on several
connections, cleaned up by truncating every table afterwards.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager, suppress

import pytest
from flask_jwt_extended import create_access_token
from sqlalchemy import text

os.environ["APP_ENV"] = "testing"

from app import create_app  # noqa: E402
from app.database.autocommit import BIND_KEY as AUTOCOMMIT_BIND  # noqa: E402
from app.database.generations import generations  # noqa: E402
from app.extensions import db  # noqa: E402
from app.identity.callers import caller_cache  # noqa: E402
from app.models import Base  # noqa: E402
from app.web.caching import cache  # noqa: E402

from .db_server import TestDatabase  # noqa: E402
from .factories import Factory  # noqa: E402


@pytest.fixture(scope="session")
def test_database():
    """A fresh database on TEST_DATABASE_URL's server or on an embedded PostgreSQL."""
    database = TestDatabase()
    yield database
    database.drop()


def build_app(test_database, **overrides):
    """A testing app bound to the test database (overrides win)."""
    config = {"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": test_database.url}
    config.update(overrides)
    return create_app(config)


@pytest.fixture(scope="session")
def app(test_database):
    """The app, with the schema built once from the migrations."""
    from flask_migrate import upgrade

    application = build_app(test_database)
    with application.app_context():
        upgrade()
    return application


class TestTransactionBind:
    """Where app/database/autocommit.py runs its statements during a rolled-back test.

    In production such a statement is its own transaction, committed when it returns. Here it
    runs on the test's connection, in a savepoint, after committing the session (which only
    releases the session's own savepoint): a later rollback of the session then cannot undo
    it, just as it could not undo a committed statement.
    """

    def __init__(self, connection) -> None:
        self.connection = connection

    def fetch_first(self, sql: str, params):
        """As AutocommitEngine.fetch_first, but inside the test's transaction."""
        db.session.commit()
        with self.connection.begin_nested():
            result = self.connection.exec_driver_sql(sql, dict(params))
            row = result.first() if result.returns_rows else None
            return None if row is None else tuple(row)


def forget_cached_state(app) -> None:
    """Drop what the caches hold from earlier (rolled-back or truncated) tests."""
    with suppress(Exception):  # an app built on an unreachable Redis (tests of that case)
        cache.clear()
    caller_cache().clear()
    generations().forget()


@contextmanager
def rolled_back_transaction(app):
    """Bind the app to one connection inside a transaction that is rolled back at the end."""
    with app.app_context():
        forget_cached_state(app)
        engine = db.engine
        connection = engine.connect()
        transaction = connection.begin()
        engines = db._app_engines[app]
        engines[None] = connection
        autocommit = app.extensions.get(AUTOCOMMIT_BIND)
        app.extensions[AUTOCOMMIT_BIND] = TestTransactionBind(connection)
        try:
            yield db.session
        finally:
            db.session.remove()
            engines[None] = engine
            if autocommit is None:
                app.extensions.pop(AUTOCOMMIT_BIND, None)
            else:
                app.extensions[AUTOCOMMIT_BIND] = autocommit
            transaction.rollback()
            connection.close()
            forget_cached_state(app)


@pytest.fixture()
def db_session(app):
    """Run the test inside one transaction that is rolled back afterwards."""
    with rolled_back_transaction(app) as session:
        yield session


@pytest.fixture()
def client(app, db_session):
    """A test client whose requests share the test's transaction."""
    return app.test_client()


@pytest.fixture()
def factory(app, db_session):
    """Builders for users, tokens and catalogue rows inside the test transaction."""
    return Factory(app)


def truncate_all(app) -> None:
    """Empty every table of the models (for tests that really commit)."""
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            # The booking policy's one row is part of the schema: back to the defaults.
            conn.execute(text("INSERT INTO booking_policy (id) VALUES (1)"))


@pytest.fixture()
def committing_db(app):
    """Real commits (no wrapping transaction); every table is emptied afterwards."""
    truncate_all(app)
    with app.app_context():
        forget_cached_state(app)
        yield Factory(app)
        db.session.remove()
    truncate_all(app)


@contextmanager
def serving(app, threads: int = 16):
    """The app served by waitress on a free port in a thread; yields its base URL."""
    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=threads,
                           connection_limit=200, channel_timeout=30)
    stop = threading.Event()

    def serve() -> None:
        # Poll in short rounds so the loop notices `stop` and closes its own sockets
        # (closing them from another thread breaks the select() it is blocked in).
        while not stop.is_set():
            server.asyncore.loop(timeout=0.1, map=server._map, count=1)
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    host, port = server.effective_host, server.effective_port
    try:
        yield f"http://{host}:{port}"
    finally:
        stop.set()
        thread.join(timeout=10)


@pytest.fixture()
def live_server(app, committing_db):
    """The app served by waitress on a free port, for concurrent HTTP clients."""
    with serving(app) as base:
        yield base


@pytest.fixture()
def token_for(app):
    """A function returning Authorization headers for a user (access or issued refresh token)."""

    def make(user, refresh: bool = False) -> dict[str, str]:
        with app.app_context():
            if refresh:
                return Factory(app).refresh_headers(user)
            return {"Authorization": f"Bearer {create_access_token(identity=user)}"}

    return make


@pytest.fixture()
def admin(factory):
    """An admin account."""
    return factory.admin()


@pytest.fixture()
def admin_headers(admin, token_for):
    """Authorization headers of `admin`."""
    return token_for(admin)


@pytest.fixture()
def owner(factory):
    """A plain account, the one that owns the test's patients."""
    return factory.user()


@pytest.fixture()
def owner_headers(owner, token_for):
    """Authorization headers of `owner`."""
    return token_for(owner)


@pytest.fixture()
def user_headers(factory, token_for):
    """Authorization headers of a plain account of its own (neither `owner` nor `admin`)."""
    return token_for(factory.user())
