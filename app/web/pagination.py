"""List parameters (page, per_page, sort, reverse, query) and the list envelope."""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, over, select

from app.errors import ValidationFailed

MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000_000
INT_RE = re.compile(r"-?[0-9]{1,18}")
TRUE_WORDS = {"true", "1", "yes", "on"}
FALSE_WORDS = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class ListParams:
    """Validated list parameters."""

    page: int = 1
    per_page: int = 10
    sort: str = "id"
    reverse: bool = False
    query: str | None = None

    @property
    def offset(self) -> int:
        """Rows to skip for this page."""
        return (self.page - 1) * self.per_page


def _as_int(name: str, value: Any, low: int, high: int | None, *, text: bool = True) -> int:
    if isinstance(value, bool) or (isinstance(value, str) and not text):
        raise ValidationFailed(f"{name} must be an integer", errors={name: "must be an integer"})
    if isinstance(value, str):
        # ASCII digits only, nothing around them: int() would also read " 1" (from ?page=+1,
        # a plus being a space in a query string), "+1", "١" and "²".
        if not INT_RE.fullmatch(value):
            raise ValidationFailed(f"{name} must be an integer",
                                   errors={name: "must be an integer"})
        value = int(value)
    if not isinstance(value, int):
        raise ValidationFailed(f"{name} must be an integer", errors={name: "must be an integer"})
    if value < low or (high is not None and value > high):
        rule = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValidationFailed(f"{name} must be {rule}", errors={name: f"must be {rule}"})
    return value


def parse_bool(name: str, value: Any) -> bool:
    """Accept true/false/1/0 (strings or JSON booleans)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise ValidationFailed(f"{name} must be true or false", errors={name: "must be true or false"})


def parse_list_params(
    source: Mapping[str, Any], sortable: Sequence[str], *, search: bool = False
) -> ListParams:
    """Validate list parameters from a query string or a search body.

    In a query string an empty value means the default; in a JSON body null does, and the
    values must have their JSON types (integers, a boolean).
    """
    def given(name: str) -> bool:
        value = source.get(name)
        return value is not None and (search or value != "")

    page = _as_int("page", source.get("page"), 1, MAX_PAGE, text=not search) if given(
        "page") else 1
    per_page = _as_int("per_page", source.get("per_page"), 1, MAX_PER_PAGE,
                       text=not search) if given("per_page") else 10
    sort = source.get("sort") if given("sort") else "id"
    if not isinstance(sort, str) or sort not in sortable:
        raise ValidationFailed(
            "sort must be one of: " + ", ".join(sortable),
            errors={"sort": "must be one of: " + ", ".join(sortable)},
        )
    reverse_raw = source.get("reverse")
    if search and reverse_raw is not None and not isinstance(reverse_raw, bool):
        raise ValidationFailed("reverse must be true or false",
                               errors={"reverse": "must be true or false"})
    reverse = parse_bool("reverse", reverse_raw) if given("reverse") else False
    query = None
    if search:
        query = source.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ValidationFailed("query is required", errors={"query": "is required"})
        if "\x00" in query:
            raise ValidationFailed("query must not contain NUL characters",
                                   errors={"query": "must not contain NUL characters"})
        query = query.strip()
        if len(query) > 200:
            raise ValidationFailed("query is too long",
                                   errors={"query": "must be at most 200 characters"})
    return ListParams(page=page, per_page=per_page, sort=sort, reverse=reverse, query=query)


def like_pattern(text: str) -> str:
    """A case-insensitive substring pattern with LIKE wildcards escaped."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass
class Page:
    """One page of results plus what the envelope needs."""

    items: list[Any]
    count: int
    params: ListParams

    @property
    def more(self) -> bool:
        """Whether a later page exists."""
        return self.params.page * self.params.per_page < self.count

    def envelope(self, serialize: Callable[[Any], dict]) -> dict[str, Any]:
        """The contract's list envelope."""
        return {
            "results": [serialize(item) for item in self.items],
            "more": self.more,
            "count": self.count,
            "page": self.params.page,
            "per_page": self.params.per_page,
        }


def ordering(
    params: ListParams, sort_columns: Mapping[str, Sequence[Any]], tiebreak: Sequence[Any]
) -> list[Any]:
    """The ORDER BY of a page: the sort's columns, then the tiebreak, in the asked direction."""
    columns = list(sort_columns[params.sort]) + [c for c in tiebreak
                                                 if c not in sort_columns[params.sort]]
    return [c.desc() if params.reverse else c.asc() for c in columns]


def paginate(
    session,
    stmt: Select,
    params: ListParams,
    sort_columns: Mapping[str, Sequence[Any]],
    tiebreak: Sequence[Any],
    *,
    scalars: bool = True,
) -> Page:
    """Run one statement for the page and its total (two only when the page is past the end).

    ``sort_columns`` maps a sort name to the columns it orders by; ``tiebreak`` makes the
    order total (normally the primary key).
    """
    order = ordering(params, sort_columns, tiebreak)
    if params.query is None:
        # A list: the total as an uncorrelated scalar subquery (evaluated once, as an
        # InitPlan). Counting needs only the matching rows' existence, so PostgreSQL can
        # count from an index, and the page itself reads only its rows; count(*) OVER ()
        # carried every matching row, in full, through a window (2-3x the work on a
        # 27,000-row schedule list).
        total = select(func.count()).select_from(
            stmt.order_by(None).subquery()).scalar_subquery()
    else:
        # A search: its matches are computed once and counted with the page (a subquery
        # would compute them a second time, which measured slower).
        total = over(func.count())
    paged = stmt.add_columns(total.label("_total")).order_by(*order).limit(
        params.per_page).offset(params.offset)
    rows = session.execute(paged).all()
    if rows:
        count = rows[0][-1]
        items = [row[0] for row in rows] if scalars else [tuple(row[:-1]) for row in rows]
    else:
        items = []
        count = 0
        if params.page > 1:
            count = session.execute(
                select(func.count()).select_from(stmt.order_by(None).subquery())
            ).scalar_one()
    return Page(items=items, count=count, params=params)
