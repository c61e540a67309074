"""Registrations (挂号): input specs, Swagger models and the serializer."""
from __future__ import annotations

from typing import Any

from flask_restx import Namespace, fields

from app.models import CANCELLED_BY, NOTES_MAX_LENGTH, STATUSES, Registration
from app.schemas.common import iso, list_model, nullable, search_model
from app.services.schedule_rules import aware
from app.validation import Field, restx_model

REGISTRATION_SORTABLE = ("id", "status", "queue_number", "created_at", "updated_at")
MAX_ID = 2**31 - 1
IDEMPOTENCY_KEY_MAX_LENGTH = 255

NOTES = Field(nullable=True, max_length=NOTES_MAX_LENGTH, strip=False,
              description=f"At most {NOTES_MAX_LENGTH} characters")

REGISTRATION_CREATE = {
    "patient_id": Field(kind="integer", required=True, minimum=1, maximum=MAX_ID,
                        description="One of the caller's patients (any patient for admins)"),
    "schedule_id": Field(kind="integer", required=True, minimum=1, maximum=MAX_ID,
                         description="A schedule that has not started yet"),
    "slot_id": Field(kind="integer", nullable=True, minimum=1, maximum=MAX_ID,
                     description="A time slot of the schedule; absent or null: the earliest "
                                 "slot with a free place"),
    "notes": NOTES,
}
# What an owner may change; every other field of a PUT body is ignored.
REGISTRATION_OWNER_UPDATE = {"notes": NOTES}
# What an admin (or a doctor) may change; a status change follows the status rules.
REGISTRATION_ADMIN_UPDATE = {
    "notes": NOTES,
    "status": Field(kind="enum", choices=STATUSES,
                    description="Admins: scheduled -> cancelled | completed | no_show, "
                                "cancelled -> scheduled. The schedule's doctor: scheduled -> "
                                "completed | no_show once the schedule has started. Ignored "
                                "for anyone else"),
}


def registration_to_dict(registration: Registration) -> dict[str, Any]:
    """A Registration as the API shows it."""
    return {
        "id": registration.id,
        "patient_id": registration.patient_id,
        "schedule_id": registration.schedule_id,
        "status": registration.status,
        "notes": registration.notes,
        "queue_number": registration.queue_number,
        "slot_id": registration.slot_id,
        "visit_start": iso(aware(registration.visit_start)),
        "visit_end": iso(aware(registration.visit_end)),
        "checked_in_at": iso(registration.checked_in_at),
        "cancelled_by": registration.cancelled_by,
        "cancel_reason": registration.cancel_reason,
        "moved_from_schedule_id": registration.moved_from_schedule_id,
        "created_at": iso(registration.created_at),
        "updated_at": iso(registration.updated_at),
    }


def registration_models(ns: Namespace) -> dict[str, Any]:
    """The Registration output, list and search models, registered on `ns`."""
    registration = ns.model("Registration", {
        "id": fields.Integer(readonly=True),
        "patient_id": fields.Integer(),
        "schedule_id": fields.Integer(),
        "status": fields.String(enum=list(STATUSES), readonly=True),
        "notes": nullable(fields.String()),
        "queue_number": fields.Integer(readonly=True,
                                       description="1-based booking order within the schedule"),
        "slot_id": nullable(fields.Integer(readonly=True,
                                           description="The time slot; null when unslotted")),
        "visit_start": fields.DateTime(readonly=True,
                                       description="Suggested visit time (建议就诊时间): the "
                                                   "slot's start, else the schedule's"),
        "visit_end": fields.DateTime(readonly=True),
        "checked_in_at": nullable(fields.DateTime(
            readonly=True, description="When the patient checked in (签到); null before")),
        "cancelled_by": nullable(fields.String(
            readonly=True, enum=list(CANCELLED_BY),
            description="Who cancelled it: its owner, the registration office, or the "
                        "hospital (停诊); null while active")),
        "cancel_reason": nullable(fields.String(
            readonly=True, description="The hospital's reason for a stop-clinic cancel")),
        "moved_from_schedule_id": nullable(fields.Integer(
            readonly=True, description="The suspended session a substitution (替诊) moved it "
                                       "from")),
        "created_at": fields.DateTime(readonly=True),
        "updated_at": fields.DateTime(readonly=True),
    })
    return {
        "registration": registration,
        "list": list_model(ns, "RegistrationList", registration),
        "search": search_model(ns, "RegistrationSearch", REGISTRATION_SORTABLE),
    }


def register_models(ns: Namespace) -> dict[str, Any]:
    """Swagger models of the registrations namespace."""
    models = registration_models(ns)
    models["create"] = restx_model(ns, "RegistrationCreate", REGISTRATION_CREATE)
    models["update"] = restx_model(ns, "RegistrationUpdate", REGISTRATION_ADMIN_UPDATE,
                                   partial=True)
    return models
