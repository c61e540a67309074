"""The waitlist (候补): input specs, Swagger models and the serializer."""
from __future__ import annotations

from typing import Any

from flask_restx import Namespace, fields

from app.models import REASON_MAX_LENGTH, WAITLIST_STATUSES, WaitlistEntry
from app.schemas.common import iso, nullable
from app.services import schedule_rules
from app.validation import Field, restx_model

MAX_ID = 2**31 - 1
WAITLIST_SORTABLE = ("id", "status", "created_at", "updated_at")
WAITLIST_JOIN = {
    "patient_id": Field(kind="integer", required=True, minimum=1, maximum=MAX_ID,
                        description="The patient to book when a place frees up"),
}
SUSPEND = {
    "reason": Field(required=True, min_length=1, max_length=REASON_MAX_LENGTH,
                    description="Why the session stops (停诊); patients see it on their "
                                "cancelled registrations", example="医生临时出诊"),
    "substitute_schedule_id": Field(kind="integer", nullable=True, minimum=1, maximum=MAX_ID,
                                    description="Move the bookings to this session of the "
                                                "same department (替诊) instead of cancelling"),
}


def entry_to_dict(entry: WaitlistEntry) -> dict[str, Any]:
    """A waitlist entry as the API shows it.

    A waiting entry whose schedule has started is expired, whether or not the periodic job
    has written that yet.
    """
    status, position = entry.status, entry.position
    if status == "waiting" and schedule_rules.hospital_now() >= entry.schedule_start:
        status, position = "expired", None
    return {
        "id": entry.id,
        "schedule_id": entry.schedule_id,
        "patient_id": entry.patient_id,
        "status": status,
        "position": position,
        "registration_id": entry.registration_id,
        "reason": entry.reason,
        "created_at": iso(entry.created_at),
        "updated_at": iso(entry.updated_at),
    }


def register_models(ns: Namespace) -> dict[str, Any]:
    """Swagger models of the waitlist operations, registered on `ns`."""
    return {
        "entry": ns.model("WaitlistEntry", {
            "id": fields.Integer(readonly=True),
            "schedule_id": fields.Integer(readonly=True),
            "patient_id": fields.Integer(readonly=True),
            "status": fields.String(readonly=True, enum=list(WAITLIST_STATUSES)),
            "position": nullable(fields.Integer(
                readonly=True, description="1-based place among the waiting entries; null "
                                           "when not waiting")),
            "registration_id": nullable(fields.Integer(
                readonly=True, description="The registration a booked entry received")),
            "reason": nullable(fields.String(
                readonly=True, description="Why a skipped entry was passed over (the booking "
                                           "refusal's code)")),
            "created_at": fields.DateTime(readonly=True),
            "updated_at": fields.DateTime(readonly=True),
        }),
        "join": restx_model(ns, "WaitlistJoin", WAITLIST_JOIN),
        "suspend": restx_model(ns, "ScheduleSuspend", SUSPEND),
    }
