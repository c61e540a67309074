"""The waitlist (候补): join a full schedule, leave, list.

Waiting entries are booked by the transaction that frees a place (app/services/
freed_places.py), under the schedule row's lock; a join takes the same lock and is refused
while a place is free. So a place is never free while a waiter who could take it is waiting,
and a later entry is never booked before an earlier one it could have gone to.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select, text, update

from app.errors import Conflict, NotFound
from app.extensions import db
from app.identity.actor import Actor
from app.models import Patient, Registration, Schedule, WaitlistEntry, holds_slot
from app.services.booking import (
    duplicate_error,
    lock_schedule,
    refusal,
    schedule_not_found,
    schedule_started_error,
)
from app.services.common import commit, get_or_404
from app.services.patients import get_patient
from app.services.policy import get_policy, schedule_start
from app.services.schedule_rules import hospital_now
from app.web.pagination import ListParams, Page, paginate

WAITING = "waiting"
SORT_COLUMNS = {
    "id": (WaitlistEntry.id,),
    "status": (WaitlistEntry.status,),
    "created_at": (WaitlistEntry.created_at,),
    "updated_at": (WaitlistEntry.updated_at,),
}
TIEBREAK = (WaitlistEntry.id,)
def entry_not_found(entry_id: int) -> NotFound:
    """The 404 for an entry that does not exist or is not the caller's."""
    return NotFound(f"Waitlist entry {entry_id} not found", "waitlist_entry_not_found")


def _join_refusal(actor: Actor, schedule: Schedule, now: dt.datetime) -> Exception | None:
    """The booking policy's refusals, as for a booking (admins bypass release and cutoff)."""
    if now >= schedule_start(schedule):
        return schedule_started_error(schedule.id)
    if schedule.status != "open":
        return refusal("schedule_suspended", schedule.id, None, None)
    if actor.is_admin:
        return None
    if schedule.release_at is not None and now < schedule.release_at:
        return refusal("not_yet_released", schedule.id, None, schedule.release_at)
    last_start = schedule.start_time
    if schedule.slot_minutes is not None:
        last_start = db.session.scalar(text(
            "SELECT max(start_time) FROM schedule_slots WHERE schedule_id = :id"),
            {"id": schedule.id}) or schedule.start_time
    cutoff = dt.timedelta(minutes=get_policy().booking_cutoff_minutes)
    if now >= dt.datetime.combine(schedule.date, last_start) - cutoff:
        return refusal("booking_closed", schedule.id, None, None)
    return None


def join_waitlist(actor: Actor, schedule_id: int, patient_id: int) -> WaitlistEntry:
    """Put a patient on a full schedule's waitlist (the patient's owner or an admin).

    In a rush every booking of a full, popular session waits for its row lock, so the checks
    that read other rows run before the lock is taken; under it only what a concurrent
    writer could change is read again (status, places, the patient's place in it), then the
    entry is inserted. A cancel that frees a place holds the same lock while it serves the
    waitlist, so it either sees this entry or has already given the place away.
    """
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None:
        raise schedule_not_found(schedule_id)
    get_patient(actor, patient_id)
    error = _join_refusal(actor, schedule, hospital_now())
    if error is not None:
        raise error
    duplicate = Conflict(f"Patient {patient_id} is already waiting for schedule {schedule_id}",
                         "duplicate_waitlist_entry",
                         {"patient_id": "is already on this schedule's waitlist"})
    waiting = db.session.scalar(
        select(WaitlistEntry.id).where(WaitlistEntry.schedule_id == schedule_id,
                                       WaitlistEntry.patient_id == patient_id,
                                       WaitlistEntry.status == WAITING))
    if waiting is not None:
        raise duplicate
    schedule = lock_schedule(schedule_id)
    if schedule is None:
        raise schedule_not_found(schedule_id)
    if schedule.status != "open":
        raise refusal("schedule_suspended", schedule.id, None, None)
    active = db.session.scalar(
        select(Registration.id).where(Registration.patient_id == patient_id,
                                      Registration.schedule_id == schedule_id,
                                      holds_slot(Registration.status)).limit(1))
    if active is not None:
        raise duplicate_error(patient_id, schedule_id, active)
    if schedule.available_slots > 0:
        raise Conflict(f"Schedule {schedule_id} still has free places: book one instead",
                       "schedule_not_full", {"schedule_id": "is not full"})
    entry = WaitlistEntry(schedule_id=schedule_id, patient_id=patient_id, status=WAITING)
    db.session.add(entry)
    commit({"uq_waitlist_entries_waiting_patient": duplicate})
    return entry


def _visible_entry(actor: Actor, entry_id: int) -> WaitlistEntry:
    row = db.session.execute(
        select(WaitlistEntry, Patient.user_id)
        .join(Patient, Patient.id == WaitlistEntry.patient_id)
        .where(WaitlistEntry.id == entry_id)).one_or_none()
    if row is None or not (actor.is_admin or row[1] == actor.id):
        raise entry_not_found(entry_id)
    return row[0]


def leave_waitlist(actor: Actor, entry_id: int) -> None:
    """A waiting entry leaves the waitlist (its patient's owner or an admin)."""
    entry = _visible_entry(actor, entry_id)
    lock_schedule(entry.schedule_id)  # the global lock order: the schedule, then the entry
    entry = db.session.scalar(
        select(WaitlistEntry).where(WaitlistEntry.id == entry_id).with_for_update()
        .execution_options(populate_existing=True))
    if entry is None:
        raise entry_not_found(entry_id)
    if entry.status != WAITING:
        raise Conflict(f"Waitlist entry {entry_id} is {entry.status}, no longer waiting",
                       "not_waiting", {"status": f"is {entry.status}"})
    entry.status = "left"
    commit()


def expire_started(now: dt.datetime) -> int:
    """Waiting entries of schedules that have started become expired (the periodic job;
    answers show them expired from the start on)."""
    started = select(Schedule.id).where(
        Schedule.date + Schedule.start_time <= now)
    stmt = (update(WaitlistEntry)
            .where(WaitlistEntry.status == WAITING, WaitlistEntry.schedule_id.in_(started))
            .values(status="expired", updated_at=db.func.now())
            .execution_options(synchronize_session=False))
    return db.session.execute(stmt).rowcount


def list_schedule_waitlist(schedule_id: int, params: ListParams) -> Page:
    """Every entry of a schedule, whatever its status (admins)."""
    get_or_404(Schedule, schedule_id, "Schedule")
    stmt = select(WaitlistEntry).where(WaitlistEntry.schedule_id == schedule_id)
    return paginate(db.session, stmt, params, SORT_COLUMNS, TIEBREAK)


def list_patient_waitlist(actor: Actor, patient_id: int, params: ListParams) -> Page:
    """Every entry of a patient (its owner or an admin)."""
    get_patient(actor, patient_id)
    stmt = select(WaitlistEntry).where(WaitlistEntry.patient_id == patient_id)
    return paginate(db.session, stmt, params, SORT_COLUMNS, TIEBREAK)
