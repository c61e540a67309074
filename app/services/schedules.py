"""Doctor schedules (排班): create, read, update, delete, list and search."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Select, or_, select

from app.errors import Conflict
from app.extensions import db
from app.models import Department, Doctor, Schedule, ScheduleSlot
from app.services.common import commit, flush, get_or_404
from app.services.freed_places import serve_waitlists
from app.services.schedule_rules import check_schedule, guard_active_registrations, not_found
from app.validation import parse_date
from app.web.pagination import ListParams, Page, like_pattern, paginate

SORT_COLUMNS = {
    "id": (Schedule.id,),
    "date": (Schedule.date, Schedule.start_time),
    "start_time": (Schedule.start_time,),
    "max_appointments": (Schedule.max_appointments,),
    "created_at": (Schedule.created_at,),
    "updated_at": (Schedule.updated_at,),
}
FIELDS = ("doctor_id", "department_id", "date", "start_time", "end_time", "max_appointments")
# The fields whose change lays a slotted schedule's slots out anew.
LAYOUT_FIELDS = ("start_time", "end_time", "slot_minutes")
SLOT_SORT_COLUMNS = {"start_time": (ScheduleSlot.start_time,), "id": (ScheduleSlot.id,)}


@dataclass(frozen=True)
class ScheduleFilters:
    """Optional list filters; dates are inclusive."""

    doctor_id: int | None = None
    department_id: int | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    available: bool | None = None


def _filtered(stmt: Select, filters: ScheduleFilters) -> Select:
    if filters.doctor_id is not None:
        stmt = stmt.where(Schedule.doctor_id == filters.doctor_id)
    if filters.department_id is not None:
        stmt = stmt.where(Schedule.department_id == filters.department_id)
    if filters.date_from is not None:
        stmt = stmt.where(Schedule.date >= filters.date_from)
    if filters.date_to is not None:
        stmt = stmt.where(Schedule.date <= filters.date_to)
    if filters.available is True:
        stmt = stmt.where(Schedule.available_slots > 0)
    elif filters.available is False:
        stmt = stmt.where(Schedule.available_slots <= 0)
    return stmt


def _page(stmt: Select, params: ListParams) -> Page:
    return paginate(db.session, stmt, params, SORT_COLUMNS, (Schedule.id,))


def create_schedule(
    *, doctor_id: int, department_id: int, date: dt.date, start_time: dt.time,
    end_time: dt.time, max_appointments: int, slot_minutes: int | None = None,
) -> Schedule:
    """Create a schedule after checking every rule (the database re-checks overlap).

    With slot_minutes, the database lays out its slots in the same transaction.
    """
    values = {"doctor_id": doctor_id, "department_id": department_id, "date": date,
              "start_time": start_time, "end_time": end_time,
              "max_appointments": max_appointments}
    check_schedule(**values)
    schedule = Schedule(**values, slot_minutes=slot_minutes)
    db.session.add(schedule)
    commit()
    return schedule


def get_schedule(schedule_id: int) -> Schedule:
    """A schedule by id, or 404."""
    return get_or_404(Schedule, schedule_id, "Schedule")


def update_schedule(schedule_id: int, changes: dict[str, Any]) -> Schedule:
    """Apply a partial change; every rule is checked on the merged values."""
    # The row lock orders this against bookings (their trigger updates the row), so the
    # booked count read here stays true until commit.
    schedule = db.session.scalar(
        select(Schedule).where(Schedule.id == schedule_id).with_for_update()
        .execution_options(populate_existing=True)
    )
    if schedule is None:
        raise not_found("Schedule", schedule_id)
    merged = {key: changes.get(key, getattr(schedule, key)) for key in FIELDS}
    check_schedule(**merged, booked_count=schedule.booked_count, exclude_id=schedule.id)
    relaid = [key for key in LAYOUT_FIELDS
              if key in changes and changes[key] != getattr(schedule, key)]
    more_places = merged["max_appointments"] > schedule.max_appointments
    for key in (*FIELDS, "slot_minutes"):
        if key in changes:
            setattr(schedule, key, changes[key])
    # The slot rules are held by the database (trigger schedules_slots): new times or slot
    # length are refused while the schedule holds active registrations, and a capacity
    # that would leave a slot below its bookings is refused by the slots' CHECK.
    meanings = {
        "ck_schedules_slots_unbooked": Conflict(
            f"Schedule {schedule_id} holds active registrations; its times and time slots "
            "cannot change", "schedule_has_bookings",
            {key: "cannot change while the schedule holds active registrations"
             for key in relaid or ["slot_minutes"]}),
        "ck_schedule_slots_capacity": Conflict(
            f"max_appointments cannot be {merged['max_appointments']}: a time slot would "
            "hold fewer places than it has booked", "capacity_below_booked",
            {"max_appointments": "a time slot would hold fewer places than it has booked"}),
    }
    if more_places:
        flush(meanings)
        serve_waitlists(schedule.id)  # the new places go to the waitlist first
        db.session.refresh(schedule)
    commit(meanings)
    return schedule


def list_slots(schedule_id: int, params: ListParams) -> Page:
    """A schedule's time slots with their free places; 404 for an unknown schedule."""
    get_or_404(Schedule, schedule_id, "Schedule")
    stmt = select(ScheduleSlot).where(ScheduleSlot.schedule_id == schedule_id)
    return paginate(db.session, stmt, params, SLOT_SORT_COLUMNS, (ScheduleSlot.id,))


def delete_schedule(schedule_id: int, *, force: bool = False) -> None:
    """Delete a schedule with its registrations; 409 while it holds future bookings."""
    schedule = db.session.scalar(
        select(Schedule).where(Schedule.id == schedule_id).with_for_update()
    )
    if schedule is None:
        raise not_found("Schedule", schedule_id)
    guard_active_registrations(Schedule.id == schedule_id, f"Schedule {schedule_id}", force)
    db.session.delete(schedule)
    commit()


def list_schedules(params: ListParams, filters: ScheduleFilters | None = None) -> Page:
    """Schedules matching the filters, paged; available_slots comes in the same statement."""
    return _page(_filtered(select(Schedule), filters or ScheduleFilters()), params)


def list_doctor_schedules(doctor_id: int, params: ListParams,
                          filters: ScheduleFilters | None = None) -> Page:
    """A doctor's schedules; 404 for an unknown doctor."""
    get_or_404(Doctor, doctor_id, "Doctor")
    return list_schedules(params, replace(filters or ScheduleFilters(), doctor_id=doctor_id))


def list_department_schedules(department_id: int, params: ListParams,
                              filters: ScheduleFilters | None = None) -> Page:
    """A department's schedules; 404 for an unknown department."""
    get_or_404(Department, department_id, "Department")
    return list_schedules(params,
                          replace(filters or ScheduleFilters(), department_id=department_id))


def search_schedules(params: ListParams) -> Page:
    """Schedules whose doctor or department name contains the query, or on the query's date."""
    text = params.query or ""
    pattern = like_pattern(text)
    conditions = [Doctor.name.ilike(pattern), Department.name.ilike(pattern)]
    try:
        conditions.append(Schedule.date == parse_date(text))
    except ValueError:
        pass
    stmt = (
        select(Schedule)
        .join(Doctor, Doctor.id == Schedule.doctor_id)
        .join(Department, Department.id == Schedule.department_id)
        .where(or_(*conditions))
    )
    return _page(stmt, params)
