"""User accounts and their patients: the account holder plus family members."""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from app.seeding.catalogue import Clock
from app.seeding.loader import text, ts
from app.seeding.people import People
from app.seeding.texts import BIOS

USER_COLUMNS = ("id", "username", "phone_number", "password_hash", "bio", "created_at",
                "updated_at")
PATIENT_COLUMNS = ("id", "user_id", "name", "gender", "birthday", "phone_number", "created_at",
                   "updated_at")
PATIENTS_PER_USER = ((1, 35), (2, 30), (3, 20), (4, 15))
CHILD_AGE = 14  # 儿科 sees patients younger than this


@dataclass
class PatientPools:
    """Patient ids by who may be booked where (儿科: children, 妇产科: women)."""

    everyone: list[int] = field(default_factory=list)
    children: list[int] = field(default_factory=list)
    women: list[int] = field(default_factory=list)


@dataclass
class Accounts:
    """COPY lines of users and patients, and the patient pools for booking."""

    user_lines: list[str] = field(default_factory=list)
    patient_lines: list[str] = field(default_factory=list)
    pools: PatientPools = field(default_factory=PatientPools)


def _birthday(rng: random.Random, today: dt.date, age: int) -> dt.date:
    return today - dt.timedelta(days=int(age * 365.25) + rng.randrange(365))


class _Family:
    """Builds the patients of one account, keeping (name, birthday) unique within it."""

    def __init__(self, people: People, rng: random.Random, today: dt.date) -> None:
        self.people, self.rng, self.today = people, rng, today
        self.members: list[tuple[str, str, dt.date, str, int]] = []

    def add(self, surname: str, gender: str, age: int, phone: str) -> None:
        birthday = _birthday(self.rng, self.today, max(age, 0))
        taken = {(name, born) for name, _, born, _, _ in self.members}
        name = surname + self.people.given_name(gender)
        while (name, birthday) in taken:
            name = surname + self.people.given_name(gender)
        self.members.append((name, gender, birthday, phone, age))

    def build(self, count: int, phone: str) -> None:
        people, rng = self.people, self.rng
        surname, gender = people.surname()[0], people.gender()
        age = min(int(rng.triangular(18, 85, 38)), 85)
        self.add(surname, gender, age, phone)
        has_spouse = False
        while len(self.members) < count:
            roll = rng.random()
            if roll < 0.5 and age >= 24:
                child_surname = surname if gender == "male" or rng.random() < 0.5 \
                    else people.surname()[0]
                self.add(child_surname, people.gender(), rng.randint(0, min(17, age - 22)), phone)
            elif roll < 0.75 and not has_spouse:
                has_spouse = True
                spouse_gender = "female" if gender == "male" else "male"
                self.add(people.surname()[0], spouse_gender,
                         max(18, age + rng.randint(-5, 5)), people.mobile())
            else:
                parent_gender = people.gender()
                parent_surname = surname if parent_gender == "male" else people.surname()[0]
                self.add(parent_surname, parent_gender, min(age + rng.randint(22, 35), 98),
                         people.mobile())


def make_accounts(people: People, rng: random.Random, clock: Clock, *, first_user_id: int,
                  first_patient_id: int, users: int | None, patients: int | None,
                  password_hash: str) -> Accounts:
    """`users` accounts with 1-4 patients each, or as many as make `patients` patients."""
    out = Accounts()
    counts, weights = zip(*PATIENTS_PER_USER, strict=True)
    today = clock.today
    user_id, patient_id = first_user_id, first_patient_id
    made_users = made_patients = 0
    while (users is not None and made_users < users) or \
            (users is None and patients is not None and made_patients < patients):
        count = rng.choices(counts, weights)[0]
        if users is None and patients is not None:
            count = min(count, patients - made_patients)
        phone = people.user_phone()
        created = clock.days_ago(rng, 1, 720)
        bio = rng.choice(BIOS) if rng.random() < 0.15 else None
        out.user_lines.append(f"{user_id}\t{people.username()}\t{phone}\t{password_hash}\t"
                              f"{text(bio)}\t{ts(created)}\t{ts(created)}\n")
        family = _Family(people, rng, today)
        family.build(count, phone)
        for name, gender, birthday, patient_phone, age in family.members:
            added = ts(created + dt.timedelta(minutes=rng.randint(1, 600)))
            out.patient_lines.append(f"{patient_id}\t{user_id}\t{text(name)}\t{gender}\t"
                                     f"{birthday.isoformat()}\t{patient_phone}\t{added}\t"
                                     f"{added}\n")
            out.pools.everyone.append(patient_id)
            if age < CHILD_AGE:
                out.pools.children.append(patient_id)
            if gender == "female" and age >= 16:
                out.pools.women.append(patient_id)
            patient_id += 1
        made_users += 1
        made_patients += len(family.members)
        user_id += 1
    return out
