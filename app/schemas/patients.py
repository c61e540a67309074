"""Patients: input specs, Swagger models and the serializer."""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask_restx import Namespace, fields

from app.models import GENDERS, Patient
from app.schemas.common import (
    PHONE_HINT,
    PHONE_PATTERN,
    iso,
    list_model,
    nullable,
    search_model,
)
from app.validation import Field, restx_model

PATIENT_SORTABLE = ("id", "name", "birthday", "created_at", "updated_at")
MAX_ID = 2**31 - 1

NAME = Field(required=True, min_length=1, max_length=100, example="张三")
GENDER = Field(kind="enum", required=True, choices=GENDERS, example="male")
# Older dates are typing mistakes (1099 for 1999), not patients.
EARLIEST_BIRTHDAY = dt.date(1900, 1, 1)
BIRTHDAY = Field(kind="date", required=True, earliest=EARLIEST_BIRTHDAY, example="1990-01-31",
                 description="YYYY-MM-DD, from 1900-01-01, not in the future")
PHONE = Field(required=True, pattern=PHONE_PATTERN, pattern_hint=PHONE_HINT,
              example="+86 138 0013 8000", description="Family members may share one")

ID_NUMBER = Field(nullable=True, pattern=r"[0-9]{17}[0-9Xx]",
                  pattern_hint="must be 18 characters: 17 digits and a digit or X",
                  example="11010519491231002X",
                  description="居民身份证号码 (GB 11643): its birth date must be the birthday "
                              "and its 17th digit odd for male, even for female. Never shown "
                              "again: answers carry id_number_masked only")

PATIENT_CREATE = {
    "name": NAME,
    "gender": GENDER,
    "birthday": BIRTHDAY,
    "phone_number": PHONE,
    "user_id": Field(kind="integer", minimum=1, maximum=MAX_ID,
                     description="Owner; defaults to the caller (another user's id: admins only)"),
    "id_number": ID_NUMBER,
}
# user_id is not in the update spec: a PUT that sends it back has it ignored.
PATIENT_UPDATE = {"name": NAME, "gender": GENDER, "birthday": BIRTHDAY, "phone_number": PHONE,
                  "id_number": ID_NUMBER}


def patient_to_dict(patient: Patient) -> dict[str, Any]:
    """A Patient as the API shows it."""
    return {
        "id": patient.id,
        "user_id": patient.user_id,
        "name": patient.name,
        "gender": patient.gender,
        "birthday": iso(patient.birthday),
        "phone_number": patient.phone_number,
        "id_number_masked": patient.id_number_masked,
        "created_at": iso(patient.created_at),
        "updated_at": iso(patient.updated_at),
    }


def patient_models(ns: Namespace) -> dict[str, Any]:
    """The Patient output, list and search models, registered on `ns`."""
    patient = ns.model("Patient", {
        "id": fields.Integer(readonly=True),
        "user_id": fields.Integer(description="The owning account"),
        "name": fields.String(),
        "gender": fields.String(enum=list(GENDERS)),
        "birthday": fields.Date(),
        "phone_number": fields.String(),
        "id_number_masked": nullable(fields.String(
            readonly=True, example="110105********002X",
            description="The ID number's first 6 and last 4 characters; null without one")),
        "created_at": fields.DateTime(readonly=True),
        "updated_at": fields.DateTime(readonly=True),
    })
    return {
        "patient": patient,
        "list": list_model(ns, "PatientList", patient),
        "search": search_model(ns, "PatientSearch", PATIENT_SORTABLE),
    }


def register_models(ns: Namespace) -> dict[str, Any]:
    """Swagger models of the patients namespace."""
    models = patient_models(ns)
    models["create"] = restx_model(ns, "PatientCreate", PATIENT_CREATE)
    models["update"] = restx_model(ns, "PatientUpdate", PATIENT_UPDATE, partial=True)
    return models


PARDON = {"reason": Field(required=True, min_length=1, max_length=500,
                          example="Was in hospital that day",
                          description="Why the no-shows are forgiven, at most 500 characters")}


def credit_to_dict(credit) -> dict[str, Any]:
    """A person's no-show credit as the API shows it."""
    return {"no_shows": credit.no_shows, "limit": credit.limit,
            "window_days": credit.window_days,
            "suspended_until": iso(credit.suspended_until)}


def credit_models(ns: Namespace) -> dict[str, Any]:
    """The credit output and the pardon input models."""
    return {
        "credit": ns.model("Credit", {
            "no_shows": fields.Integer(description="Counted no-shows within the window"),
            "limit": fields.Integer(description="The policy's no_show_limit (0: off)"),
            "window_days": fields.Integer(),
            "suspended_until": nullable(fields.Date(
                description="No booking before this date; null: not suspended")),
        }),
        "pardon": restx_model(ns, "CreditPardon", PARDON),
    }
