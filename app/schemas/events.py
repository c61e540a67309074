"""The event log: the Event output model, the feed's parameters and the serializer."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_restx import Namespace, fields

from app.errors import ValidationFailed
from app.models import Event
from app.schemas.common import iso, nullable
from app.services.events import EVENT_TYPES
from app.web.pagination import INT_RE

EVENT_SORTABLE = ("id",)
FEED_LIMIT_MAX = 1000
FEED_LIMIT_DEFAULT = 100
MAX_EVENT_ID = 2**63 - 1
FEED_PARAMS = {
    "after_id": {"description": "Answer the events after this id (the last one seen); "
                                "default 0", "type": "integer", "minimum": 0},
    "type": {"description": "Only events of this type", "type": "string",
             "enum": list(EVENT_TYPES)},
    "limit": {"description": f"At most this many events, 1..{FEED_LIMIT_MAX} "
                             f"(default {FEED_LIMIT_DEFAULT})",
              "type": "integer", "minimum": 1, "maximum": FEED_LIMIT_MAX},
}


def event_to_dict(event: Event) -> dict[str, Any]:
    """An event as the API shows it."""
    return {
        "id": event.id,
        "at": iso(event.at),
        "type": event.type,
        "actor_user_id": event.actor_user_id,
        "actor_role": event.actor_role,
        "registration_id": event.registration_id,
        "schedule_id": event.schedule_id,
        "patient_id": event.patient_id,
        "data": event.data,
        "request_id": event.request_id,
    }


def _integer(args: Mapping[str, str], name: str, default: int, low: int, high: int,
             errors: dict[str, str]) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    if not INT_RE.fullmatch(raw.strip()) or not low <= int(raw) <= high:
        errors[name] = f"must be an integer from {low} to {high}"
        return default
    return int(raw)


def parse_feed_query(args: Mapping[str, str]) -> tuple[int, int, str | None]:
    """(after_id, limit, type) of GET /events; 400 naming every bad one."""
    errors: dict[str, str] = {}
    after_id = _integer(args, "after_id", 0, 0, MAX_EVENT_ID, errors)
    limit = _integer(args, "limit", FEED_LIMIT_DEFAULT, 1, FEED_LIMIT_MAX, errors)
    event_type = args.get("type")
    if event_type is not None and event_type not in EVENT_TYPES:
        errors["type"] = "must be one of: " + ", ".join(EVENT_TYPES)
    if errors:
        raise ValidationFailed("Invalid feed parameters", "validation_error", errors)
    return after_id, limit, event_type


def register_models(ns: Namespace) -> dict[str, Any]:
    """Swagger models of the event log, registered on `ns`."""
    event = ns.model("Event", {
        "id": fields.Integer(readonly=True),
        "at": fields.DateTime(readonly=True),
        "type": fields.String(readonly=True, enum=list(EVENT_TYPES)),
        "actor_user_id": nullable(fields.Integer(
            readonly=True, description="Who made the change; null: the system (a job)")),
        "actor_role": nullable(fields.String(readonly=True, enum=["user", "doctor", "admin"])),
        "registration_id": nullable(fields.Integer(readonly=True)),
        "schedule_id": nullable(fields.Integer(readonly=True)),
        "patient_id": nullable(fields.Integer(readonly=True)),
        "data": fields.Raw(readonly=True, description="What changed (depends on the type)"),
        "request_id": nullable(fields.String(readonly=True,
                                             description="The X-Request-ID of the change")),
    })
    feed = ns.model("EventFeed", {
        "results": fields.List(fields.Nested(event), required=True),
        "more": fields.Boolean(required=True,
                               description="Ask again at once: more events may follow"),
        "last_id": fields.Integer(required=True,
                                  description="The after_id to ask with next"),
    })
    webhook = ns.model("WebhookStatus", {
        "configured": fields.Boolean(description="WEBHOOK_URL is set"),
        "delivered": fields.Integer(),
        "pending": fields.Integer(description="Queued, not yet delivered"),
        "failing": fields.Integer(description="Pending after at least one failed attempt"),
        "oldest_pending_event_id": nullable(fields.Integer()),
        "next_retry_at": nullable(fields.DateTime()),
        "last_error": nullable(fields.String()),
        "queued_up_to_event_id": nullable(fields.Integer(
            description="Events up to this id are queued; null: never run")),
    })
    return {"event": event, "feed": feed, "webhook": webhook}
