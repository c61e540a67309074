"""Doctor–department affiliations (隶属关系)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from app.errors import Conflict, NotFound
from app.extensions import db
from app.models import Affiliation, Department, Doctor, Schedule
from app.services.common import commit, get_or_404
from app.services.schedule_rules import hospital_today
from app.web.pagination import ListParams, Page, paginate

SORT_COLUMNS = {
    "id": (Affiliation.doctor_id, Affiliation.department_id),
    "created_at": (Affiliation.created_at,),
    "doctor_id": (Affiliation.doctor_id,),
    "department_id": (Affiliation.department_id,),
}
TIEBREAK = (Affiliation.doctor_id, Affiliation.department_id)


@dataclass(frozen=True)
class AffiliationRow:
    """An affiliation with the doctor and department it links."""

    affiliation: Affiliation
    doctor: Doctor
    department: Department


def create_affiliation(doctor_id: int, department_id: int) -> AffiliationRow:
    """Affiliate a doctor with a department; 404 for either unknown, 409 if it exists."""
    doctor = get_or_404(Doctor, doctor_id, "Doctor")
    department = get_or_404(Department, department_id, "Department")
    if db.session.get(Affiliation, (doctor_id, department_id)) is not None:
        raise Conflict(
            f"Doctor {doctor_id} is already affiliated with department {department_id}",
            "affiliation_exists",
        )
    affiliation = Affiliation(doctor_id=doctor_id, department_id=department_id)
    db.session.add(affiliation)
    commit()
    return AffiliationRow(affiliation, doctor, department)


def delete_affiliation(doctor_id: int, department_id: int) -> None:
    """Remove an affiliation; 409 while the doctor has schedules from today on there."""
    # FOR UPDATE waits for schedule writers holding FOR SHARE on this row, so the count
    # below sees the schedules they committed, and later writers find no affiliation.
    affiliation = db.session.scalar(
        select(Affiliation)
        .where(Affiliation.doctor_id == doctor_id, Affiliation.department_id == department_id)
        .with_for_update()
    )
    if affiliation is None:
        raise NotFound(
            f"Doctor {doctor_id} is not affiliated with department {department_id}",
            "affiliation_not_found",
        )
    count = db.session.scalar(
        select(func.count(Schedule.id)).where(
            Schedule.doctor_id == doctor_id,
            Schedule.department_id == department_id,
            Schedule.date >= hospital_today(),
        )
    ) or 0
    if count:
        noun = "schedule" if count == 1 else "schedules"
        raise Conflict(
            f"Doctor {doctor_id} still has {count} {noun} from today on in department "
            f"{department_id}; delete them first",
            "future_schedules",
            {"schedules": f"{count} {noun} from today on"},
        )
    db.session.delete(affiliation)
    commit()


def list_affiliations(
    params: ListParams, *, doctor_id: int | None = None, department_id: int | None = None
) -> Page:
    """Affiliations with their doctor and department, loaded in the same statement."""
    stmt = (
        select(Affiliation, Doctor, Department)
        .join(Doctor, Doctor.id == Affiliation.doctor_id)
        .join(Department, Department.id == Affiliation.department_id)
    )
    if doctor_id is not None:
        stmt = stmt.where(Affiliation.doctor_id == doctor_id)
    if department_id is not None:
        stmt = stmt.where(Affiliation.department_id == department_id)
    page = paginate(db.session, stmt, params, SORT_COLUMNS, TIEBREAK, scalars=False)
    page.items = [AffiliationRow(*row) for row in page.items]
    return page
