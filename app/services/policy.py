"""The booking policy (号源规则): release (放号), booking cutoff and cancel deadline.

The rules themselves are enforced by the database (book_registration, schedule_release_at,
booking_cutoff — migration 0006); this module reads and changes the policy row, and judges
a schedule's `bookable` from the instants the database computed for it.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import BookingPolicy, Schedule
from app.models.policy import POLICY_ROW_ID
from app.services.common import commit

POLICY_FIELDS = ("horizon_days", "release_time", "booking_cutoff_minutes",
                 "cancel_deadline_minutes", "one_per_department_per_day",
                 "max_active_per_person", "no_show_limit", "no_show_window_days",
                 "no_show_suspend_days", "require_id_number", "check_in_opens_minutes")


def get_policy(*, lock: bool = False) -> BookingPolicy:
    """The policy row (created by the migration), optionally locked until commit."""
    stmt = select(BookingPolicy).where(BookingPolicy.id == POLICY_ROW_ID)
    if lock:
        stmt = stmt.with_for_update()
    policy = db.session.scalar(stmt.execution_options(populate_existing=True))
    if policy is None:  # only if someone deleted the row by hand: put the defaults back
        policy = BookingPolicy(id=POLICY_ROW_ID)
        db.session.add(policy)
        db.session.flush()
        db.session.refresh(policy)
    return policy


def update_policy(changes: dict[str, Any]) -> BookingPolicy:
    """Apply a partial change (already validated) and answer the whole policy."""
    policy = get_policy(lock=True)
    for key in POLICY_FIELDS:
        if key in changes:
            setattr(policy, key, changes[key])
    commit()
    return policy


def schedule_start(schedule: Schedule) -> dt.datetime:
    """The schedule's start, hospital wall-clock time."""
    return dt.datetime.combine(schedule.date, schedule.start_time)


def bookable(schedule: Schedule, now: dt.datetime) -> bool:
    """Whether a patient could book the schedule at `now` (released, open, not past the
    cutoff nor started, a place free) — the refusals of book_registration, read from the
    instants the database computed with the row."""
    release_at, closes_at = schedule.release_at, schedule.closes_at
    return (schedule.status == "open"
            and now < schedule_start(schedule)
            and (release_at is None or now >= release_at)
            and schedule.available_slots > 0
            and closes_at is not None and now < closes_at)


def next_clock_change(schedule: Schedule, now: dt.datetime) -> dt.datetime | None:
    """The next instant after `now` at which `bookable` may change with the clock alone."""
    if schedule.status != "open":
        return None
    instants = (schedule.release_at, schedule.closes_at, schedule_start(schedule))
    future = [moment for moment in instants if moment is not None and moment > now]
    return min(future, default=None)
