"""The booking policy (GET/PUT /settings/booking): input spec, Swagger model, serializer."""
from __future__ import annotations

from typing import Any

from flask_restx import Namespace, fields

from app.models import BookingPolicy
from app.models.policy import BOOKING_CUTOFF_MAX, CANCEL_DEADLINE_MAX, HORIZON_DAYS_MAX
from app.schemas.common import iso, nullable
from app.schemas.schedules import clock
from app.validation import Field, restx_model

HORIZON_DAYS = Field(kind="integer", nullable=True, minimum=1, maximum=HORIZON_DAYS_MAX,
                     example=7,
                     description=f"Days ahead a schedule is released (放号), 1..{HORIZON_DAYS_MAX};"
                                 " null: always released")
RELEASE_TIME = Field(kind="time", example="07:00:00",
                     description="Time of day of the release, hospital time")

POLICY_UPDATE = {
    "horizon_days": HORIZON_DAYS,
    "release_time": RELEASE_TIME,
    "booking_cutoff_minutes": Field(
        kind="integer", minimum=0, maximum=BOOKING_CUTOFF_MAX, example=30,
        description="Booking closes this long before the schedule (or its slot) starts"),
    "cancel_deadline_minutes": Field(
        kind="integer", minimum=0, maximum=CANCEL_DEADLINE_MAX, example=120,
        description="An owner's cancel closes this long before the visit starts"),
}


def policy_to_dict(policy: BookingPolicy) -> dict[str, Any]:
    """The policy as the API shows it."""
    return {
        "horizon_days": policy.horizon_days,
        "release_time": clock(policy.release_time),
        "booking_cutoff_minutes": policy.booking_cutoff_minutes,
        "cancel_deadline_minutes": policy.cancel_deadline_minutes,
        "updated_at": iso(policy.updated_at),
    }


def register_models(ns: Namespace) -> dict[str, Any]:
    """Swagger models of the settings namespace."""
    return {
        "policy": ns.model("BookingPolicy", {
            "horizon_days": nullable(fields.Integer(description=HORIZON_DAYS.description)),
            "release_time": fields.String(example="07:00:00",
                                          description=RELEASE_TIME.description),
            "booking_cutoff_minutes": fields.Integer(),
            "cancel_deadline_minutes": fields.Integer(),
            "updated_at": fields.DateTime(readonly=True),
        }),
        "update": restx_model(ns, "BookingPolicyUpdate", POLICY_UPDATE, partial=True),
    }
