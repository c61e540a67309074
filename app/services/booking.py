"""Booking (挂号): the rules that must hold however many requests arrive at once.

Where each rule lives (one home each):

* capacity — the counter trigger on registrations and the CHECK ``ck_schedules_capacity``;
* one active registration per patient and schedule — the partial unique index;
* which statuses hold a slot — the SQL function ``registration_holds_slot``;
* capacity per time slot — the same triggers and the CHECK ``ck_schedule_slots_capacity``;
* not after the schedule's start, not while suspended, not before the release (放号) nor
  past the cutoff (patients only), only one's own patients, which slot — the database
  function ``book_registration`` (migration 0006), which locks the schedule row, inserts,
  and reports which rule refused.

This module only translates the function's refusal into the API's error. Without an
idempotency key the function runs alone in autocommit (one round trip; the schedule row stays
locked only for that call); with one it runs inside the transaction that claims the key.

Lock order, kept by every writer of registrations: the schedule row first
(``SELECT ... FOR UPDATE``), then the registration.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.database.autocommit import Statement, run_alone
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed, integrity_to_api_error
from app.extensions import db
from app.identity.actor import Actor
from app.models import Schedule
from app.schemas.common import iso
from app.services import idempotency
from app.services.common import commit
from app.services.event_actor import ACTOR_SETTINGS, actor_params
from app.services.patients import get_patient, patient_not_found
from app.services.schedule_rules import aware, hospital_now


@dataclass(frozen=True)
class BookingOutcome:
    """What to answer: the response body and status (a replay of an earlier one or not)."""

    body: dict[str, Any]
    status: int
    replayed: bool = False


def schedule_not_found(schedule_id: int) -> NotFound:
    """The 404 for an unknown schedule."""
    return NotFound(f"Schedule {schedule_id} not found", "schedule_not_found")


def lock_schedule(schedule_id: int) -> Schedule | None:
    """The schedule row, locked until the transaction ends, with fresh counters."""
    return db.session.execute(
        select(Schedule).where(Schedule.id == schedule_id).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def schedule_started(schedule: Schedule) -> bool:
    """Whether the schedule's start (hospital wall-clock time) has been reached."""
    return hospital_now() >= dt.datetime.combine(schedule.date, schedule.start_time)


def schedule_started_error(schedule_id: int) -> Conflict:
    """409 schedule_started."""
    return Conflict(f"Schedule {schedule_id} has already started", "schedule_started",
                    {"schedule_id": "has already started"})


def schedule_full_error(schedule_id: int) -> Conflict:
    """409 schedule_full."""
    return Conflict(f"Schedule {schedule_id} is full", "schedule_full",
                    {"schedule_id": "has no free slot"})


def duplicate_error(patient_id: int, schedule_id: int, existing_id: int) -> Conflict:
    """409 duplicate_registration."""
    return Conflict(
        f"Patient {patient_id} already has registration {existing_id} on schedule "
        f"{schedule_id}",
        "duplicate_registration",
        {"patient_id": "already has an active registration on this schedule"},
    )


def person_refusal(outcome: str, patient_id: int,
                   suspended_until: dt.date | None) -> Conflict | Forbidden | None:
    """The error for a refusal of the person's rules (实名制, quotas, no-show credit)."""
    if outcome == "id_number_required":
        return Conflict(f"Patient {patient_id} needs a resident ID number to book",
                        "id_number_required", {"patient_id": "has no ID number"})
    if outcome == "booking_suspended":
        until = suspended_until.isoformat() if suspended_until else None
        return Forbidden(f"Patient {patient_id} cannot book until {until}: too many missed "
                         "appointments", "booking_suspended",
                         {"patient_id": f"is suspended until {until}"}, extra={"until": until})
    if outcome == "daily_department_limit":
        return Conflict(f"Patient {patient_id} already holds a registration in this "
                        "department on that day", "daily_department_limit",
                        {"schedule_id": "one registration per department per day"})
    if outcome == "too_many_active":
        return Conflict(f"Patient {patient_id} holds as many active registrations as allowed",
                        "too_many_active", {"patient_id": "holds too many active registrations"})
    return None


def refusal(outcome: str, schedule_id: int, slot_id: int | None,
            release_at: dt.datetime | None) -> Conflict | ValidationFailed:
    """The error for a refusal of the booking policy or of a time slot."""
    if outcome == "invalid_slot":
        return ValidationFailed(f"Slot {slot_id} is not a time slot of schedule {schedule_id}",
                                "invalid_slot", {"slot_id": "is not a slot of this schedule"})
    if outcome == "schedule_suspended":
        return Conflict(f"Schedule {schedule_id} is suspended (停诊)", "schedule_suspended",
                        {"schedule_id": "is suspended"})
    if outcome == "not_yet_released":
        when = iso(aware(release_at))
        return Conflict(f"Schedule {schedule_id} is released for booking at {when}",
                        "not_yet_released", {"schedule_id": f"is released at {when}"},
                        extra={"release_at": when})
    if outcome == "booking_closed":
        return Conflict(f"Booking for schedule {schedule_id} has closed",
                        "booking_closed", {"schedule_id": "booking has closed"})
    if outcome == "slot_full":
        return Conflict(f"Slot {slot_id} of schedule {schedule_id} is full", "slot_full",
                        {"slot_id": "has no free place"})
    raise RuntimeError(f"book_registration() answered {outcome!r}")


