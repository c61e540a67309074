"""What an ORM-executed statement may write, for the caches that watch the session."""
from __future__ import annotations

from collections.abc import Container


def writes_to(state, tables: Container[str]) -> bool:
    """Whether the statement of a `do_orm_execute` event may write to one of `tables`.

    Bulk INSERT/UPDATE/DELETE statements and textual SQL bypass the unit of work, so the
    flush events never see them: a bulk statement writes its table; textual SQL other than
    a SELECT could write anything.
    """
    statement = state.statement
    if state.is_select or str(getattr(statement, "text", "")).lstrip()[:6].upper() == "SELECT":
        return False
    table = getattr(statement, "table", None)
    name = getattr(table, "name", None)
    return name is None or name in tables
