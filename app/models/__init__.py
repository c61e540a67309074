"""Typed SQLAlchemy 2.0 models; import from here."""
from app.models.base import Base, utcnow
from app.models.catalogue import Affiliation, Department, Doctor
from app.models.enums import GENDERS, STATUSES, Gender, RegistrationStatus
from app.models.ops import IdempotencyKey, JobRun, RefreshToken
from app.models.patient import Patient
from app.models.schedule import (
    MAX_APPOINTMENTS_LIMIT,
    NOTES_MAX_LENGTH,
    Registration,
    Schedule,
    holds_slot,
)
from app.models.user import User

__all__ = [
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
    "RefreshToken",
    "Registration",
    "RegistrationStatus",
    "STATUSES",
    "Schedule",
    "User",
    "holds_slot",
    "utcnow",
]
