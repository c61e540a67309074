"""Statistics: query parameters, Swagger models and serializers."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_restx import Namespace, fields

from app.errors import ValidationFailed
from app.models import STATUSES
from app.schemas.common import iso, nullable
from app.schemas.filters import query_date
from app.services.stats import GROUPINGS, OverviewCounts, StatsQuery, StatsRow

STATS_PARAMS = {
    "group_by": {"description": "What to group by", "type": "string", "enum": list(GROUPINGS),
                 "required": True},
    "date_from": {"description": "First schedule date included (YYYY-MM-DD)", "type": "string",
                  "format": "date", "allowEmptyValue": True},
    "date_to": {"description": "Last schedule date included (YYYY-MM-DD)", "type": "string",
                "format": "date", "allowEmptyValue": True},
}


def parse_stats_query(args: Mapping[str, Any]) -> StatsQuery:
    """group_by (required, one of GROUPINGS) and the optional inclusive date range."""
    group_by = (args.get("group_by") or "").strip()
    allowed = ", ".join(GROUPINGS)
    if not group_by:
        raise ValidationFailed(f"group_by is required: one of {allowed}",
                               errors={"group_by": f"is required: one of {allowed}"})
    if group_by not in GROUPINGS:
        hint = f"must be one of: {allowed}"
        raise ValidationFailed(f"group_by {hint}", errors={"group_by": hint})
    date_from = query_date(args, "date_from")
    date_to = query_date(args, "date_to")
    if date_from and date_to and date_from > date_to:
        raise ValidationFailed("date_from must not be after date_to", "invalid_date_range",
                               errors={"date_from": "must not be after date_to"})
    return StatsQuery(group_by=group_by, date_from=date_from, date_to=date_to)


def _key(group_by: str, key: Any) -> Any:
    return iso(key) if group_by == "date" else key


def stats_to_dict(query: StatsQuery, rows: list[StatsRow]) -> dict[str, Any]:
    """The /registrations/stats body."""
    results = []
    for row in rows:
        key = _key(query.group_by, row.key)
        results.append({
            "key": key,
            "label": row.label if query.group_by in ("department", "doctor") else key,
            "total": row.total,
            **{status: getattr(row, status) for status in STATUSES},
        })
    return {
        "group_by": query.group_by,
        "date_from": iso(query.date_from),
        "date_to": iso(query.date_to),
        "results": results,
    }


def overview_to_dict(counts: OverviewCounts) -> dict[str, Any]:
    """The /stats/overview body."""
    return {
        "users": counts.users,
        "patients": counts.patients,
        "doctors": counts.doctors,
        "departments": counts.departments,
        "schedules": counts.schedules,
        "registrations": {
            "total": counts.registrations,
            **{status: counts.by_status[status] for status in STATUSES},
        },
    }


class AnyValue(fields.Raw):
    """A field whose JSON type varies (no `type` in the schema)."""

    __schema_type__ = None


def _status_counts() -> dict[str, fields.Raw]:
    return {status: fields.Integer(required=True, description=f"Registrations now {status}")
            for status in STATUSES}


def register_stats_models(ns: Namespace) -> dict[str, Any]:
    """Swagger models of /registrations/stats."""
    row = ns.model("RegistrationStatsRow", {
        "key": AnyValue(required=True, description=(
            "Department or doctor id (integer), the date (YYYY-MM-DD) or the status")),
        "label": fields.String(required=True, description=(
            "Department or doctor name; for date and status the same as key")),
        "total": fields.Integer(required=True, description="All registrations of the group"),
        **_status_counts(),
    })
    return {
        "stats": ns.model("RegistrationStats", {
            "group_by": fields.String(required=True, enum=list(GROUPINGS)),
            "date_from": nullable(fields.Date(description="Echo of the filter, or null")),
            "date_to": nullable(fields.Date(description="Echo of the filter, or null")),
            "results": fields.List(fields.Nested(row), required=True, description=(
                "Groups with at least one registration, ordered by key")),
        }),
    }


def register_overview_models(ns: Namespace) -> dict[str, Any]:
    """Swagger models of /stats/overview."""
    registrations = ns.model("OverviewRegistrations", {
        "total": fields.Integer(required=True),
        **_status_counts(),
    })
    return {
        "overview": ns.model("Overview", {
            "users": fields.Integer(required=True),
            "patients": fields.Integer(required=True),
            "doctors": fields.Integer(required=True),
            "departments": fields.Integer(required=True),
            "schedules": fields.Integer(required=True),
            "registrations": fields.Nested(registrations, required=True),
        }),
    }
