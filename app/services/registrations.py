"""Registrations: who may see which, and every list of them (one statement per page)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, or_, select

from app.errors import Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.identity.actor import Actor
from app.models import STATUSES, Department, Doctor, Patient, Registration, Schedule
from app.services.booking import schedule_not_found
from app.services.patients import get_patient
from app.services.registration_search import search_all_registrations
from app.web.pagination import ListParams, Page, like_pattern, paginate

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


@dataclass(frozen=True)
class RegistrationAccess:
    """A registration the actor may see, and in which capacities."""

    registration: Registration
    owner: bool  # the actor owns its patient
    doctor: bool  # the actor is the doctor of its schedule


def is_schedule_doctor(actor: Actor, schedule_doctor_id: int) -> bool:
    """Whether the actor acts as the doctor a schedule belongs to."""
    return actor.doctor_id is not None and actor.doctor_id == schedule_doctor_id


def registration_access(actor: Actor, registration_id: int) -> RegistrationAccess:
    """The registration with the actor's capacities, or 404 (ids cannot be probed).

    Visible to admins, to the owner of its patient and to the doctor of its schedule.
    """
    row = db.session.execute(
        select(Registration, Patient.user_id, Schedule.doctor_id)
        .join(Patient, Patient.id == Registration.patient_id)
        .join(Schedule, Schedule.id == Registration.schedule_id)
        .where(Registration.id == registration_id)
    ).one_or_none()
    if row is None:
        raise registration_not_found(registration_id)
    registration, owner_id, doctor_id = row
    access = RegistrationAccess(registration, owner=owner_id == actor.id,
                                doctor=is_schedule_doctor(actor, doctor_id))
    if not (actor.is_admin or access.owner or access.doctor):
        raise registration_not_found(registration_id)
    return access


def require_owner(actor: Actor, access: RegistrationAccess, what: str) -> None:
    """403 owner_required unless the actor owns the registration's patient or is an admin."""
    if not (actor.is_admin or access.owner):
        raise Forbidden(f"Only the patient's owner or an administrator can {what} a "
                        "registration", "owner_required")


def get_registration(actor: Actor, registration_id: int) -> Registration:
    """The registration if the actor may see it (admin, owner, schedule's doctor); else 404."""
    return registration_access(actor, registration_id).registration


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


def list_schedule_registrations(actor: Actor, schedule_id: int, params: ListParams) -> Page:
    """The registrations of one schedule, for admins and the schedule's own doctor.

    Schedules are public, so an unknown one is a 404 for everyone; someone else's is a 403.
    """
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None:
        raise schedule_not_found(schedule_id)
    if not (actor.is_admin or is_schedule_doctor(actor, schedule.doctor_id)):
        raise Forbidden("Only an administrator or the schedule's doctor can list its "
                        "registrations", "admin_required")
    return _page(select(Registration).where(Registration.schedule_id == schedule_id), params)


def _search(stmt: Select, query: str) -> Select:
    """Match notes, patient, doctor and department names, and the status when it is one.

    For one account's registrations (a few rows): a join filtered by one OR.
    """
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
        return search_all_registrations(params, SORT_COLUMNS, TIEBREAK)
    return _page(_search(_of_user(actor.id), params.query or ""), params)


def search_user_registrations(user_id: int, params: ListParams) -> Page:
    """Search the registrations of one account's patients."""
    return _page(_search(_of_user(user_id), params.query or ""), params)
