"""The flask-restx Api object (Swagger at /, the Bearer "Authorize" button) and the JSON
encoding every response shares."""
from __future__ import annotations

from typing import Any

from flask import Response, current_app
from flask.json.provider import DefaultJSONProvider
from flask_restx import Api
from werkzeug.utils import cached_property

from app.web.requests import reject_lone_surrogates

AUTHORIZATIONS = {
    "Bearer": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "Paste `Bearer <access_token>` from POST /users/login.",
    }
}


# Answers every operation shares, documented once here rather than on each operation.
SERVICE_UNAVAILABLE = {
    "description": "The database is unavailable or too slow, or the service is busy; "
                   "see Retry-After",
    "schema": {"$ref": "#/definitions/Error"},
}
NOT_MODIFIED = {"description": "Not modified: If-None-Match names the current ETag"}
ETAG = {"type": "string", "description": "Hash of the body; send it back in If-None-Match"}
UNSUPPORTED_MEDIA_TYPE = {
    "description": "The body is not declared as JSON (Content-Type: application/json, UTF-8)",
    "schema": {"$ref": "#/definitions/Error"},
}
WWW_AUTHENTICATE = {"type": "string",
                    "description": 'Bearer, or Bearer error="invalid_token" (RFC 6750)'}
IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "type": "string", "required": False,
                 "description": "An ETag from an earlier answer: 304 while it is still current"}


class ApiJSONProvider(DefaultJSONProvider):
    """The one JSON encoding of every response, and the parsing of every JSON body.

    Characters are sent as UTF-8, not as \\u escapes. Keys are sorted, so equal data is equal
    bytes whatever built it (a replayed booking comes back from a JSONB column).
    """

    ensure_ascii = False
    sort_keys = True
    mimetype = "application/json; charset=utf-8"

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse JSON; a lone surrogate escape (\\ud800) is refused, as it is no character."""
        data = super().loads(s, **kwargs)
        reject_lone_surrogates(data.items() if isinstance(data, dict) else [(None, data)])
        return data


def output_json(data: Any, code: int, headers: Any = None) -> Response:
    """flask-restx representation: the app's JSON provider, as for every other response."""
    response = current_app.json.response(data)
    response.status_code = code
    response.headers.extend(headers or {})
    return response


class HospitalApi(Api):
    """The Api, with the shared answers added to its Swagger document."""

    @cached_property
    def __schema__(self) -> dict[str, Any]:
        schema = super().__schema__
        if "paths" in schema:
            add_shared_answers(schema)
        return schema


def add_shared_answers(schema: dict[str, Any]) -> None:
    """Document 503 on every operation, 415 where a body is taken, the 401 challenge, and the
    ETag, If-None-Match and 304 on every GET."""
    for item in schema["paths"].values():
        for method, operation in item.items():
            if method == "parameters":
                continue
            responses = operation.setdefault("responses", {})
            responses.setdefault("503", SERVICE_UNAVAILABLE)
            if any(param.get("in") == "body" for param in operation.get("parameters", [])):
                responses.setdefault("415", UNSUPPORTED_MEDIA_TYPE)
            if "401" in responses:
                responses["401"].setdefault("headers", {})["WWW-Authenticate"] = WWW_AUTHENTICATE
            if method != "get":
                continue
            responses.setdefault("304", NOT_MODIFIED)
            if "200" in responses:
                responses["200"].setdefault("headers", {})["ETag"] = ETAG
            parameters = operation.setdefault("parameters", [])
            if IF_NONE_MATCH not in parameters:
                parameters.append(IF_NONE_MATCH)


def make_api() -> Api:
    """A new Api per app (tests build several apps; an Api binds to one)."""
    api = HospitalApi(
        title="Hospital Registration API",
        version="1.0",
        description=(
            "医院挂号管理系统 — accounts, patients, departments, doctors, schedules and "
            "registrations. Errors always look like "
            '`{"message": ..., "code": ..., "errors"?: {...}}`.'
        ),
        doc="/",
        authorizations=AUTHORIZATIONS,
        security="Bearer",
        catch_all_404s=False,
        validate=False,
        ordered=True,
    )
    api.representation("application/json")(output_json)
    return api
