"""Changing a registration: notes, the status machine, cancel, complete and delete.

Who may do what: the patient's owner changes notes, cancels (before the start) and deletes;
the schedule's doctor marks completed or no_show (once the schedule has started); an admin
does everything, at any time. Visible-but-not-allowed is a 403, invisible a 404.

Every change of status (and every delete, whose trigger frees the slot) locks the schedule
row first and the registration second, the same order as booking, so concurrent writers
queue up instead of deadlocking and the slot checks below see the final counts.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, text

from app.errors import Conflict, Forbidden
from app.extensions import db
from app.identity.actor import Actor
from app.models import Registration, RegistrationStatus, Schedule, utcnow
from app.services.booking import (
    lock_schedule,
    person_refusal,
    schedule_started,
)
from app.services.common import commit, flush
from app.services.freed_places import serve_waitlists
from app.services.policy import get_policy
from app.services.registrations import (
    RegistrationAccess,
    is_schedule_doctor,
    registration_access,
    registration_not_found,
    require_owner,
)
from app.services.schedule_rules import hospital_now

SCHEDULED = RegistrationStatus.scheduled.value
CHECKED_IN = RegistrationStatus.checked_in.value
CANCELLED = RegistrationStatus.cancelled.value
COMPLETED = RegistrationStatus.completed.value
NO_SHOW = RegistrationStatus.no_show.value

TRANSITIONS: dict[str, frozenset[str]] = {
    SCHEDULED: frozenset({CANCELLED, COMPLETED, NO_SHOW, CHECKED_IN}),
    # Checked in (签到): seen by the doctor, or cancelled at the counter (admins only).
    CHECKED_IN: frozenset({COMPLETED, CANCELLED}),
    CANCELLED: frozenset({SCHEDULED}),
    COMPLETED: frozenset(),
    NO_SHOW: frozenset(),
}
# What a doctor may set on the registrations of its own schedules.
DOCTOR_STATUSES = frozenset({COMPLETED, NO_SHOW})
# Statuses that give the registration's place back (to the waitlist first).
FREEING = frozenset({CANCELLED, NO_SHOW})


def _lock(actor: Actor, registration_id: int) -> tuple[RegistrationAccess, Schedule]:
    """The visible registration and its schedule, both locked (schedule first)."""
    access = registration_access(actor, registration_id)
    schedule = lock_schedule(access.registration.schedule_id)
    registration = db.session.execute(
        select(Registration).where(Registration.id == registration_id).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if schedule is None or registration is None:  # deleted meanwhile
        raise registration_not_found(registration_id)
    # Judged again on the locked schedule row: its doctor is what counts from here on.
    return RegistrationAccess(registration, owner=access.owner,
                              doctor=is_schedule_doctor(actor, schedule.doctor_id)), schedule


def _doctor_only(actor: Actor, access: RegistrationAccess, new_status: str) -> None:
    if not (actor.is_admin or (access.doctor and new_status in DOCTOR_STATUSES)):
        raise Forbidden(f"Only an administrator or the schedule's doctor can mark a "
                        f"registration {new_status}", "admin_required")


def _change_status(actor: Actor, registration: Registration, schedule: Schedule,
                   new_status: str) -> None:
    """Apply the status machine and the clock; the caller has checked who may ask."""
    old_status = registration.status
    if new_status not in TRANSITIONS[old_status] or (
            old_status == CHECKED_IN and new_status == CANCELLED and not actor.is_admin):
        raise Conflict(f"A {old_status} registration cannot become {new_status}",
                       "invalid_status_transition",
                       {"status": f"cannot change from {old_status} to {new_status}"})
    if not actor.is_admin:  # admins correct records at any time
        started = schedule_started(schedule)
        if new_status == CANCELLED and started:
            raise Conflict(f"Schedule {schedule.id} has already started; it can no longer be "
                           "cancelled", "schedule_started",
                           {"status": "the schedule has already started"})
        if new_status in DOCTOR_STATUSES and not started:
            raise Conflict(f"Schedule {schedule.id} has not started yet; a registration "
                           f"cannot be marked {new_status} before it", "schedule_not_started",
                           {"status": "the schedule has not started yet"})
    if new_status == CANCELLED and not actor.is_admin:
        check_cancel_deadline(registration)
    if new_status == SCHEDULED:
        if schedule.status != "open":
            raise Conflict(f"Schedule {schedule.id} is suspended (停诊)", "schedule_suspended",
                           {"status": "the schedule is suspended"})
        _check_person_rules(actor, registration, schedule)
        registration.cancelled_by = registration.cancel_reason = None
        registration.checked_in_at = None
    elif new_status == CANCELLED:
        registration.cancelled_by = "admin" if actor.is_admin else "patient"
    elif new_status == CHECKED_IN:
        registration.checked_in_at = utcnow()
    registration.status = new_status
    if new_status == SCHEDULED:
        if schedule.slot_minutes is not None and registration.slot_id is None:
            # Its slot was laid out anew while it was cancelled: the earliest with room.
            registration.slot_id = _earliest_free_slot(schedule.id)
        # Reinstating takes a slot again. The partial unique index (one active registration
        # per patient) and the capacity CHECK decide, as for a new booking; flush() turns
        # their refusal into 409 duplicate_registration / schedule_full.
        flush()
    elif new_status in FREEING:
        serve_waitlists(schedule.id)  # the freed place goes to the first waiter who may take it


# The person rules of a booking (migration 0007), for a registration taking a place again.
PERSON_REFUSAL = text(
    "SELECT person_refusal(p.person_id, :date, :department_id, :now, :is_admin, :exclude)"
    " FROM patients AS p WHERE p.id = :patient_id")


def _check_person_rules(actor: Actor, registration: Registration, schedule: Schedule) -> None:
    """Reinstating holds a place again: the person's quotas apply as to a new booking."""
    outcome = db.session.scalar(PERSON_REFUSAL, {
        "date": schedule.date, "department_id": schedule.department_id, "now": hospital_now(),
        "is_admin": actor.is_admin, "exclude": registration.id,
        "patient_id": registration.patient_id})
    if outcome is not None:
        error = person_refusal(outcome, registration.patient_id, None)
        raise error if error is not None else RuntimeError(outcome)


