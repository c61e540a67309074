"""Patients: profiles owned by accounts, visible to their owner and to admins only."""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app
from sqlalchemy import or_, select, text

from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.identity.actor import Actor
from app.models import Patient, Registration, Schedule, User
from app.services import id_numbers
from app.services.common import commit, get_or_404, lock_schedules_of
from app.services.freed_places import serve_waitlists
from app.services.policy import get_policy
from app.services.schedule_rules import hospital_today
from app.web.pagination import ListParams, Page, like_pattern, paginate

SORT_COLUMNS = {
    "id": (Patient.id,),
    "name": (Patient.name,),
    "birthday": (Patient.birthday,),
    "created_at": (Patient.created_at,),
    "updated_at": (Patient.updated_at,),
}
TIEBREAK = (Patient.id,)


def patient_not_found(patient_id: int) -> NotFound:
    """The 404 for a patient that does not exist or is not the caller's."""
    return NotFound(f"Patient {patient_id} not found", "patient_not_found")


def _seen_by_doctor(doctor_id: int, patient_id: int) -> bool:
    """Whether the patient has a registration (any status) on one of the doctor's schedules."""
    return db.session.scalar(
        select(Registration.id)
        .join(Schedule, Schedule.id == Registration.schedule_id)
        .where(Registration.patient_id == patient_id, Schedule.doctor_id == doctor_id)
        .limit(1)
    ) is not None


def get_patient(actor: Actor, patient_id: int, *, for_reading: bool = False) -> Patient:
    """The patient if the actor owns it or is an admin; 404 otherwise (ids cannot be probed).

    A doctor also sees the patients registered on its own schedules: reading one is allowed
    (for_reading), anything else is a 403, since the doctor already knows the patient exists.
    """
    patient = db.session.get(Patient, patient_id)
    if patient is None:
        raise patient_not_found(patient_id)
    if actor.is_admin or patient.user_id == actor.id:
        return patient
    if actor.doctor_id is not None and _seen_by_doctor(actor.doctor_id, patient.id):
        if for_reading:
            return patient
        raise Forbidden("Only the patient's owner or an administrator can do this",
                        "owner_required")
    raise patient_not_found(patient_id)


def _check_birthday(birthday: dt.date) -> None:
    if birthday > hospital_today():
        raise ValidationFailed("birthday must not be in the future",
                               errors={"birthday": "must not be in the future"})


def _check_unique(user_id: int, name: str, birthday: dt.date, exclude_id: int | None) -> None:
    stmt = select(Patient.id).where(Patient.user_id == user_id, Patient.name == name,
                                    Patient.birthday == birthday)
    if exclude_id is not None:
        stmt = stmt.where(Patient.id != exclude_id)
    if db.session.scalar(stmt.limit(1)) is not None:
        raise Conflict("This account already has a patient with that name and birthday",
                       "duplicate_patient", {"name": "already used with this birthday"})


def id_number_error(problem: str) -> ValidationFailed:
    """400 naming id_number; the number itself is never part of a message."""
    return ValidationFailed(f"Invalid input: id_number {problem}", errors={"id_number": problem})


# One person per fingerprint: concurrent first uses of a number meet on the unique index.
PERSON_BY_FINGERPRINT = text(
    "INSERT INTO persons (id_number_hash) VALUES (:hash) ON CONFLICT (id_number_hash)"
    " DO UPDATE SET id_number_hash = EXCLUDED.id_number_hash RETURNING id")


def _person_of(id_number: str | None, birthday: dt.date,
               gender: str) -> tuple[int | None, str | None]:
    """(person id, masked number) for a patient's ID number; (None, None) without one."""
    if id_number is None:
        if get_policy().require_id_number:
            raise id_number_error("is required")
        return None, None
    number = id_numbers.normalize(id_number)
    problem = (id_numbers.shape_problem(number)
               or id_numbers.person_problem(number, birthday, gender))
    if problem:
        raise id_number_error(problem)
    key = id_numbers.fingerprint_key(current_app.config)
    person_id = db.session.scalar(PERSON_BY_FINGERPRINT,
                                  {"hash": id_numbers.fingerprint(number, key)})
    return person_id, id_numbers.masked(number)


