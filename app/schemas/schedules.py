"""Schedules: input specs, Swagger models and the serializer."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from flask_restx import Namespace, fields

from app.errors import ValidationFailed
from app.models import (
    MAX_APPOINTMENTS_LIMIT,
    SCHEDULE_STATUSES,
    SLOT_MINUTES_MAX,
    SLOT_MINUTES_MIN,
    Schedule,
    ScheduleSlot,
)
from app.schemas.common import ID_QUERY_PARAM, iso, nullable
from app.schemas.filters import query_bool, query_date, query_id
from app.services.policy import bookable, next_clock_change
from app.services.schedule_rules import aware
from app.validation import Field, restx_model
from app.web.caching import live_schedule, live_slot, request_moment, valid_until

SCHEDULE_SORTABLE = ("id", "date", "start_time", "max_appointments", "created_at", "updated_at")
MAX_ID = 2**31 - 1

SCHEDULE_CREATE = {
    "doctor_id": Field(kind="integer", required=True, minimum=1, maximum=MAX_ID),
    "department_id": Field(kind="integer", required=True, minimum=1, maximum=MAX_ID),
    "date": Field(kind="date", required=True, example="2026-12-01"),
    "start_time": Field(kind="time", required=True, example="08:00:00",
                        description="HH:MM or HH:MM:SS, hospital time"),
    "end_time": Field(kind="time", required=True, example="12:00:00",
                      description="HH:MM or HH:MM:SS, after start_time"),
    "max_appointments": Field(kind="integer", required=True, minimum=1,
                              maximum=MAX_APPOINTMENTS_LIMIT, example=20,
                              description=f"1..{MAX_APPOINTMENTS_LIMIT}"),
    "slot_minutes": Field(kind="integer", nullable=True, minimum=SLOT_MINUTES_MIN,
                          maximum=SLOT_MINUTES_MAX, example=30,
                          description=f"Time slots (分时段) of this many minutes, "
                                      f"{SLOT_MINUTES_MIN}..{SLOT_MINUTES_MAX}; null: one pool"),
}
SCHEDULE_UPDATE = SCHEDULE_CREATE
SLOT_SORTABLE = ("start_time", "id")


def clock(value: dt.time | None) -> str | None:
    """A time of day as HH:MM:SS."""
    return value.strftime("%H:%M:%S") if value is not None else None


def schedule_to_dict(schedule: Schedule) -> dict[str, Any]:
    """A Schedule as the API shows it; `bookable` is judged at the request's moment.

    A response holding schedules may be cached only until the next instant at which one of
    their `bookable` values changes with the clock (a release, a cutoff, a start); its
    available_slots and `bookable` are read afresh on every cache hit (app/web/caching.py).
    """
    now = request_moment()
    valid_until(next_clock_change(schedule, now))
    live_schedule(schedule.id, schedule.release_at)
    return {
        "id": schedule.id,
        "doctor_id": schedule.doctor_id,
        "department_id": schedule.department_id,
        "date": iso(schedule.date),
        "start_time": clock(schedule.start_time),
        "end_time": clock(schedule.end_time),
        "max_appointments": schedule.max_appointments,
        "available_slots": schedule.available_slots,
        "slot_minutes": schedule.slot_minutes,
        "status": schedule.status,
        "suspend_reason": schedule.suspend_reason,
        "release_at": iso(aware(schedule.release_at)),
        "bookable": bookable(schedule, now),
        "created_at": iso(schedule.created_at),
        "updated_at": iso(schedule.updated_at),
    }


def slot_to_dict(slot: ScheduleSlot) -> dict[str, Any]:
    """A time slot as the API shows it."""
    live_slot(slot.id)
    return {
        "id": slot.id,
        "schedule_id": slot.schedule_id,
        "start_time": clock(slot.start_time),
        "end_time": clock(slot.end_time),
        "capacity": slot.capacity,
        "available": slot.available,
    }


def schedule_fields() -> dict[str, Any]:
    """Swagger fields of the Schedule output model."""
    return {
        "id": fields.Integer(readonly=True),
        "doctor_id": fields.Integer(),
        "department_id": fields.Integer(),
        "date": fields.Date(),
        "start_time": fields.String(example="08:00:00"),
        "end_time": fields.String(example="12:00:00"),
        "max_appointments": fields.Integer(),
        "available_slots": fields.Integer(readonly=True),
        "slot_minutes": nullable(fields.Integer(description="null: not split into slots")),
        "status": fields.String(enum=list(SCHEDULE_STATUSES), readonly=True),
        "suspend_reason": nullable(fields.String(
            readonly=True, description="Why it is suspended (停诊); null while open")),
        "release_at": nullable(fields.DateTime(
            readonly=True, description="When patients may start booking (放号); null: always")),
        "bookable": fields.Boolean(
            readonly=True, description="A patient could book it at the moment of the response"),
        "created_at": fields.DateTime(readonly=True),
        "updated_at": fields.DateTime(readonly=True),
    }


def register_models(ns: Namespace) -> dict[str, Any]:
    """Swagger models of the schedules namespace."""
    return {
        "schedule": ns.model("Schedule", schedule_fields()),
        "slot": ns.model("ScheduleSlot", {
            "id": fields.Integer(readonly=True),
            "schedule_id": fields.Integer(readonly=True),
            "start_time": fields.String(example="08:00:00"),
            "end_time": fields.String(example="08:30:00"),
            "capacity": fields.Integer(),
            "available": fields.Integer(description="Free places in the slot"),
        }),
        "create": restx_model(ns, "ScheduleCreate", SCHEDULE_CREATE),
        "update": restx_model(ns, "ScheduleUpdate", SCHEDULE_UPDATE, partial=True),
    }


FILTER_PARAMS = {
    "doctor_id": {"description": "Only this doctor's schedules", **ID_QUERY_PARAM},
    "department_id": {"description": "Only this department's schedules", **ID_QUERY_PARAM},
    "date_from": {"description": "From this date on (inclusive), YYYY-MM-DD", "type": "string",
                  "format": "date", "allowEmptyValue": True},
    "date_to": {"description": "Up to this date (inclusive), YYYY-MM-DD", "type": "string",
                "format": "date", "allowEmptyValue": True},
    "available": {"description": "true: only schedules with free slots; false: only full ones",
                  "type": "boolean", "allowEmptyValue": True},
}


def schedule_filter_values(args: Mapping[str, Any], *, parent: str | None = None
                           ) -> dict[str, Any]:
    """The list filters from a query string (400 on a bad value); `parent` is path-given."""
    values: dict[str, Any] = {
        "doctor_id": query_id(args, "doctor_id"),
        "department_id": query_id(args, "department_id"),
        "date_from": query_date(args, "date_from"),
        "date_to": query_date(args, "date_to"),
        "available": query_bool(args, "available"),
    }
    if parent is not None:
        values.pop(parent)
    if values["date_from"] and values["date_to"] and values["date_from"] > values["date_to"]:
        raise ValidationFailed("date_from must not be after date_to",
                               errors={"date_to": "must not be before date_from"})
    return values


def filter_params_doc(*, parent: str | None = None) -> dict[str, Any]:
    """Query-string docs of the schedule filters (without the one the path gives)."""
    return {name: dict(spec) for name, spec in FILTER_PARAMS.items() if name != parent}
