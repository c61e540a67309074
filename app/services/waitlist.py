"""The waitlist (候补): join a full schedule, leave, list.

Waiting entries are booked by the transaction that frees a place (app/services/
freed_places.py), under the schedule row's lock; a join takes the same lock and is refused
while a place is free. So a place is never free while a waiter who could take it is waiting,
and a later entry is never booked before an earlier one it could have gone to.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.database.autocommit import Statement, run_alone
from app.errors import Conflict, NotFound, integrity_to_api_error
from app.extensions import db
from app.identity.actor import Actor
from app.models import Patient, Schedule, WaitlistEntry
from app.services.booking import lock_schedule, raise_shared_refusal, refusal
from app.services.common import commit, get_or_404
from app.services.event_actor import ACTOR_SETTINGS, actor_params
from app.services.patients import get_patient
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


# The whole join is one call of the database function join_waitlist (migration 0012): the
# policy's checks without a lock, then under the schedule row's lock the checks a concurrent
# writer could change, and the insert.
JOIN_SQL = Statement(
    ACTOR_SETTINGS + "; "
    "SELECT outcome, existing_id, entry_id, entry_status, entry_position, entry_created_at,"
    " entry_updated_at, schedule_start, release_at"
    " FROM join_waitlist(:patient_id, :schedule_id, :user_id, :is_admin, :now)"
)


@dataclass(frozen=True)
class JoinedEntry:
    """The entry a join created (the attributes entry_to_dict reads)."""

    id: int
    schedule_id: int
    patient_id: int
    status: str
    position: int
    created_at: dt.datetime
    updated_at: dt.datetime
    schedule_start: dt.datetime
    registration_id: int | None = None
    reason: str | None = None


def _duplicate_entry(schedule_id: int, patient_id: int) -> Conflict:
    return Conflict(f"Patient {patient_id} is already waiting for schedule {schedule_id}",
                    "duplicate_waitlist_entry",
                    {"patient_id": "is already on this schedule's waitlist"})


def join_waitlist(actor: Actor, schedule_id: int, patient_id: int) -> JoinedEntry:
    """Put a patient on a full schedule's waitlist (the patient's owner or an admin).

    One autocommit statement. In a rush every booking of a full, popular session waits for
    its row lock, so the checks that read other rows run before the lock is taken; under it
    only what a concurrent writer could change is read again (status, places, the patient's
    place in it), then the entry is inserted. A cancel that frees a place holds the same
    lock while it serves the waitlist, so it either sees this entry or has already given the
    place away.
    """
    params = {**actor_params(actor), "patient_id": patient_id, "schedule_id": schedule_id,
              "user_id": actor.id, "is_admin": actor.is_admin, "now": hospital_now()}
    try:
        row = run_alone(JOIN_SQL, params)
    except IntegrityError as exc:
        duplicate = _duplicate_entry(schedule_id, patient_id)
        raise integrity_to_api_error(
            exc, {"uq_waitlist_entries_waiting_patient": duplicate}) from None
    (outcome, existing_id, entry_id, status, position, created, updated, start,
     release_at) = row
    if outcome == "joined":
        return JoinedEntry(entry_id, schedule_id, patient_id, status, position, created,
                           updated, start)
    raise_shared_refusal(actor, outcome, patient_id, schedule_id, existing_id)
    if outcome == "duplicate_waitlist_entry":
        raise _duplicate_entry(schedule_id, patient_id)
    if outcome == "schedule_not_full":
        raise Conflict(f"Schedule {schedule_id} still has free places: book one instead",
                       "schedule_not_full", {"schedule_id": "is not full"})
    raise refusal(outcome, schedule_id, None, release_at)


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
