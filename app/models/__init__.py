"""Typed SQLAlchemy 2.0 models; import from here."""
from app.models.base import Base, utcnow
from app.models.catalogue import Affiliation, Department, Doctor
from app.models.enums import GENDERS, STATUSES, Gender, RegistrationStatus
from app.models.ops import IdempotencyKey, JobRun, RefreshToken
from app.models.patient import CreditPardon, Patient, Person
from app.models.policy import BookingPolicy
from app.models.schedule import (
    MAX_APPOINTMENTS_LIMIT,
    NOTES_MAX_LENGTH,
    SCHEDULE_STATUSES,
    SLOT_MINUTES_MAX,
    SLOT_MINUTES_MIN,
    Registration,
    Schedule,
    ScheduleSlot,
    holds_slot,
)
from app.models.user import User

__all__ = [
    "Affiliation",
    "Base",
    "BookingPolicy",
    "CreditPardon",
    "Department",
    "Doctor",
    "GENDERS",
    "Gender",
    "IdempotencyKey",
    "JobRun",
    "MAX_APPOINTMENTS_LIMIT",
    "NOTES_MAX_LENGTH",
    "Patient",
    "Person",
    "RefreshToken",
    "Registration",
    "RegistrationStatus",
    "SCHEDULE_STATUSES",
    "SLOT_MINUTES_MAX",
    "SLOT_MINUTES_MIN",
    "STATUSES",
    "Schedule",
    "ScheduleSlot",
    "User",
    "holds_slot",
    "utcnow",
]
