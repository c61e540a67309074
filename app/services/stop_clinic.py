"""Stop-clinic (停诊) and substitution (替诊): suspend and resume a schedule (admins).

The suspension is one call of the database function suspend_schedule (migration 0008): it
locks both schedules in id order (the global lock order: schedules by id, then their
registrations), checks every rule, then cancels the scheduled registrations for the hospital
or moves them to the substitute session, and expires the waiting entries — or changes
nothing and names the rule that refused.
"""
from __future__ import annotations

from sqlalchemy import text

from app.errors import Conflict, NotFound
from app.extensions import db
from app.models import Schedule
from app.services.booking import lock_schedule, schedule_not_found, schedule_started_error
from app.services.common import commit
from app.services.schedule_rules import hospital_now

SUSPEND_SQL = text("SELECT outcome, moved, cancelled"
                   " FROM suspend_schedule(:schedule_id, :reason, :substitute_id, :now)")


def _suspend_refusal(outcome: str, schedule_id: int, substitute_id: int | None) -> Exception:
    if outcome == "schedule_not_found":
        return schedule_not_found(schedule_id)
    if outcome == "substitute_not_found":
        return NotFound(f"Schedule {substitute_id} not found", "schedule_not_found",
                        {"substitute_schedule_id": "no such schedule"})
    if outcome == "schedule_started":
        return schedule_started_error(schedule_id)
    if outcome == "already_suspended":
        return Conflict(f"Schedule {schedule_id} is already suspended", "already_suspended",
                        {"schedule_id": "is already suspended"})
    if outcome == "invalid_substitute":
        return Conflict(f"Schedule {substitute_id} cannot stand in for schedule {schedule_id}:"
                        " it must be another open session of the same department that has not"
                        " started", "invalid_substitute",
                        {"substitute_schedule_id": "must be another open, not yet started "
                                                   "session of the same department"})
    if outcome == "substitute_too_small":
        return Conflict(f"Schedule {substitute_id} has too few free places for the "
                        f"registrations of schedule {schedule_id}", "substitute_too_small",
                        {"substitute_schedule_id": "has too few free places"})
    return RuntimeError(f"suspend_schedule() answered {outcome!r}")


def suspend_schedule(schedule_id: int, reason: str,
                     substitute_id: int | None = None) -> Schedule:
    """Suspend a schedule: its bookings are cancelled, or moved to the substitute."""
    row = db.session.execute(SUSPEND_SQL, {
        "schedule_id": schedule_id, "reason": reason, "substitute_id": substitute_id,
        "now": hospital_now()}).one()
    if row.outcome != "suspended":
        db.session.rollback()
        raise _suspend_refusal(row.outcome, schedule_id, substitute_id)
    commit()
    return db.session.get(Schedule, schedule_id, populate_existing=True)


def resume_schedule(schedule_id: int) -> Schedule:
    """Reopen a suspended schedule (its cancelled registrations stay cancelled)."""
    schedule = lock_schedule(schedule_id)
    if schedule is None:
        raise schedule_not_found(schedule_id)
    if schedule.status != "suspended":
        raise Conflict(f"Schedule {schedule_id} is not suspended", "not_suspended",
                       {"schedule_id": "is not suspended"})
    schedule.status = "open"
    schedule.suspend_reason = None
    commit()
    return schedule
