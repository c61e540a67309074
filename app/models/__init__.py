"""Typed SQLAlchemy 2.0 models; import from here."""
from .base import Base, utcnow
from .catalogue import Affiliation, Department, Doctor
from .enums import ACTIVE_STATUSES, GENDERS, STATUSES, Gender, RegistrationStatus
from .ops import IdempotencyKey, JobRun
from .patient import Patient
from .schedule import MAX_APPOINTMENTS_LIMIT, NOTES_MAX_LENGTH, Registration, Schedule
from .user import User

__all__ = [
    "ACTIVE_STATUSES",
    "Affiliation",
    "Base",
    "Department",
    "Doctor",
    "GENDERS",
    "Gender",
    "IdempotencyKey",
    "JobRun",
    "MAX_APPOINTMENTS_LIMIT",
    "NOTES_MAX_LENGTH",
    "Patient",
    "Registration",
    "RegistrationStatus",
    "STATUSES",
    "Schedule",
    "User",
    "utcnow",
]
