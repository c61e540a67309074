"""Fixtures: one migrated database per run, one rolled-back transaction per test.

Concurrency tests use `committing_db` / `live_server` instead: real commits on several
connections, cleaned up by truncating every table afterwards.
"""
from __future__ import annotations

import os
import threading

import pytest
from flask_jwt_extended import create_access_token, create_refresh_token
from sqlalchemy import text

os.environ["APP_ENV"] = "testing"

from app import create_app  # noqa: E402
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


@pytest.fixture()
def db_session(app):
    """Run the test inside one transaction that is rolled back afterwards."""
    with app.app_context():
        cache.clear()  # cached catalogue responses of earlier (rolled-back) tests
        caller_cache().invalidate()  # and callers' rows
        engine = db.engine
        connection = engine.connect()
        transaction = connection.begin()
        engines = db._app_engines[app]
        engines[None] = connection
        try:
            yield db.session
        finally:
            db.session.remove()
            engines[None] = engine
            transaction.rollback()
            connection.close()


@pytest.fixture()
def client(app, db_session):
    """A test client whose requests share the test's transaction."""
    return app.test_client()


@pytest.fixture()
def factory(app, db_session):
    """Builders for users, tokens and catalogue rows inside the test transaction."""
    return Factory(app)


def truncate_all(app) -> None:
    """Empty every table (for tests that really commit)."""
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture()
def committing_db(app):
    """Real commits (no wrapping transaction); every table is emptied afterwards."""
    truncate_all(app)
    with app.app_context():
        cache.clear()
        caller_cache().invalidate()
        yield Factory(app)
        db.session.remove()
    truncate_all(app)


@pytest.fixture()
def live_server(app, committing_db):
    """The app served by waitress on a free port, for concurrent HTTP clients."""
    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=16,
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
def token_for(app):
    """A function returning Authorization headers for a user (access token)."""

    def make(user, refresh: bool = False) -> dict[str, str]:
        with app.app_context():
            token = (create_refresh_token if refresh else create_access_token)(identity=user)
        return {"Authorization": f"Bearer {token}"}

    return make
