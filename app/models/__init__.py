"""Typed SQLAlchemy 2.0 models; import from here."""
from app.models.base import Base, utcnow
from app.models.catalogue import Affiliation, Department, Doctor
from app.models.enums import GENDERS, STATUSES, Gender, RegistrationStatus
from app.models.ops import (
    Event,
    IdempotencyKey,
    JobRun,
    RefreshToken,
    WebhookCursor,
    WebhookDelivery,
)
from app.models.patient import CreditPardon, Patient, Person
from app.models.policy import BookingPolicy
from app.models.schedule import (
    CANCELLED_BY,
    MAX_APPOINTMENTS_LIMIT,
    NOTES_MAX_LENGTH,
    REASON_MAX_LENGTH,
    SCHEDULE_STATUSES,
    SLOT_MINUTES_MAX,
    SLOT_MINUTES_MIN,
    WAITLIST_STATUSES,
    Registration,
    Schedule,
    ScheduleSlot,
    WaitlistEntry,
    holds_slot,
)
from app.models.search import RegistrationTermCount
from app.models.user import User

__all__ = [
    "Affiliation",
    "Base",
    "CANCELLED_BY",
    "BookingPolicy",
    "CreditPardon",
    "Department",
    "Doctor",
    "Event",
    "GENDERS",
    "Gender",
    "IdempotencyKey",
    "JobRun",
    "MAX_APPOINTMENTS_LIMIT",
    "NOTES_MAX_LENGTH",
    "Patient",
    "Person",
    "REASON_MAX_LENGTH",
    "RefreshToken",
    "Registration",
    "RegistrationStatus",
    "RegistrationTermCount",
    "SCHEDULE_STATUSES",
    "SLOT_MINUTES_MAX",
    "SLOT_MINUTES_MIN",
    "STATUSES",
    "Schedule",
    "ScheduleSlot",
    "User",
    "WAITLIST_STATUSES",
    "WaitlistEntry",
    "WebhookCursor",
    "WebhookDelivery",
    "holds_slot",
    "utcnow",
]
