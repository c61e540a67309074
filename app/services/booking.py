"""Booking (挂号): the rules that must hold however many requests arrive at once.

Lock order, kept by every writer of registrations: the schedule row first
(``SELECT ... FOR UPDATE``), then the registration. Under that lock the friendly checks
(started? already booked? full?) cannot be raced by another booking of the same schedule.
The database stays the final word: the booking trigger bumps ``schedules.booked_count`` and
``ck_schedules_capacity`` rejects an overbooking, the partial unique index rejects a second
active registration of one patient.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ..actor import Actor
from ..errors import Conflict, NotFound
from ..extensions import db
from ..models import ACTIVE_STATUSES, Patient, Registration, RegistrationStatus, Schedule
from . import idempotency
from .common import commit, flush
from .patients import get_patient
from .schedule_rules import hospital_now


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


def ensure_not_started(schedule: Schedule) -> None:
    """409 schedule_started once the schedule has begun."""
    if schedule_started(schedule):
        raise Conflict(f"Schedule {schedule.id} has already started", "schedule_started",
                       {"schedule_id": "has already started"})


def ensure_free_slot(schedule: Schedule) -> None:
    """409 schedule_full when every slot is taken (call with the schedule locked)."""
    if schedule.booked_count >= schedule.max_appointments:
        raise Conflict(f"Schedule {schedule.id} is full", "schedule_full",
                       {"schedule_id": "has no free slot"})


def ensure_no_active_booking(patient_id: int, schedule_id: int) -> None:
    """409 duplicate_registration when the patient already holds a slot of the schedule."""
    existing = db.session.scalar(
        select(Registration.id).where(
            Registration.patient_id == patient_id,
            Registration.schedule_id == schedule_id,
            Registration.status.in_(ACTIVE_STATUSES),
        ).limit(1)
    )
    if existing is not None:
        raise Conflict(
            f"Patient {patient_id} already has registration {existing} on schedule "
            f"{schedule_id}",
            "duplicate_registration",
            {"patient_id": "already has an active registration on this schedule"},
        )


def _insert_registration(
    actor: Actor, patient_id: int, schedule_id: int, notes: str | None
) -> Registration:
    patient: Patient = get_patient(actor, patient_id)
    schedule = lock_schedule(schedule_id)
    if schedule is None:
        raise schedule_not_found(schedule_id)
    ensure_not_started(schedule)
    ensure_no_active_booking(patient.id, schedule.id)
    ensure_free_slot(schedule)
    registration = Registration(patient_id=patient.id, schedule_id=schedule.id, notes=notes,
                                status=RegistrationStatus.scheduled.value)
    db.session.add(registration)
    flush()  # the trigger assigns queue_number; the constraints have the last word
    return registration


def book_registration(
    actor: Actor,
    *,
    patient_id: int,
    schedule_id: int,
    notes: str | None = None,
    idempotency_key: str | None = None,
    render: Callable[[Registration], dict[str, Any]],
) -> BookingOutcome:
    """Book a slot for a patient; with an idempotency key a retry gets the first answer."""
    if idempotency_key is not None:
        request_hash = idempotency.fingerprint(
            "book_registration",
            {"patient_id": patient_id, "schedule_id": schedule_id, "notes": notes},
        )
        stored = idempotency.claim_key(actor.id, idempotency_key, request_hash)
        if stored is not None:
            db.session.rollback()  # nothing to write; release the key row
            return BookingOutcome(body=stored.body, status=stored.status, replayed=True)
    registration = _insert_registration(actor, patient_id, schedule_id, notes)
    body = render(registration)
    if idempotency_key is not None:
        idempotency.store_response(actor.id, idempotency_key, 201, body)
    commit()
    return BookingOutcome(body=body, status=201)
