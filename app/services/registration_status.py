"""Changing a registration: notes, the status machine, cancel, complete and delete.

Every change of status (and every delete, whose trigger frees the slot) locks the schedule
row first and the registration second, the same order as booking, so concurrent writers
queue up instead of deadlocking and the slot checks below see the final counts.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..actor import Actor
from ..errors import Conflict, Forbidden
from ..extensions import db
from ..models import Registration, RegistrationStatus, Schedule
from .booking import ensure_free_slot, ensure_no_active_booking, lock_schedule, schedule_started
from .common import commit
from .registrations import get_registration, registration_not_found

SCHEDULED = RegistrationStatus.scheduled.value
CANCELLED = RegistrationStatus.cancelled.value
COMPLETED = RegistrationStatus.completed.value
NO_SHOW = RegistrationStatus.no_show.value

TRANSITIONS: dict[str, frozenset[str]] = {
    SCHEDULED: frozenset({CANCELLED, COMPLETED, NO_SHOW}),
    CANCELLED: frozenset({SCHEDULED}),
    COMPLETED: frozenset(),
    NO_SHOW: frozenset(),
}


def _lock(actor: Actor, registration_id: int) -> tuple[Registration, Schedule]:
    """The visible registration and its schedule, both locked (schedule first)."""
    schedule_id = get_registration(actor, registration_id).schedule_id
    schedule = lock_schedule(schedule_id)
    registration = db.session.execute(
        select(Registration).where(Registration.id == registration_id).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if schedule is None or registration is None:  # deleted meanwhile
        raise registration_not_found(registration_id)
    return registration, schedule


def _change_status(actor: Actor, registration: Registration, schedule: Schedule,
                   new_status: str) -> None:
    old_status = registration.status
    if new_status not in TRANSITIONS[old_status]:
        raise Conflict(f"A {old_status} registration cannot become {new_status}",
                       "invalid_status_transition",
                       {"status": f"cannot change from {old_status} to {new_status}"})
    if not actor.is_admin and new_status != CANCELLED:
        raise Forbidden("Only an administrator can make this status change", "admin_required")
    if new_status == CANCELLED and not actor.is_admin and schedule_started(schedule):
        raise Conflict(f"Schedule {schedule.id} has already started; it can no longer be "
                       "cancelled", "schedule_started",
                       {"status": "the schedule has already started"})
    if new_status == SCHEDULED:
        # Reinstating takes a slot again: the same rules as a new booking, bar the clock.
        ensure_no_active_booking(registration.patient_id, schedule.id)
        ensure_free_slot(schedule)
    registration.status = new_status


def _set_status(actor: Actor, registration_id: int, new_status: str) -> Registration:
    registration, schedule = _lock(actor, registration_id)
    _change_status(actor, registration, schedule, new_status)
    commit()
    return registration


def cancel_registration(actor: Actor, registration_id: int) -> Registration:
    """Cancel (owners before the schedule starts, admins any time); frees the slot."""
    return _set_status(actor, registration_id, CANCELLED)


def complete_registration(actor: Actor, registration_id: int) -> Registration:
    """Mark a scheduled registration completed (admins; 404 for others' registrations)."""
    get_registration(actor, registration_id)
    if not actor.is_admin:
        raise Forbidden("Only an administrator can complete a registration", "admin_required")
    return _set_status(actor, registration_id, COMPLETED)


def update_registration(actor: Actor, registration_id: int,
                        changes: dict[str, Any]) -> Registration:
    """Owners change notes only; admins change notes and status (by the status rules).

    A status equal to the current one is no change (clients send whole objects back).
    """
    new_status = changes.get("status") if actor.is_admin else None
    if new_status is not None:
        registration, schedule = _lock(actor, registration_id)
        if new_status != registration.status:
            _change_status(actor, registration, schedule, new_status)
    else:
        registration = get_registration(actor, registration_id)
    if "notes" in changes:
        registration.notes = changes["notes"]
    commit()
    return registration


def delete_registration(actor: Actor, registration_id: int) -> None:
    """Delete a registration; an active one frees its slot (the queue number stays used).

    Deleting a scheduled registration cancels it, so owners are held to the cancel rule:
    not once the schedule has started.
    """
    registration, schedule = _lock(actor, registration_id)
    if registration.status == SCHEDULED and not actor.is_admin and schedule_started(schedule):
        raise Conflict(f"Schedule {schedule.id} has already started; a scheduled registration "
                       "can no longer be deleted", "schedule_started",
                       {"registration": "the schedule has already started"})
    db.session.delete(registration)
    commit()