def create_patient(
    actor: Actor, *, name: str, gender: str, birthday: dt.date, phone_number: str,
    user_id: int | None = None, id_number: str | None = None,
) -> Patient:
    """Create a patient for the caller, or (admins only) for another account."""
    owner_id = actor.id if user_id is None else user_id
    if owner_id != actor.id:
        if not actor.is_admin:
            raise Forbidden("Only an administrator can create a patient for another account",
                            "admin_required", {"user_id": "must be your own id"})
        get_or_404(User, owner_id, "User")
    _check_birthday(birthday)
    _check_unique(owner_id, name, birthday, None)
    person_id, masked = _person_of(id_number, birthday, gender)
    patient = Patient(user_id=owner_id, name=name, gender=gender, birthday=birthday,
                      phone_number=phone_number, id_number_masked=masked)
    if person_id is not None:  # else the database makes the patient a person of its own
        patient.person_id = person_id
    db.session.add(patient)
    commit()
    return patient


def update_patient(actor: Actor, patient_id: int, changes: dict[str, Any]) -> Patient:
    """Apply a partial update (name, gender, birthday, phone_number, id_number).

    A patient's ID number is checked against its birthday and gender: changing either needs
    the number sent again (it is not kept, so it cannot be checked otherwise).
    """
    patient = get_patient(actor, patient_id)
    if "birthday" in changes:
        _check_birthday(changes["birthday"])
    if "name" in changes or "birthday" in changes:
        _check_unique(patient.user_id, changes.get("name", patient.name),
                      changes.get("birthday", patient.birthday), patient.id)
    birthday = changes.get("birthday", patient.birthday)
    gender = changes.get("gender", patient.gender)
    if changes.get("id_number") is not None:
        patient.person_id, patient.id_number_masked = _person_of(changes["id_number"],
                                                                 birthday, gender)
    elif "id_number" in changes and patient.id_number_masked is not None:
        # Dropping the number would make the patient a new person, free of the quotas and
        # no-shows of the one it is.
        raise id_number_error("can be replaced but not removed")
    elif patient.id_number_masked is not None and (birthday, gender) != (patient.birthday,
                                                                         patient.gender):
        which = "birthday" if birthday != patient.birthday else "gender"
        raise id_number_error(f"does not match the {which}; send id_number again with it")
    for key in ("name", "gender", "birthday", "phone_number"):
        if key in changes:
            setattr(patient, key, changes[key])
    commit()
    return patient


def delete_patient(actor: Actor, patient_id: int) -> None:
    """Delete a patient; the database deletes its registrations and frees their slots."""
    patient = get_patient(actor, patient_id)
    freed = lock_schedules_of(Registration.patient_id == patient.id)
    db.session.delete(patient)
    serve_waitlists(freed)
    commit()


def list_patients(params: ListParams) -> Page:
    """Every patient, paged (admins)."""
    return paginate(db.session, select(Patient), params, SORT_COLUMNS, TIEBREAK)


def _matching(pattern: str):
    return or_(Patient.name.ilike(pattern), Patient.phone_number.ilike(pattern))


def search_patients(params: ListParams) -> Page:
    """Patients whose name or phone number contains the query (admins)."""
    stmt = select(Patient).where(_matching(like_pattern(params.query or "")))
    return paginate(db.session, stmt, params, SORT_COLUMNS, TIEBREAK)


def list_user_patients(user_id: int, params: ListParams) -> Page:
    """The patients of one account, paged."""
    stmt = select(Patient).where(Patient.user_id == user_id)
    return paginate(db.session, stmt, params, SORT_COLUMNS, TIEBREAK)


def search_user_patients(user_id: int, params: ListParams) -> Page:
    """One account's patients whose name or phone number contains the query."""
    stmt = select(Patient).where(Patient.user_id == user_id,
                                 _matching(like_pattern(params.query or "")))
    return paginate(db.session, stmt, params, SORT_COLUMNS, TIEBREAK)
