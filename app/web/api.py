"""The flask-restx Api object: Swagger at / and the Bearer "Authorize" button."""
from typing import Any

from flask_restx import Api
from werkzeug.utils import cached_property

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
    "description": "The database is unavailable or too slow; see Retry-After",
    "schema": {"$ref": "#/definitions/Error"},
}
NOT_MODIFIED = {"description": "Not modified: If-None-Match names the current ETag"}
ETAG = {"type": "string", "description": "Hash of the body; send it back in If-None-Match"}
IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "type": "string", "required": False,
                 "description": "An ETag from an earlier answer: 304 while it is still current"}


class HospitalApi(Api):
    """The Api, with the shared answers added to its Swagger document."""

    @cached_property
    def __schema__(self) -> dict[str, Any]:
        schema = super().__schema__
        if "paths" in schema:
            add_shared_answers(schema)
        return schema


def add_shared_answers(schema: dict[str, Any]) -> None:
    """Document 503 on every operation, and the ETag, If-None-Match and 304 on every GET."""
    for item in schema["paths"].values():
        for method, operation in item.items():
            if method == "parameters":
                continue
            responses = operation.setdefault("responses", {})
            responses.setdefault("503", SERVICE_UNAVAILABLE)
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
    return HospitalApi(
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
