"""Count the SQL statements a block of code sends to the database."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.database.generations import READ_SQL

# Transaction bookkeeping of the rolled-back test transaction, not queries of the code.
BOOKKEEPING = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")
# Reading the cache generations: a process does it at most once per CACHE_SYNC_SECONDS (the
# suite sets 0, so that writes made through the ORM show at once), not once per request.
GENERATIONS_READ = " ".join(READ_SQL.driver_sql.split())


@dataclass
class StatementLog:
    """The statements seen, in order."""

    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        """How many statements were sent."""
        return len(self.statements)

    def matching(self, fragment: str) -> list[str]:
        """Statements containing `fragment` (case-insensitive)."""
        return [s for s in self.statements if fragment.lower() in s.lower()]


@contextmanager
def count_statements(target: Any = Engine, *, include_bookkeeping: bool = False
                     ) -> Iterator[StatementLog]:
    """Record every statement executed on `target` (by default: every Engine and Connection).

    Listening on the Engine class catches statements on connections that were checked out
    before the listener was added, e.g. the connection the test fixture swaps in for the
    engine.
    """
    log = StatementLog()

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        text = " ".join(statement.split())
        if include_bookkeeping or not (text.upper().startswith(BOOKKEEPING)
                                       or text == GENERATIONS_READ):
            log.statements.append(text)

    event.listen(target, "before_cursor_execute", before_cursor_execute)
    try:
        yield log
    finally:
        event.remove(target, "before_cursor_execute", before_cursor_execute)
