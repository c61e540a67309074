"""The world the authorization matrix runs in: one account per role and what they own."""
from __future__ import annotations

import datetime as dt
import itertools
from typing import Any
from zoneinfo import ZoneInfo

from app.extensions import db
from app.models import Patient, Registration, Schedule, User, WaitlistEntry
from tests.factories import PASSWORD

HOSPITAL_TIMEZONE = "Asia/Shanghai"  # the test settings

ROLES = ("anonymous", "user", "other_user", "doctor", "other_doctor", "admin")
NEW_PASSWORD = "another-password-1"
_n = itertools.count(1)


class World:
    """user owns `patient`, registered on the doctor's future schedule (`registration`);
    doctor and other_doctor are accounts linked to doctors D and E; every account also owns
    a patient of its own. Fresh rows are made on demand for operations that destroy them."""

    def __init__(self, factory) -> None:
        self.factory = factory
        self.d, self.e = factory.doctor(), factory.doctor()
        self.accounts: dict[str, User] = {
            "user": factory.user(), "other_user": factory.user(),
            "doctor": self._linked(self.d), "other_doctor": self._linked(self.e),
            "admin": factory.admin(),
        }
        self.d_future = factory.schedule(self.d, max_appointments=1000)
        self.d_started = factory.schedule(self.d, date=dt.date.today() - dt.timedelta(days=1),
                                          max_appointments=1000)
        self.e_future = factory.schedule(self.e)
        self.open_schedule = factory.schedule(max_appointments=100)
        self.patient = factory.patient(self.owner)
        self.registration = factory.registration(self.patient, self.d_future)
        self.own_patient = {role: factory.patient(account)
                            for role, account in self.accounts.items()}
        self.waitlist_entry = self.fresh_waitlist_entry()
        self.me: User | None = None  # the account making the current request
        self._check_in_schedule: Schedule | None = None

    @property
    def owner(self) -> User:
        """The plain user who owns `patient`."""
        return self.accounts["user"]

    def _linked(self, doctor) -> User:
        account = self.factory.user()
        account.doctor_id = doctor.id
        db.session.commit()
        return account

    def actor(self, role: str, fresh: bool) -> User | None:
        """The account acting as `role` (a new one of the same kind when fresh)."""
        if role == "anonymous":
            return None
        if not fresh:
            return self.accounts[role]
        if role == "admin":
            return self.factory.admin()
        if role in ("doctor", "other_doctor"):
            return self._linked(self.factory.doctor())
        return self.factory.user()

    def headers(self, account: User | None, refresh: bool = False) -> dict[str, str]:
        """Authorization headers for the account (none for anonymous)."""
        if account is None:
            return {}
        if refresh:
            return self.factory.refresh_headers(account)
        return self.factory.headers(account)

    def defaults(self) -> dict[str, Any]:
        """Path parameters of the shared rows."""
        return {"user_id": self.owner.id, "patient_id": self.patient.id,
                "registration_id": self.registration.id, "doctor_id": self.d.id,
                "department_id": self.d_future.department_id, "schedule_id": self.d_future.id,
                "entry_id": self.waitlist_entry.id, "status": "scheduled"}

    # --- fresh rows ---------------------------------------------------------------------------

    def fresh_user(self) -> User:
        return self.factory.user()

    def fresh_admin(self) -> User:
        return self.factory.admin()

    def fresh_patient(self) -> Patient:
        """A patient of `user` with a registration on the doctor's future schedule."""
        patient = self.factory.patient(self.owner)
        self.factory.registration(patient, self.d_future)
        return patient

    def fresh_registration(self, started: bool) -> Registration:
        """A scheduled registration of a new patient of `user` on one of the doctor's."""
        schedule = self.d_started if started else self.d_future
        return self.factory.registration(self.factory.patient(self.owner), schedule)

    def fresh_pair(self, affiliated: bool) -> dict[str, int]:
        """A new doctor and a new department (affiliated or not)."""
        doctor, department = self.factory.doctor(), self.factory.department()
        if affiliated:
            self.factory.affiliation(doctor, department)
        return {"doctor_id": doctor.id, "department_id": department.id}

    def fresh_schedule(self) -> Schedule:
        return self.factory.schedule()

    def fresh_check_in(self) -> Registration:
        """A registration of `user`'s new patient whose check-in window is open now: a
        session of the doctor at the next hospital midnight, with check-in opening a day
        ahead."""
        if self._check_in_schedule is None:
            self.factory.policy(check_in_opens_minutes=1440)
            tomorrow = (dt.datetime.now(ZoneInfo(HOSPITAL_TIMEZONE)).date()
                        + dt.timedelta(days=1))
            self._check_in_schedule = self.factory.schedule(
                self.d, date=tomorrow, start=dt.time(0, 0), end=dt.time(0, 30),
                max_appointments=1000)
        return self.factory.registration(self.factory.patient(self.owner),
                                         self._check_in_schedule)

    def fresh_suspended_schedule(self) -> Schedule:
        schedule = self.factory.schedule()
        schedule.status, schedule.suspend_reason = "suspended", "matrix"
        db.session.commit()
        return schedule

    def fresh_full_schedule(self) -> Schedule:
        """A future schedule of one place, taken by a patient of nobody in the matrix."""
        schedule = self.factory.schedule(max_appointments=1)
        self.factory.registration(self.factory.patient(self.factory.user()), schedule)
        return schedule

    def fresh_waitlist_entry(self) -> WaitlistEntry:
        """`patient` (of `user`) waiting on a new full schedule."""
        entry = WaitlistEntry(schedule_id=self.fresh_full_schedule().id,
                              patient_id=self.patient.id)
        db.session.add(entry)
        db.session.commit()
        return entry

    # --- bodies -------------------------------------------------------------------------------

    @staticmethod
    def new_account() -> dict[str, str]:
        n = next(_n)
        return {"username": f"matrix{n}", "phone_number": f"1355500{n:04d}", "password": PASSWORD}

    @staticmethod
    def new_patient() -> dict[str, str]:
        return {"name": f"Matrix patient {next(_n)}", "gender": "female",
                "birthday": "2001-02-03", "phone_number": "13500000000"}

    @staticmethod
    def new_doctor() -> dict[str, str]:
        n = next(_n)
        return {"name": f"Matrix doctor {n}", "gender": "male",
                "email": f"matrix{n}@example.com", "phone_number": f"1366600{n:04d}"}

    def new_schedule(self) -> dict[str, Any]:
        pair = self.fresh_pair(affiliated=True)
        date = (dt.date.today() + dt.timedelta(days=40)).isoformat()
        return {**pair, "date": date, "start_time": "08:00", "end_time": "12:00",
                "max_appointments": 10}

    def credentials(self, role: str) -> dict[str, str]:
        account = self.accounts["user" if role == "anonymous" else role]
        return {"username": account.username, "password": PASSWORD}
