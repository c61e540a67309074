"""Test data builders; rows are created through the same services the API uses."""
from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from flask_jwt_extended import create_access_token
from sqlalchemy import update

from app.extensions import db
from app.identity.tokens import mint_pair
from app.models import (
    Affiliation,
    BookingPolicy,
    Department,
    Doctor,
    Patient,
    Registration,
    Schedule,
    User,
)
from app.services.sessions import record_refresh_token
from app.services.users import create_user

_counter = itertools.count(1)
PASSWORD = "password123"


class Factory:
    """Creates rows and tokens; each call makes unique names and phone numbers."""

    def __init__(self, app) -> None:
        self.app = app

    def user(self, *, admin: bool = False, username: str | None = None,
             password: str = PASSWORD, **extra: Any) -> User:
        """An account (an admin when admin=True)."""
        n = next(_counter)
        return create_user(
            username=username or f"user{n}",
            phone_number=extra.pop("phone_number", f"1390000{n:04d}"),
            password=password,
            bio=extra.pop("bio", None),
            is_admin=admin,
        )

    def admin(self, **kwargs: Any) -> User:
        """An admin account."""
        return self.user(admin=True, **kwargs)

    def headers(self, user: User) -> dict[str, str]:
        """Authorization headers with a fresh access token for user."""
        return {"Authorization": f"Bearer {create_access_token(identity=user)}"}

    def refresh_headers(self, user: User) -> dict[str, str]:
        """Authorization headers with a refresh token issued to user as at login."""
        pair = mint_pair(user)
        record_refresh_token(user.id, pair.refresh_jti, pair.family, pair.refresh_expires_at)
        return {"Authorization": f"Bearer {pair.refresh_token}"}

    def department(self, name: str | None = None, **kwargs: Any) -> Department:
        """A department."""
        n = next(_counter)
        dep = Department(name=name or f"Department {n}", description=kwargs.get("description"))
        db.session.add(dep)
        db.session.commit()
        return dep

    def doctor(self, name: str | None = None, **kwargs: Any) -> Doctor:
        """A doctor."""
        n = next(_counter)
        doc = Doctor(name=name or f"Doctor {n}", gender=kwargs.get("gender", "female"),
                     email=kwargs.get("email", f"doctor{n}@example.com"),
                     phone_number=kwargs.get("phone_number", f"1380000{n:04d}"),
                     description=kwargs.get("description"))
        db.session.add(doc)
        db.session.commit()
        return doc

    def affiliation(self, doctor: Doctor, department: Department) -> Affiliation:
        """Affiliate a doctor with a department."""
        aff = Affiliation(doctor_id=doctor.id, department_id=department.id)
        db.session.add(aff)
        db.session.commit()
        return aff

    def schedule(self, doctor: Doctor | None = None, department: Department | None = None, *,
                 date: dt.date | None = None, start: dt.time = dt.time(8, 0),
                 end: dt.time = dt.time(12, 0), max_appointments: int = 10,
                 slot_minutes: int | None = None) -> Schedule:
        """A schedule (affiliating doctor and department if needed); default: 30 days ahead."""
        doctor = doctor or self.doctor()
        department = department or self.department()
        if db.session.get(Affiliation, (doctor.id, department.id)) is None:
            self.affiliation(doctor, department)
        sched = Schedule(doctor_id=doctor.id, department_id=department.id,
                         date=date or (dt.date.today() + dt.timedelta(days=30)),
                         start_time=start, end_time=end, max_appointments=max_appointments,
                         slot_minutes=slot_minutes)
        db.session.add(sched)
        db.session.commit()
        return sched

    def policy(self, **values: Any) -> None:
        """Change fields of the booking policy (its one row)."""
        db.session.execute(update(BookingPolicy).values(**values))
        db.session.commit()

    def patient(self, user: User, name: str | None = None, **kwargs: Any) -> Patient:
        """A patient owned by user."""
        n = next(_counter)
        pat = Patient(user_id=user.id, name=name or f"Patient {n}",
                      gender=kwargs.get("gender", "male"),
                      birthday=kwargs.get("birthday", dt.date(1990, 1, 1)),
                      phone_number=kwargs.get("phone_number", f"1370000{n:04d}"))
        db.session.add(pat)
        db.session.commit()
        return pat

    def registration(self, patient: Patient, schedule: Schedule, *, status: str = "scheduled",
                     notes: str | None = None) -> Registration:
        """A registration inserted directly (the trigger assigns the queue number)."""
        reg = Registration(patient_id=patient.id, schedule_id=schedule.id, status=status,
                           notes=notes)
        db.session.add(reg)
        db.session.commit()
        db.session.refresh(reg)
        db.session.refresh(schedule)
        return reg
