"""Registrations: who may see which, and every list of them (one statement per page)."""
from __future__ import annotations

from sqlalchemy import Select, or_, select

from ..actor import Actor
from ..errors import NotFound, ValidationFailed
from ..extensions import db
from ..models import STATUSES, Department, Doctor, Patient, Registration, Schedule
from ..pagination import ListParams, Page, like_pattern, paginate
from .booking import schedule_not_found
from .patients import get_patient

SORT_COLUMNS = {
    "id": (Registration.id,),
    "status": (Registration.status,),
    "queue_number": (Registration.queue_number,),
    "created_at": (Registration.created_at,),
    "updated_at": (Registration.updated_at,),
}
TIEBREAK = (Registration.id,)


def registration_not_found(registration_id: int) -> NotFound:
    """The 404 for a registration that does not exist or is not the caller's."""
    return NotFound(f"Registration {registration_id} not found", "registration_not_found")


def get_registration(actor: Actor, registration_id: int) -> Registration:
    """The registration if the actor owns its patient or is an admin; 404 otherwise."""
    stmt = select(Registration).where(Registration.id == registration_id)
    if not actor.is_admin:
        stmt = stmt.join(Patient, Patient.id == Registration.patient_id).where(
            Patient.user_id == actor.id)
    registration = db.session.scalar(stmt)
    if registration is None:
        raise registration_not_found(registration_id)
    return registration


def _page(stmt: Select, params: ListParams) -> Page:
    return paginate(db.session, stmt, params, SORT_COLUMNS, TIEBREAK)


def _of_user(user_id: int) -> Select:
    return select(Registration).join(Patient, Patient.id == Registration.patient_id).where(
        Patient.user_id == user_id)


def list_registrations(params: ListParams) -> Page:
    """Every registration, paged (admins)."""
    return _page(select(Registration), params)


def list_registrations_by_status(status: str, params: ListParams) -> Page:
    """Registrations in one status (admins); an unknown status is a 400."""
    if status not in STATUSES:
        raise ValidationFailed(f"Unknown status {status!r}; expected one of: "
                               + ", ".join(STATUSES), "unknown_status",
                               {"status": "must be one of: " + ", ".join(STATUSES)})
    return _page(select(Registration).where(Registration.status == status), params)


def list_patient_registrations(actor: Actor, patient_id: int, params: ListParams) -> Page:
    """The registrations of one patient the actor may see (404 otherwise)."""
    patient = get_patient(actor, patient_id)
    return _page(select(Registration).where(Registration.patient_id == patient.id), params)


def list_user_registrations(user_id: int, params: ListParams) -> Page:
    """The registrations of one account's patients."""
    return _page(_of_user(user_id), params)


def list_schedule_registrations(schedule_id: int, params: ListParams) -> Page:
    """The registrations of one schedule (404 for an unknown schedule)."""
    if db.session.get(Schedule, schedule_id) is None:
        raise schedule_not_found(schedule_id)
    return _page(select(Registration).where(Registration.schedule_id == schedule_id), params)


def _search(stmt: Select, query: str) -> Select:
    """Match notes, patient, doctor and department names, and the status when it is one."""
    pattern = like_pattern(query)
    conditions = [
        Registration.notes.ilike(pattern),
        Patient.name.ilike(pattern),
        Doctor.name.ilike(pattern),
        Department.name.ilike(pattern),
    ]
    if query.lower() in STATUSES:
        conditions.append(Registration.status == query.lower())
    return (
        stmt.join(Schedule, Schedule.id == Registration.schedule_id)
        .join(Doctor, Doctor.id == Schedule.doctor_id)
        .join(Department, Department.id == Schedule.department_id)
        .where(or_(*conditions))
    )


def search_registrations(actor: Actor, params: ListParams) -> Page:
    """Search the registrations the actor may see (admins: all; others: their own)."""
    if actor.is_admin:
        stmt = select(Registration).join(Patient, Patient.id == Registration.patient_id)
    else:
        stmt = _of_user(actor.id)
    return _page(_search(stmt, params.query or ""), params)


def search_user_registrations(user_id: int, params: ListParams) -> Page:
    """Search the registrations of one account's patients."""
    return _page(_search(_of_user(user_id), params.query or ""), params)
