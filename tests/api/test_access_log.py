"""One access-log line per request: method, path, status, duration and request id."""
from __future__ import annotations

import logging
import re


def test_one_access_line_per_request(client, caplog):
    caplog.set_level(logging.INFO, logger="app.access")
    client.get("/health", headers={"X-Request-ID": "trace-1"})
    client.post("/users/login", json={"username": "nobody", "password": "wrong-password"})
    lines = [r.getMessage() for r in caplog.records if r.name == "app.access"]
    assert len(lines) == 2
    assert re.fullmatch(r"GET /health 200 \d+\.\dms rid=trace-1", lines[0])
    assert re.fullmatch(r"POST /users/login 401 \d+\.\dms rid=[0-9a-f]{32}", lines[1])
