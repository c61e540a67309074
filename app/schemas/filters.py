"""Parsing of optional query-string filters (ids, dates, booleans) with 400 on bad values."""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from app.errors import ValidationFailed
from app.validation import parse_date
from app.web.pagination import parse_bool

MAX_ID = 2**31 - 1
ID_RE = re.compile(r"[0-9]{1,10}")


def _present(args: Mapping[str, Any], name: str) -> str | None:
    value = args.get(name)
    if value is None or not str(value).strip():
        return None
    return str(value).strip()


def query_id(args: Mapping[str, Any], name: str) -> int | None:
    """An optional positive integer id from the query string: ASCII digits, nothing else."""
    if _present(args, name) is None:
        return None
    value = str(args.get(name))
    if not ID_RE.fullmatch(value) or not 1 <= int(value) <= MAX_ID:
        raise ValidationFailed(f"{name} must be a positive integer id",
                               errors={name: "must be a positive integer id"})
    return int(value)


def query_date(args: Mapping[str, Any], name: str) -> dt.date | None:
    """An optional YYYY-MM-DD date from the query string."""
    value = _present(args, name)
    if value is None:
        return None
    try:
        return parse_date(value)
    except ValueError:
        raise ValidationFailed(f"{name} must be a date YYYY-MM-DD",
                               errors={name: "must be a real date YYYY-MM-DD"}) from None


def query_bool(args: Mapping[str, Any], name: str, default: bool | None = None) -> bool | None:
    """An optional true/false/1/0 flag from the query string."""
    value = _present(args, name)
    return default if value is None else parse_bool(name, value)
