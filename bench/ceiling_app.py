"""The ceiling: a bare Flask app answering a small JSON object, served like the service.

`waitress-serve --threads N --call bench.ceiling_app:create_app` (from the project root).
No database, no auth, no hooks: what Flask + waitress alone can do on this machine.
"""
from __future__ import annotations

from flask import Flask


def create_app() -> Flask:
    """A Flask app with one route returning a small JSON object."""
    app = Flask(__name__)

    @app.get("/")
    def index():
        return {"status": "ok", "service": "ceiling"}

    return app
