"""Doctors: create, read, update, delete, list and search."""
from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from app.errors import Conflict
from app.extensions import db
from app.models import Affiliation, Department, Doctor, Schedule
from app.services.common import commit, get_or_404
from app.services.schedule_rules import guard_active_registrations, not_found
from app.web.pagination import ListParams, Page, like_pattern, paginate

SORT_COLUMNS = {
    "id": (Doctor.id,),
    "name": (Doctor.name,),
    "created_at": (Doctor.created_at,),
    "updated_at": (Doctor.updated_at,),
}
FIELDS = ("name", "gender", "email", "phone_number", "description")


def _check_unique_phone(phone_number: str | None, exclude_id: int | None) -> None:
    if phone_number is None:
        return
    stmt = select(Doctor.id).where(Doctor.phone_number == phone_number)
    if exclude_id is not None:
        stmt = stmt.where(Doctor.id != exclude_id)
    if db.session.scalar(stmt.limit(1)) is not None:
        raise Conflict("A doctor with this phone number already exists",
                       "duplicate_phone_number", {"phone_number": "is already registered"})


def create_doctor(
    *, name: str, gender: str, email: str, phone_number: str, description: str | None = None
) -> Doctor:
    """Create a doctor; the phone number is unique among doctors."""
    _check_unique_phone(phone_number, None)
    doctor = Doctor(name=name, gender=gender, email=email, phone_number=phone_number,
                    description=description)
    db.session.add(doctor)
    commit()
    return doctor


def get_doctor(doctor_id: int) -> Doctor:
    """A doctor by id, or 404."""
    return get_or_404(Doctor, doctor_id, "Doctor")


def update_doctor(doctor_id: int, changes: dict[str, Any]) -> Doctor:
    """Apply changes to a doctor's fields."""
    doctor = get_doctor(doctor_id)
    _check_unique_phone(changes.get("phone_number"), doctor.id)
    for key in FIELDS:
        if key in changes:
            setattr(doctor, key, changes[key])
    commit()
    return doctor


def delete_doctor(doctor_id: int, *, force: bool = False) -> None:
    """Delete a doctor with their schedules; 409 while they hold future bookings."""
    # Locking the doctor row also blocks new schedules for them (their FK check) until commit.
    doctor = db.session.scalar(select(Doctor).where(Doctor.id == doctor_id).with_for_update())
    if doctor is None:
        raise not_found("Doctor", doctor_id)
    guard_active_registrations(Schedule.doctor_id == doctor_id, f"Doctor {doctor_id}", force)
    db.session.delete(doctor)
    commit()


def list_doctors(params: ListParams) -> Page:
    """All doctors, paged."""
    return paginate(db.session, select(Doctor), params, SORT_COLUMNS, (Doctor.id,))


def search_doctors(params: ListParams) -> Page:
    """Doctors whose name, email, phone number or description contains the query."""
    pattern = like_pattern(params.query or "")
    stmt = select(Doctor).where(or_(
        Doctor.name.ilike(pattern),
        Doctor.email.ilike(pattern),
        Doctor.phone_number.ilike(pattern),
        Doctor.description.ilike(pattern),
    ))
    return paginate(db.session, stmt, params, SORT_COLUMNS, (Doctor.id,))


def list_department_doctors(department_id: int, params: ListParams) -> Page:
    """The doctors affiliated with a department; 404 for an unknown department."""
    get_or_404(Department, department_id, "Department")
    stmt = (
        select(Doctor)
        .join(Affiliation, Affiliation.doctor_id == Doctor.id)
        .where(Affiliation.department_id == department_id)
    )
    return paginate(db.session, stmt, params, SORT_COLUMNS, (Doctor.id,))
