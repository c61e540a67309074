"""Swagger models and serializers shared by every namespace."""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask_restx import Namespace, fields

from app.validation import NOT_BLANK, nullable
from app.web.pagination import MAX_PAGE, MAX_PER_PAGE

# 5-20 characters of digits, spaces, + - ( ); a stripped value neither starts nor ends with a space.
PHONE_PATTERN = r"[0-9+()\-][0-9 +()\-]{3,18}[0-9+()\-]"
PHONE_HINT = "must be 5-20 characters of digits, spaces, + - ( )"

# An optional id filter in a query string (an empty value means no filter).
ID_QUERY_PARAM = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1, "allowEmptyValue": True}
# An empty value (`?page=`) means the default, hence allowEmptyValue.
LIST_QUERY_PARAMS = {
    "page": {"description": "Page number, from 1", "type": "integer", "default": 1,
             "minimum": 1, "maximum": MAX_PAGE, "allowEmptyValue": True},
    "per_page": {"description": "Rows per page, 1..100", "type": "integer", "default": 10,
                 "minimum": 1, "maximum": MAX_PER_PAGE, "allowEmptyValue": True},
    "sort": {"description": "Sort field (see the resource's sortable fields)", "type": "string",
             "default": "id", "allowEmptyValue": True},
    "reverse": {"description": "Descending order (true/false/1/0)", "type": "boolean",
                "default": False, "allowEmptyValue": True},
}


def iso(value: dt.datetime | dt.date | dt.time | None) -> str | None:
    """ISO 8601 text for a date, time or timezone-aware datetime (None stays None)."""
    return value.isoformat() if value is not None else None


def error_model(ns: Namespace):
    """The contract's error shape."""
    return ns.model("Error", {
        "message": fields.String(required=True, description="For people"),
        "code": fields.String(required=True, description="Stable snake_case code for programs"),
        "errors": fields.Raw(description="Field name -> what is wrong"),
        "request_id": fields.String(description="The request's X-Request-ID"),
    })


def list_model(ns: Namespace, name: str, item_model):
    """The list envelope around `item_model`."""
    return ns.model(name, {
        "results": fields.List(fields.Nested(item_model), required=True),
        "more": fields.Boolean(required=True, description="A later page exists"),
        "count": fields.Integer(required=True, description="Total number of matches"),
        "page": fields.Integer(required=True),
        "per_page": fields.Integer(required=True),
    })


def search_model(ns: Namespace, name: str, sortable: tuple[str, ...]):
    """A search body: query plus the list parameters (null means the default)."""
    return ns.model(name, {
        "query": fields.String(required=True, min_length=1, max_length=200, pattern=NOT_BLANK,
                               description="Case-insensitive substring"),
        "page": nullable(fields.Integer(default=1, min=1, max=MAX_PAGE)),
        "per_page": nullable(fields.Integer(default=10, min=1, max=MAX_PER_PAGE)),
        "sort": nullable(fields.String(default="id", enum=[*sortable, None])),
        "reverse": nullable(fields.Boolean(default=False)),
    })


def list_params_doc(sortable: tuple[str, ...]) -> dict[str, Any]:
    """Query-string parameter docs for a GET list."""
    params = {name: dict(spec) for name, spec in LIST_QUERY_PARAMS.items()}
    params["sort"]["enum"] = list(sortable)
    return params
