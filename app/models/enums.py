"""Enumerations shared by models, schemas and services."""
from __future__ import annotations

import enum


class Gender(enum.StrEnum):
    """Gender of a patient or doctor, as the design report defines it."""

    male = "male"
    female = "female"


class RegistrationStatus(enum.StrEnum):
    """Lifecycle of a registration (挂号)."""

    scheduled = "scheduled"
    checked_in = "checked_in"
    completed = "completed"
    cancelled = "cancelled"
    no_show = "no_show"


GENDERS = tuple(g.value for g in Gender)
STATUSES = tuple(s.value for s in RegistrationStatus)
