"""Departments (科室): create, read, update, delete, list and search."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_, select

from app.errors import Conflict
from app.extensions import db
from app.models import Affiliation, Department, Doctor, Schedule
from app.services.common import commit, get_or_404
from app.services.schedule_rules import guard_active_registrations, not_found
from app.web.pagination import ListParams, Page, like_pattern, paginate

SORT_COLUMNS = {
    "id": (Department.id,),
    "name": (Department.name,),
    "created_at": (Department.created_at,),
    "updated_at": (Department.updated_at,),
}


def _check_unique_name(name: str | None, exclude_id: int | None) -> None:
    if name is None:
        return
    stmt = select(Department.id).where(Department.name == name)
    if exclude_id is not None:
        stmt = stmt.where(Department.id != exclude_id)
    if db.session.scalar(stmt.limit(1)) is not None:
        raise Conflict(f"A department named {name!r} already exists", "duplicate_name",
                       {"name": "already exists"})


def create_department(*, name: str, description: str | None = None,
                      horizon_days: int | None = None,
                      release_time: dt.time | None = None) -> Department:
    """Create a department; the name is unique."""
    _check_unique_name(name, None)
    department = Department(name=name, description=description, horizon_days=horizon_days,
                            release_time=release_time)
    db.session.add(department)
    commit()
    return department


def get_department(department_id: int) -> Department:
    """A department by id, or 404."""
    return get_or_404(Department, department_id, "Department")


def update_department(department_id: int, changes: dict[str, Any]) -> Department:
    """Apply name / description changes."""
    department = get_department(department_id)
    _check_unique_name(changes.get("name"), department.id)
    for key in ("name", "description", "horizon_days", "release_time"):
        if key in changes:
            setattr(department, key, changes[key])
    commit()
    return department


def delete_department(department_id: int, *, force: bool = False) -> None:
    """Delete a department with its schedules; 409 while it holds future bookings."""
    department = db.session.scalar(
        select(Department).where(Department.id == department_id).with_for_update()
    )
    if department is None:
        raise not_found("Department", department_id)
    guard_active_registrations(Schedule.department_id == department_id,
                               f"Department {department_id}", force)
    db.session.delete(department)
    commit()


def list_departments(params: ListParams) -> Page:
    """All departments, paged."""
    return paginate(db.session, select(Department), params, SORT_COLUMNS, (Department.id,))


def search_departments(params: ListParams) -> Page:
    """Departments whose name or description contains the query."""
    pattern = like_pattern(params.query or "")
    stmt = select(Department).where(
        or_(Department.name.ilike(pattern), Department.description.ilike(pattern))
    )
    return paginate(db.session, stmt, params, SORT_COLUMNS, (Department.id,))


def list_doctor_departments(doctor_id: int, params: ListParams) -> Page:
    """The departments a doctor is affiliated with; 404 for an unknown doctor."""
    get_or_404(Doctor, doctor_id, "Doctor")
    stmt = (
        select(Department)
        .join(Affiliation, Affiliation.department_id == Department.id)
        .where(Affiliation.doctor_id == doctor_id)
    )
    return paginate(db.session, stmt, params, SORT_COLUMNS, (Department.id,))
