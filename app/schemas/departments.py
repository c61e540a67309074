"""Departments: input specs, Swagger models and the serializer."""
from __future__ import annotations

from typing import Any

from flask_restx import Namespace, fields

from app.models import Department
from app.models.policy import HORIZON_DAYS_MAX
from app.schemas.common import iso, nullable
from app.schemas.schedules import clock
from app.validation import Field, restx_model

DEPARTMENT_SORTABLE = ("id", "name", "created_at", "updated_at")
NAME_MAX = 100
DESCRIPTION_MAX = 2000

DEPARTMENT_CREATE = {
    "name": Field(required=True, min_length=1, max_length=NAME_MAX, example="儿科",
                  description="Unique, at most 100 characters"),
    "description": Field(nullable=True, max_length=DESCRIPTION_MAX, strip=False,
                         description="At most 2000 characters"),
    "horizon_days": Field(kind="integer", nullable=True, minimum=1, maximum=HORIZON_DAYS_MAX,
                          description="Overrides the hospital's release horizon (放号 days "
                                      "ahead); null: the hospital's"),
    "release_time": Field(kind="time", nullable=True, example="07:00:00",
                          description="Overrides the hospital's release time of day; null: "
                                      "the hospital's"),
}
DEPARTMENT_UPDATE = DEPARTMENT_CREATE


def department_to_dict(department: Department) -> dict[str, Any]:
    """A Department as the API shows it."""
    return {
        "id": department.id,
        "name": department.name,
        "description": department.description,
        "horizon_days": department.horizon_days,
        "release_time": clock(department.release_time),
        "created_at": iso(department.created_at),
        "updated_at": iso(department.updated_at),
    }


def department_fields() -> dict[str, Any]:
    """Swagger fields of the Department output model."""
    return {
        "id": fields.Integer(readonly=True),
        "name": fields.String(),
        "description": nullable(fields.String()),
        "horizon_days": nullable(fields.Integer(description="null: the hospital's")),
        "release_time": nullable(fields.String(example="07:00:00",
                                               description="null: the hospital's")),
        "created_at": fields.DateTime(readonly=True),
        "updated_at": fields.DateTime(readonly=True),
    }


def register_models(ns: Namespace) -> dict[str, Any]:
    """Swagger models of the departments namespace."""
    return {
        "department": ns.model("Department", department_fields()),
        "create": restx_model(ns, "DepartmentCreate", DEPARTMENT_CREATE),
        "update": restx_model(ns, "DepartmentUpdate", DEPARTMENT_UPDATE, partial=True),
    }
