"""A place that frees up goes to the waitlist first (候补), in the same transaction.

Every writer that frees a place — a cancel, a delete, a capacity increase, an admin's status
change, deleting a patient or an account — calls serve_waitlists() before it commits, while
it holds the schedule row's lock. The database function serve_waitlist (migration 0008)
books the waiting entries in join order through book_registration(), with the patient's own
rights, so every booking rule applies; an entry a person rule refuses is skipped.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text

from app.extensions import db
from app.services.common import flush
from app.services.schedule_rules import hospital_now

SERVE_SQL = text("SELECT serve_waitlist(:schedule_id, :now)")


def serve_waitlists(schedule_ids: int | Iterable[int]) -> None:
    """Book the waiters of schedules where places may have freed (in this transaction)."""
    ids = [schedule_ids] if isinstance(schedule_ids, int) else sorted(set(schedule_ids))
    if not ids:
        return
    flush()  # the freeing change first, so that the database sees the place
    now = hospital_now()
    for schedule_id in ids:
        db.session.execute(SERVE_SQL, {"schedule_id": schedule_id, "now": now})
