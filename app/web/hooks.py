"""Per-request hooks: request id, body checks and one access-log line per request."""
from __future__ import annotations

import itertools
import logging
import os
import re
import time

from flask import Flask, Response, g, request
from werkzeug.exceptions import RequestEntityTooLarge

access_log = logging.getLogger("app.access")
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Request ids only need to be unique: a random per-process prefix and a counter (no system
# call per request, unlike uuid4).
_id_state = {"prefix": os.urandom(8).hex(), "counter": itertools.count(1)}


def _new_id_prefix() -> None:
    _id_state["prefix"] = os.urandom(8).hex()
    _id_state["counter"] = itertools.count(1)


os.register_at_fork(after_in_child=_new_id_prefix)  # a forked worker gets its own prefix


def new_request_id() -> str:
    """A request id unique across processes and restarts (32 hex characters)."""
    return f"{_id_state['prefix']}{next(_id_state['counter']):016x}"


def init_hooks(app: Flask) -> None:
    """Attach the hooks to the app."""

    @app.before_request
    def _start_request() -> None:
        g.request_started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if REQUEST_ID_RE.fullmatch(incoming) else new_request_id()
        # Werkzeug only enforces MAX_CONTENT_LENGTH when the body is read; refuse it up front
        # so that endpoints which ignore their body answer 413 too.
        limit = request.max_content_length
        if limit is not None and (request.content_length or 0) > limit:
            raise RequestEntityTooLarge()

    @app.after_request
    def _finish_request(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers["X-Request-ID"] = request_id
        started = g.get("request_started")
        duration_ms = (time.perf_counter() - started) * 1000 if started else 0.0
        access_log.info(
            "%s %s %s %.1fms rid=%s",
            request.method,
            request.full_path.rstrip("?"),
            response.status_code,
            duration_ms,
            request_id,
        )
        return response
