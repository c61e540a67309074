"""Per-request hooks: request id, body checks and one access-log line per request."""
from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request
from werkzeug.exceptions import RequestEntityTooLarge

access_log = logging.getLogger("app.access")
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def init_hooks(app: Flask) -> None:
    """Attach the hooks to the app."""

    @app.before_request
    def _start_request() -> None:
        g.request_started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if REQUEST_ID_RE.fullmatch(incoming) else uuid.uuid4().hex
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