def check_cancel_deadline(registration: Registration) -> None:
    """Owners cancel only until cancel_deadline_minutes before the visit (admins any time)."""
    minutes = get_policy().cancel_deadline_minutes
    if not minutes:
        return
    deadline = registration.visit_start - dt.timedelta(minutes=minutes)
    if hospital_now() >= deadline:
        raise Conflict(f"Registration {registration.id} can no longer be cancelled online: the "
                       f"deadline was {deadline:%Y-%m-%d %H:%M}", "cancel_deadline_passed",
                       {"status": "the cancel deadline has passed"})


# The slot a booking by an admin would take (earliest_free_slot(), migration 0013), else the
# first slot, whose CHECK then refuses the registration as full.
EARLIEST_FREE_SLOT = text(
    "SELECT COALESCE((SELECT f.slot_id FROM earliest_free_slot(:schedule_id, NULL, NULL, NULL)"
    " AS f), (SELECT sl.id FROM schedule_slots AS sl WHERE sl.schedule_id = :schedule_id"
    " ORDER BY sl.ordinal LIMIT 1))")


def _earliest_free_slot(schedule_id: int) -> int | None:
    """The first slot with a free place, else the first slot (whose CHECK then refuses)."""
    return db.session.scalar(EARLIEST_FREE_SLOT, {"schedule_id": schedule_id})


def cancel_registration(actor: Actor, registration_id: int) -> Registration:
    """Cancel (owners before the schedule starts, admins any time); frees the slot."""
    access, schedule = _lock(actor, registration_id)
    require_owner(actor, access, "cancel")
    _change_status(actor, access.registration, schedule, CANCELLED)
    commit()
    return access.registration


def check_in_registration(actor: Actor, registration_id: int) -> Registration:
    """The patient has arrived (签到): from check_in_opens_minutes before the visit start
    until the schedule's end (the patient's owner or an admin)."""
    access, schedule = _lock(actor, registration_id)
    require_owner(actor, access, "check in")
    registration = access.registration
    if registration.status != SCHEDULED:
        raise Conflict(f"A {registration.status} registration cannot be checked in",
                       "invalid_status_transition",
                       {"status": f"cannot change from {registration.status} to checked_in"})
    now = hospital_now()
    opens = registration.visit_start - dt.timedelta(
        minutes=get_policy().check_in_opens_minutes)
    closes = dt.datetime.combine(schedule.date, schedule.end_time)
    if not opens <= now < closes:
        raise Conflict(f"Check-in for registration {registration.id} is open from "
                       f"{opens:%Y-%m-%d %H:%M} until {closes:%Y-%m-%d %H:%M}",
                       "check_in_closed", {"status": "check-in is not open now"})
    _change_status(actor, registration, schedule, CHECKED_IN)
    commit()
    return registration


def complete_registration(actor: Actor, registration_id: int) -> Registration:
    """Mark a scheduled registration completed (admins; the schedule's doctor once started)."""
    access, schedule = _lock(actor, registration_id)
    _doctor_only(actor, access, COMPLETED)
    _change_status(actor, access.registration, schedule, COMPLETED)
    commit()
    return access.registration


def update_registration(actor: Actor, registration_id: int,
                        changes: dict[str, Any]) -> Registration:
    """Owners change notes; the schedule's doctor the status (completed | no_show); admins both.

    A status equal to the current one is no change (clients send whole objects back); a
    status from anyone else is ignored like any read-only field.
    """
    new_status = changes.get("status")
    if new_status is not None and (actor.is_admin or actor.doctor_id is not None):
        access, schedule = _lock(actor, registration_id)
        registration = access.registration
        if (actor.is_admin or access.doctor) and new_status != registration.status:
            if not actor.is_admin and new_status not in DOCTOR_STATUSES:
                raise Forbidden("A doctor can only mark a registration completed or no_show",
                                "status_not_allowed", {"status": "must be completed or no_show"})
            _change_status(actor, registration, schedule, new_status)
    else:
        access = registration_access(actor, registration_id)
    if "notes" in changes and (actor.is_admin or access.owner):
        access.registration.notes = changes["notes"]
    commit()
    return access.registration


def delete_registration(actor: Actor, registration_id: int) -> None:
    """Delete a registration; an active one frees its slot (the queue number stays used).

    Deleting a scheduled registration cancels it, so owners are held to the cancel rule:
    not once the schedule has started.
    """
    access, schedule = _lock(actor, registration_id)
    require_owner(actor, access, "delete")
    registration = access.registration
    if registration.status == CHECKED_IN and not actor.is_admin:
        raise Conflict(f"Registration {registration.id} is checked in; only the registration "
                       "office can cancel it now", "invalid_status_transition",
                       {"status": "a checked_in registration cannot be deleted by its owner"})
    if registration.status == SCHEDULED and not actor.is_admin:
        if schedule_started(schedule):
            raise Conflict(f"Schedule {schedule.id} has already started; a scheduled "
                           "registration can no longer be deleted", "schedule_started",
                           {"registration": "the schedule has already started"})
        check_cancel_deadline(registration)
    frees = registration.status in (SCHEDULED, CHECKED_IN, COMPLETED)
    db.session.delete(registration)
    if frees:
        serve_waitlists(schedule.id)
    commit()
