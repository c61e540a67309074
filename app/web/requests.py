"""Request helpers for namespaces: JSON bodies, list parameters, empty responses."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import request

from app.errors import ValidationFailed
from app.web.pagination import ListParams, parse_list_params


def json_body(*, required: bool = True) -> dict[str, Any]:
    """The request's JSON object; {} for an empty body when not required."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise ValidationFailed("A JSON object body is required", "invalid_json")
        return {}
    try:
        body = request.get_json(force=True, silent=False)
    except Exception:
        raise ValidationFailed("Request body is not valid JSON", "invalid_json") from None
    if not isinstance(body, dict):
        raise ValidationFailed("Request body must be a JSON object", "invalid_json")
    return body


def query_list_params(sortable: Sequence[str]) -> ListParams:
    """List parameters from the query string."""
    return parse_list_params(request.args, sortable)


def search_list_params(sortable: Sequence[str]) -> ListParams:
    """List parameters (with the required query) from a JSON search body."""
    return parse_list_params(json_body(), sortable, search=True)


def no_content() -> tuple[str, int]:
    """An empty 204 response."""
    return "", 204
