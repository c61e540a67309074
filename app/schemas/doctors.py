"""Doctors: input specs, Swagger models and the serializer."""
from __future__ import annotations

from typing import Any

from flask_restx import Namespace, fields

from app.models import GENDERS, Doctor
from app.schemas.common import PHONE_HINT, PHONE_PATTERN, iso, nullable
from app.validation import Field, restx_model

DOCTOR_SORTABLE = ("id", "name", "created_at", "updated_at")
NAME_MAX = 100
EMAIL_MAX = 254
DESCRIPTION_MAX = 2000
# One @, no spaces, a dotted domain whose labels do not start or end with a hyphen.
EMAIL_PATTERN = (r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
                 r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                 r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+")

DOCTOR_CREATE = {
    "name": Field(required=True, min_length=1, max_length=NAME_MAX, example="李医生"),
    "gender": Field(kind="enum", required=True, choices=GENDERS, example="female"),
    "email": Field(required=True, max_length=EMAIL_MAX, pattern=EMAIL_PATTERN,
                   pattern_hint="must be a valid email address", example="li@hospital.example"),
    "phone_number": Field(required=True, pattern=PHONE_PATTERN, pattern_hint=PHONE_HINT,
                          description="Unique among doctors", example="+86 10 6552 8000"),
    "description": Field(nullable=True, max_length=DESCRIPTION_MAX, strip=False,
                         description="At most 2000 characters"),
}
DOCTOR_UPDATE = DOCTOR_CREATE


def doctor_to_dict(doctor: Doctor) -> dict[str, Any]:
    """A Doctor as the API shows it."""
    return {
        "id": doctor.id,
        "name": doctor.name,
        "gender": doctor.gender,
        "email": doctor.email,
        "phone_number": doctor.phone_number,
        "description": doctor.description,
        "created_at": iso(doctor.created_at),
        "updated_at": iso(doctor.updated_at),
    }


def doctor_fields() -> dict[str, Any]:
    """Swagger fields of the Doctor output model."""
    return {
        "id": fields.Integer(readonly=True),
        "name": fields.String(),
        "gender": fields.String(enum=list(GENDERS)),
        "email": fields.String(),
        "phone_number": fields.String(),
        "description": nullable(fields.String()),
        "created_at": fields.DateTime(readonly=True),
        "updated_at": fields.DateTime(readonly=True),
    }


def register_models(ns: Namespace) -> dict[str, Any]:
    """Swagger models of the doctors namespace."""
    return {
        "doctor": ns.model("Doctor", doctor_fields()),
        "create": restx_model(ns, "DoctorCreate", DOCTOR_CREATE),
        "update": restx_model(ns, "DoctorUpdate", DOCTOR_UPDATE, partial=True),
    }
