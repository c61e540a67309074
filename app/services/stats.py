"""Statistics for the admin dashboard: each answer is one aggregate SQL statement."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select

from app.extensions import db
from app.models import STATUSES, Department, Doctor, Patient, Registration, Schedule, User

GROUPINGS = ("department", "doctor", "date", "status")


@dataclass(frozen=True)
class StatsQuery:
    """What to group registrations by, and the inclusive range of schedule dates."""

    group_by: str
    date_from: dt.date | None = None
    date_to: dt.date | None = None


@dataclass(frozen=True)
class StatsRow:
    """One group: its key, its label and its registrations counted by status."""

    key: Any
    label: str | None
    total: int
    scheduled: int
    checked_in: int
    completed: int
    cancelled: int
    no_show: int


@dataclass(frozen=True)
class OverviewCounts:
    """Row counts of the main tables and registrations by status."""

    users: int
    patients: int
    doctors: int
    departments: int
    schedules: int
    registrations: int
    by_status: dict[str, int]


def _status_columns() -> list:
    return [func.count().filter(Registration.status == status).label(status)
            for status in STATUSES]


def _grouping(group_by: str) -> tuple[Any, Any, list, Any]:
    """(key column, label column, extra joins, ORDER BY) of a grouping."""
    if group_by == "department":
        return (Department.id, Department.name,
                [(Department, Department.id == Schedule.department_id)], Department.id)
    if group_by == "doctor":
        return Doctor.id, Doctor.name, [(Doctor, Doctor.id == Schedule.doctor_id)], Doctor.id
    if group_by == "date":
        return Schedule.date, None, [], Schedule.date
    lifecycle = case({status: index for index, status in enumerate(STATUSES)},
                     value=Registration.status)
    return Registration.status, None, [], lifecycle


def registration_stats(query: StatsQuery) -> list[StatsRow]:
    """Registrations counted per group, filtered on the schedule's date (both ends included)."""
    key, label, joins, order = _grouping(query.group_by)
    columns = [key.label("key"), (label if label is not None else key).label("label"),
               func.count().label("total"), *_status_columns()]
    stmt = select(*columns).select_from(Registration).join(
        Schedule, Schedule.id == Registration.schedule_id)
    for target, onclause in joins:
        stmt = stmt.join(target, onclause)
    if query.date_from is not None:
        stmt = stmt.where(Schedule.date >= query.date_from)
    if query.date_to is not None:
        stmt = stmt.where(Schedule.date <= query.date_to)
    group = [key] if label is None else [key, label]
    stmt = stmt.group_by(*group).order_by(order)
    return [StatsRow(**row._mapping) for row in db.session.execute(stmt)]


def overview() -> OverviewCounts:
    """Totals of the main tables and of registrations by status, in one statement."""
    def count_of(model) -> Any:
        return select(func.count()).select_from(model).scalar_subquery()

    registrations = select(func.count().label("total"), *_status_columns()).select_from(
        Registration).subquery()
    stmt = select(
        count_of(User).label("users"),
        count_of(Patient).label("patients"),
        count_of(Doctor).label("doctors"),
        count_of(Department).label("departments"),
        count_of(Schedule).label("schedules"),
        registrations,
    )
    row = db.session.execute(stmt).one()._mapping
    return OverviewCounts(
        users=row["users"], patients=row["patients"], doctors=row["doctors"],
        departments=row["departments"], schedules=row["schedules"],
        registrations=row["total"], by_status={status: row[status] for status in STATUSES},
    )
