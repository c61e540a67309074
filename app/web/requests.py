"""Request helpers for namespaces: JSON bodies, list parameters, empty responses."""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from flask import current_app, request

from app.errors import InvalidText, UnsupportedMediaType, ValidationFailed
from app.web.pagination import ListParams, parse_list_params

LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
UTF8_CHARSETS = frozenset({"utf-8", "utf8"})


def json_body(*, required: bool = True) -> dict[str, Any]:
    """The request's JSON object; {} for an empty body when not required.

    Only a body declared as JSON (application/json or application/*+json) in UTF-8 is read:
    anything else is a 415, a missing Content-Type included. The text must be UTF-8 (RFC
    8259 section 8.1); other encodings are not guessed.
    """
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise ValidationFailed("A JSON object body is required", "invalid_json")
        return {}
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if not request.is_json or charset not in UTF8_CHARSETS:
        raise UnsupportedMediaType(
            "Send the body as JSON with Content-Type: application/json (UTF-8)",
            errors={"Content-Type": "must be application/json"})
    try:
        body = current_app.json.loads(raw.decode("utf-8"))
    except InvalidText:
        raise
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise ValidationFailed("Request body is not valid JSON in UTF-8", "invalid_json") from None
    if not isinstance(body, dict):
        raise ValidationFailed("Request body must be a JSON object", "invalid_json")
    return body


def reject_lone_surrogates(items: Iterable[tuple[str | None, Any]]) -> None:
    """Refuse (400 invalid_text) any text holding a lone UTF-16 surrogate.

    ``items`` are (name, value) pairs: the members of a JSON object or the query parameters.
    Values may be nested JSON; the error names the top-level field, unless the bad text is a
    name itself (which then cannot be echoed).
    """
    for name, value in items:
        if name is not None and LONE_SURROGATE.search(name):
            raise InvalidText("A field name is not valid Unicode text (lone surrogate)")
        if _holds_lone_surrogate(value):
            problem = "must be valid Unicode text (no lone surrogates such as \\ud800)"
            raise InvalidText(f"Invalid input: {name or 'the body'} {problem}",
                              errors={name: problem} if name is not None else None)


def _holds_lone_surrogate(value: Any) -> bool:
    pending = [value]  # a loop, not recursion: nesting depth is the client's choice
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if LONE_SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def query_list_params(sortable: Sequence[str]) -> ListParams:
    """List parameters from the query string."""
    return parse_list_params(request.args, sortable)


def search_list_params(sortable: Sequence[str]) -> ListParams:
    """List parameters (with the required query) from a JSON search body."""
    return parse_list_params(json_body(), sortable, search=True)


def no_content() -> tuple[str, int]:
    """An empty 204 response."""
    return "", 204
