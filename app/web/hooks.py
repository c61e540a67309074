"""Per-request hooks: request id, input checks, response headers, one access-log line."""
from __future__ import annotations

import itertools
import logging
import os
import re
import time

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from app.web.caching import CACHEABLE_PATH
from app.web.requests import reject_lone_surrogates

access_log = logging.getLogger("app.access")
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Request ids only need to be unique: a random per-process prefix and a counter (no system
# call per request, unlike uuid4).
_id_state = {"prefix": os.urandom(8).hex(), "counter": itertools.count(1)}


def _new_id_prefix() -> None:
    _id_state["prefix"] = os.urandom(8).hex()
    _id_state["counter"] = itertools.count(1)


os.register_at_fork(after_in_child=_new_id_prefix)  # a forked worker gets its own prefix


# On every response (OWASP REST security headers). Nothing here is meant to be framed, the
# Swagger UI included; JSON must never be sniffed as HTML.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
}
# Catalogue reads are the same for every signed-in user and carry an ETag: a browser may keep
# them but asks again each time (a 304 while unchanged); a shared cache must not. Everything
# else is per-user (accounts, patients, registrations, statistics, tokens) and never stored.
CATALOGUE_CACHE_CONTROL = "private, no-cache"
PER_USER_CACHE_CONTROL = "no-store"
# The Swagger UI, its assets and the spec are the same for everyone: left to Flask's defaults.
DOC_ENDPOINTS = frozenset({"doc", "root", "specs"})


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
        if request.query_string:
            reject_lone_surrogates(request.args.items(multi=True))

    @app.after_request
    def _finish_request(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers["X-Request-ID"] = request_id
        _set_response_headers(response)
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


def _set_response_headers(response: Response) -> None:
    """Security and caching headers, and the charset of every JSON body."""
    headers = response.headers
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    # flask-restx names the bare media type; the JSON provider sends UTF-8.
    if headers.get("Content-Type") == "application/json":
        headers["Content-Type"] = current_app.json.mimetype
    if "Cache-Control" not in headers and not _is_doc(request.endpoint):
        headers["Cache-Control"] = (
            CATALOGUE_CACHE_CONTROL if _is_catalogue_read(response) else PER_USER_CACHE_CONTROL)


def _is_doc(endpoint: str | None) -> bool:
    return endpoint in DOC_ENDPOINTS or (endpoint or "").startswith("restx_doc.")


def _is_catalogue_read(response: Response) -> bool:
    return (request.method in ("GET", "HEAD") and response.status_code in (200, 304)
            and CACHEABLE_PATH.match(request.path) is not None)