def raise_shared_refusal(actor: Actor, outcome: str, patient_id: int, schedule_id: int,
                         existing_id: int | None) -> None:
    """Raise the error of a refusal that book_registration() and join_waitlist() share
    (the patient, the schedule, its start, an active registration); return otherwise."""
    if outcome == "patient_not_found":
        get_patient(actor, patient_id)  # raises the 404 (or a doctor's 403) it always gave
        raise patient_not_found(patient_id)
    if outcome == "schedule_not_found":
        raise schedule_not_found(schedule_id)
    if outcome == "schedule_started":
        raise schedule_started_error(schedule_id)
    if outcome == "duplicate_registration":
        raise duplicate_error(patient_id, schedule_id, existing_id)


# The whole booking is one call of the database function book_registration (migration
# 0006): it locks the schedule row and inserts, or says which rule refused.
BOOK_SQL = Statement(
    ACTOR_SETTINGS + "; "
    "SELECT outcome, duplicate_id, registration_id, reg_status, reg_notes, reg_queue_number,"
    " reg_slot_id, reg_visit_start, reg_visit_end, reg_created_at, reg_updated_at, release_at,"
    " suspended_until"
    " FROM book_registration(:patient_id, :schedule_id, :slot_id, :notes, :user_id,"
    " :is_admin, :now)"
)


@dataclass(frozen=True)
class BookedRegistration:
    """The registration a booking created (the attributes registration_to_dict reads)."""

    id: int
    patient_id: int
    schedule_id: int
    status: str
    notes: str | None
    queue_number: int
    slot_id: int | None
    visit_start: dt.datetime
    visit_end: dt.datetime
    created_at: dt.datetime
    updated_at: dt.datetime
    cancelled_by: str | None = None
    cancel_reason: str | None = None
    moved_from_schedule_id: int | None = None
    checked_in_at: dt.datetime | None = None


@dataclass(frozen=True)
class BookingRequest:
    """What was asked: which patient, which schedule (and slot), with which notes."""

    patient_id: int
    schedule_id: int
    slot_id: int | None = None
    notes: str | None = None


def _booking_params(actor: Actor, asked: BookingRequest) -> dict[str, Any]:
    return {**actor_params(actor), "now": hospital_now(), "schedule_id": asked.schedule_id,
            "patient_id": asked.patient_id, "slot_id": asked.slot_id, "notes": asked.notes,
            "is_admin": actor.is_admin, "user_id": actor.id}


def _outcome(actor: Actor, asked: BookingRequest, row: tuple) -> BookedRegistration:
    """The created registration, or the error that explains why none was created."""
    (outcome, duplicate_id, registration_id, status, notes, queue_number, slot_id,
     visit_start, visit_end, created, updated, release_at, suspended_until) = row
    patient_id, schedule_id = asked.patient_id, asked.schedule_id
    if outcome == "booked":
        return BookedRegistration(registration_id, patient_id, schedule_id, status, notes,
                                  queue_number, slot_id, visit_start, visit_end, created,
                                  updated)
    raise_shared_refusal(actor, outcome, patient_id, schedule_id, duplicate_id)
    if outcome == "schedule_full":
        raise schedule_full_error(schedule_id)
    error = person_refusal(outcome, patient_id, suspended_until)
    if error is not None:
        raise error
    raise refusal(outcome, schedule_id, asked.slot_id, release_at)


def _book_in_session(actor: Actor, asked: BookingRequest) -> BookedRegistration:
    """Book inside the session's transaction (with an idempotency key claimed in it)."""
    try:
        row = db.session.execute(BOOK_SQL.clause, _booking_params(actor, asked)).first()
    except IntegrityError as exc:
        db.session.rollback()
        raise integrity_to_api_error(exc) from None
    return _outcome(actor, asked, row)


def _book_alone(actor: Actor, asked: BookingRequest) -> BookedRegistration:
    """Book in one autocommit statement: committed when it returns."""
    try:
        row = run_alone(BOOK_SQL, _booking_params(actor, asked))
    except IntegrityError as exc:
        raise integrity_to_api_error(exc) from None
    return _outcome(actor, asked, row)


def book_registration(
    actor: Actor,
    *,
    patient_id: int,
    schedule_id: int,
    slot_id: int | None = None,
    notes: str | None = None,
    idempotency_key: str | None = None,
    render: Callable[[Any], dict[str, Any]],
) -> BookingOutcome:
    """Book a place for a patient (in the earliest free slot unless one is chosen); with an
    idempotency key a retry gets the first answer."""
    asked = BookingRequest(patient_id, schedule_id, slot_id, notes)
    if idempotency_key is None:
        return BookingOutcome(body=render(_book_alone(actor, asked)), status=201)
    fingerprinted = {"patient_id": patient_id, "schedule_id": schedule_id, "notes": notes}
    if slot_id is not None:  # keys stored before slots existed keep their fingerprint
        fingerprinted["slot_id"] = slot_id
    request_hash = idempotency.fingerprint("book_registration", fingerprinted)
    stored = idempotency.claim_key(actor.id, idempotency_key, request_hash)
    if stored is not None:
        db.session.rollback()  # nothing to write; release the key row
        return BookingOutcome(body=stored.body, status=stored.status, replayed=True)
    body = render(_book_in_session(actor, asked))
    idempotency.store_response(actor.id, idempotency_key, 201, body)
    commit()
    return BookingOutcome(body=body, status=201)
