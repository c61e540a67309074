"""Rules shared by the catalogue services: hospital time, schedule validity, active bookings."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import ColumnElement, and_, func, or_, select

from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.models import Affiliation, Department, Doctor, Registration, Schedule
from app.services.common import get_or_404

SCHEDULED = "scheduled"


def hospital_zone() -> ZoneInfo:
    """The hospital's timezone (setting HOSPITAL_TIMEZONE)."""
    return ZoneInfo(current_app.config["HOSPITAL_TIMEZONE"])


def hospital_now() -> dt.datetime:
    """The current wall-clock time in the hospital's timezone (naive, like schedule times)."""
    return dt.datetime.now(hospital_zone()).replace(tzinfo=None)


def aware(moment: dt.datetime | None) -> dt.datetime | None:
    """A hospital wall-clock time as a timezone-aware datetime (None stays None).

    Far-past dates fall in a zone's local mean time, whose offset has seconds (+08:05:43),
    which RFC 3339 date-times cannot carry: those are given in UTC, the same instant.
    """
    if moment is None:
        return None
    local = moment.replace(tzinfo=hospital_zone())
    offset = local.utcoffset()
    if offset is not None and offset.seconds % 60:
        return local.astimezone(dt.UTC)
    return local


def hospital_today() -> dt.date:
    """Today's date in the hospital's timezone."""
    return hospital_now().date()


def starts_after(moment: dt.datetime) -> ColumnElement[bool]:
    """Schedules whose date + start_time is later than `moment` (index-friendly form)."""
    return or_(
        Schedule.date > moment.date(),
        and_(Schedule.date == moment.date(), Schedule.start_time > moment.time()),
    )


def guard_active_registrations(scope: ColumnElement[bool], label: str, force: bool) -> int:
    """Refuse (409) to delete schedules in `scope` that hold future `scheduled` bookings.

    The future schedules in scope are locked first: a booking updates its schedule row (the
    booking trigger), so none can commit between this count and the caller's delete.
    Returns the number of bookings that a forced delete will remove.
    """
    now = hospital_now()
    # In id order, like every other place that locks several schedules (no deadlocks).
    db.session.execute(
        select(Schedule.id).where(scope, Schedule.date >= now.date()).order_by(Schedule.id)
        .with_for_update()
    )
    count = db.session.scalar(
        select(func.count(Registration.id))
        .join(Schedule, Schedule.id == Registration.schedule_id)
        .where(scope, Registration.status == SCHEDULED, starts_after(now))
    ) or 0
    if count and not force:
        noun = "registration" if count == 1 else "registrations"
        raise Conflict(
            f"{label} has {count} future scheduled {noun}; cancel them first or delete with "
            "?force=true",
            "active_registrations",
            {"registrations": f"{count} future scheduled {noun}"},
        )
    return count


def lock_affiliation(doctor_id: int, department_id: int) -> Affiliation:
    """The affiliation row, share-locked until commit so that it cannot be deleted meanwhile."""
    affiliation = db.session.scalar(
        select(Affiliation)
        .where(Affiliation.doctor_id == doctor_id, Affiliation.department_id == department_id)
        .with_for_update(read=True)
    )
    if affiliation is None:
        raise Conflict(
            f"Doctor {doctor_id} is not affiliated with department {department_id}",
            "not_affiliated",
            {"department_id": "the doctor is not affiliated with this department"},
        )
    return affiliation


def lock_doctor(doctor_id: int) -> Doctor:
    """The doctor row, locked so that one doctor's schedule writes run one at a time.

    Two concurrent inserts that violate an exclusion constraint can deadlock each other in
    PostgreSQL; taking turns per doctor turns that into a clean overlap check. FOR NO KEY
    UPDATE still lets other rows reference the doctor meanwhile.
    """
    doctor = db.session.scalar(
        select(Doctor).where(Doctor.id == doctor_id).with_for_update(key_share=True)
    )
    if doctor is None:
        raise not_found("Doctor", doctor_id)
    return doctor


def check_schedule(
    *,
    doctor_id: int,
    department_id: int,
    date: dt.date,
    start_time: dt.time,
    end_time: dt.time,
    max_appointments: int,
    booked_count: int = 0,
    exclude_id: int | None = None,
) -> None:
    """Every schedule rule on the final values: 400, then 404, then 409s."""
    if start_time >= end_time:
        raise ValidationFailed("start_time must be before end_time", "invalid_time_range",
                               {"end_time": "must be after start_time"})
    lock_doctor(doctor_id)
    get_or_404(Department, department_id, "Department")
    lock_affiliation(doctor_id, department_id)
    if max_appointments < booked_count:
        raise Conflict(
            f"max_appointments cannot be {max_appointments}: {booked_count} already booked",
            "max_below_booked",
            {"max_appointments": f"must be at least {booked_count} (already booked)"},
        )
    stmt = select(Schedule.id, Schedule.start_time, Schedule.end_time).where(
        Schedule.doctor_id == doctor_id,
        Schedule.date == date,
        Schedule.start_time < end_time,
        Schedule.end_time > start_time,
    )
    if exclude_id is not None:
        stmt = stmt.where(Schedule.id != exclude_id)
    clash = db.session.execute(stmt.limit(1)).first()
    if clash is not None:
        raise Conflict(
            f"Doctor {doctor_id} already has schedule {clash.id} on {date.isoformat()} from "
            f"{clash.start_time:%H:%M:%S} to {clash.end_time:%H:%M:%S}",
            "schedule_overlap",
            {"start_time": "overlaps another schedule of this doctor"},
        )


def not_found(label: str, ident: object) -> NotFound:
    """A NotFound in the same shape as get_or_404's."""
    return NotFound(f"{label} {ident} not found", f"{label.lower()}_not_found")
