"""Assertions the API tests share."""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from werkzeug.datastructures import Headers
from werkzeug.wrappers import Response

# Top-level values some refusals carry beside message and code (e.g. not_yet_released).
ERROR_KEYS = {"message", "code", "errors", "request_id", "release_at", "until"}
SNAKE_CASE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")


def assert_error(response, status: int, code: str) -> dict:
    """The response is the contract's error shape with this status and code.

    The body is ``{"message": str, "code": snake_case str, "errors"?: {field: str}}`` plus
    the ``request_id`` that the ``X-Request-ID`` header carries; returns the body.
    """
    assert SNAKE_CASE.fullmatch(code), f"expected code {code!r} is not snake_case"
    request = getattr(response, "request", None)
    where = f"{request.method} {request.full_path.rstrip('?')}" if request else "response"
    assert response.mimetype == "application/json", (where,
                                                     response.get_data(as_text=True)[:300])
    body = response.get_json()
    assert response.status_code == status, (where, body)
    assert body["code"] == code, (where, body)
    assert isinstance(body["message"], str) and body["message"].strip(), (where, body)
    assert set(body) <= ERROR_KEYS, (where, body)
    if "errors" in body:
        errors = body["errors"]
        assert isinstance(errors, dict) and errors, (where, body)
        assert all(isinstance(field, str) and field and isinstance(text, str) and text
                   for field, text in errors.items()), (where, body)
    assert body.get("request_id"), (where, body)
    assert body["request_id"] == response.headers.get("X-Request-ID"), (where, body)
    return body


def wire_response(status: int, body: Any, headers: Mapping[str, str]) -> Response:
    """A reply read from a real server (status, decoded JSON body, headers), as a response
    object that assert_error can check."""
    received = Headers(list(dict(headers).items()))
    response = Response(json.dumps(body), status=status,
                        content_type=received.get("Content-Type"))
    if "X-Request-ID" in received:
        response.headers["X-Request-ID"] = received["X-Request-ID"]
    return response
