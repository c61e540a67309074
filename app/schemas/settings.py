"""The booking policy (GET/PUT /settings/booking): input spec, Swagger model, serializer."""
from __future__ import annotations

from typing import Any

from flask_restx import Namespace, fields

from app.models import BookingPolicy
from app.models.policy import (
    BOOKING_CUTOFF_MAX,
    CANCEL_DEADLINE_MAX,
    CHECK_IN_OPENS_MAX,
    HORIZON_DAYS_MAX,
    MAX_ACTIVE_MAX,
    NO_SHOW_DAYS_MAX,
    NO_SHOW_LIMIT_MAX,
)
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
    "one_per_department_per_day": Field(
        kind="boolean", description="One active registration per person per department per "
                                    "schedule date"),
    "max_active_per_person": Field(
        kind="integer", nullable=True, minimum=1, maximum=MAX_ACTIVE_MAX, example=5,
        description=f"Active registrations per person on schedules not yet ended, "
                    f"1..{MAX_ACTIVE_MAX}; null: no limit"),
    "no_show_limit": Field(
        kind="integer", minimum=0, maximum=NO_SHOW_LIMIT_MAX, example=3,
        description="This many counted no-shows within the window suspend booking; 0: off"),
    "no_show_window_days": Field(
        kind="integer", minimum=1, maximum=NO_SHOW_DAYS_MAX, example=90,
        description="No-shows on schedules dated within this many days count"),
    "no_show_suspend_days": Field(
        kind="integer", minimum=1, maximum=NO_SHOW_DAYS_MAX, example=90,
        description="A suspension lasts until the latest counted no-show's date plus this"),
    "require_id_number": Field(
        kind="boolean", description="Patients need a resident ID number (实名制), to be "
                                    "created and to book"),
    "check_in_opens_minutes": Field(
        kind="integer", minimum=0, maximum=CHECK_IN_OPENS_MAX, example=60,
        description="Check-in (签到) opens this long before the visit start"),
}


def policy_to_dict(policy: BookingPolicy) -> dict[str, Any]:
    """The policy as the API shows it."""
    return {
        "horizon_days": policy.horizon_days,
        "release_time": clock(policy.release_time),
        "booking_cutoff_minutes": policy.booking_cutoff_minutes,
        "cancel_deadline_minutes": policy.cancel_deadline_minutes,
        "one_per_department_per_day": policy.one_per_department_per_day,
        "max_active_per_person": policy.max_active_per_person,
        "no_show_limit": policy.no_show_limit,
        "no_show_window_days": policy.no_show_window_days,
        "no_show_suspend_days": policy.no_show_suspend_days,
        "require_id_number": policy.require_id_number,
        "check_in_opens_minutes": policy.check_in_opens_minutes,
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
            "one_per_department_per_day": fields.Boolean(),
            "max_active_per_person": nullable(fields.Integer()),
            "no_show_limit": fields.Integer(),
            "no_show_window_days": fields.Integer(),
            "no_show_suspend_days": fields.Integer(),
            "require_id_number": fields.Boolean(),
            "check_in_opens_minutes": fields.Integer(),
            "updated_at": fields.DateTime(readonly=True),
        }),
        "update": restx_model(ns, "BookingPolicyUpdate", POLICY_UPDATE, partial=True),
    }
