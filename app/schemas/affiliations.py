"""Affiliations: input spec, Swagger models and the serializer."""
from __future__ import annotations

from typing import Any

from flask_restx import Namespace, fields

from app.models import Affiliation, Department, Doctor
from app.schemas.common import iso
from app.schemas.departments import department_fields, department_to_dict
from app.schemas.doctors import doctor_fields, doctor_to_dict
from app.validation import Field, restx_model

AFFILIATION_SORTABLE = ("id", "created_at", "doctor_id", "department_id")
MAX_ID = 2**31 - 1

AFFILIATION_CREATE = {
    "doctor_id": Field(kind="integer", required=True, minimum=1, maximum=MAX_ID, example=1),
    "department_id": Field(kind="integer", required=True, minimum=1, maximum=MAX_ID, example=1),
}


def affiliation_to_dict(
    affiliation: Affiliation, doctor: Doctor, department: Department
) -> dict[str, Any]:
    """An Affiliation with its doctor and department."""
    return {
        "doctor_id": affiliation.doctor_id,
        "department_id": affiliation.department_id,
        "created_at": iso(affiliation.created_at),
        "doctor": doctor_to_dict(doctor),
        "department": department_to_dict(department),
    }


def affiliation_row_to_dict(row: Any) -> dict[str, Any]:
    """Serialize a service AffiliationRow."""
    return affiliation_to_dict(row.affiliation, row.doctor, row.department)


def register_models(ns: Namespace) -> dict[str, Any]:
    """Swagger models of the affiliations namespace."""
    doctor = ns.model("Doctor", doctor_fields())
    department = ns.model("Department", department_fields())
    return {
        "affiliation": ns.model("Affiliation", {
            "doctor_id": fields.Integer(),
            "department_id": fields.Integer(),
            "created_at": fields.DateTime(readonly=True),
            "doctor": fields.Nested(doctor),
            "department": fields.Nested(department),
        }),
        "create": restx_model(ns, "AffiliationCreate", AFFILIATION_CREATE),
    }
