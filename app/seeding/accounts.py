"""User accounts and their patients: the account holder plus family members."""
from __future__ import annotations

import datetime as dt
import random
import string
from dataclasses import dataclass, field
from typing import NamedTuple

from werkzeug.security import check_password_hash, generate_password_hash

from app.seeding.catalogue import Clock
from app.seeding.loader import text, ts
from app.seeding.people import People
from app.seeding.persons import SAME_REGION_SHARE, Persons
from app.seeding.texts import BIOS

USER_COLUMNS = ("id", "username", "phone_number", "password_hash", "bio", "created_at",
                "updated_at")
PATIENT_COLUMNS = ("id", "user_id", "name", "gender", "birthday", "phone_number", "person_id",
                   "id_number_masked", "created_at", "updated_at")
PATIENTS_PER_USER = ((1, 35), (2, 30), (3, 20), (4, 15))
CHILD_AGE = 14  # 儿科 sees patients younger than this
ADULT_AGE = 18
# About this share of the persons with a number are also patients of a second account: a
# son and a daughter who both book for their elderly mother, say.
SHARED_SHARE = 0.02
ELDERLY_AGE = 60


@dataclass
class PatientPools:
    """Patient ids by who may be booked where (儿科: children, 妇产科: women)."""

    everyone: list[int] = field(default_factory=list)
    children: list[int] = field(default_factory=list)
    women: list[int] = field(default_factory=list)
    adults: list[int] = field(default_factory=list)


@dataclass
class Accounts:
    """COPY lines of persons, users and patients, and the patient pools for booking."""

    person_lines: list[str] = field(default_factory=list)
    user_lines: list[str] = field(default_factory=list)
    patient_lines: list[str] = field(default_factory=list)
    pools: PatientPools = field(default_factory=PatientPools)
    # The patients of a person who is a patient of two accounts, each mapped to the other.
    twins: dict[int, int] = field(default_factory=dict)


class Member(NamedTuple):
    """A patient of one account; person_id None until the person is made."""

    name: str
    gender: str
    birthday: dt.date
    phone: str
    age: int
    person_id: int | None = None
    masked: str | None = None
    patient_id: int | None = None  # its first patient row (a shared person has a second)


def seed_password_hash(password: str, method: str, rng: random.Random) -> str:
    """ONE hash shared by every seeded user (hashing per user would take hours at scale).

    The salt comes from the seeded Random so the same seed writes the same hash.
    """
    salt = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(16))
    try:  # werkzeug's own hashing with a chosen salt: the format check_password_hash reads
        from werkzeug.security import _hash_internal

        digest, actual_method = _hash_internal(method, salt, password)
        hashed = f"{actual_method}${salt}${digest}"
    except (ImportError, TypeError, ValueError):
        hashed = generate_password_hash(password, method=method)
    if not check_password_hash(hashed, password):
        raise RuntimeError("could not produce a valid password hash")
    return hashed


def _birthday(rng: random.Random, today: dt.date, age: int) -> dt.date:
    return today - dt.timedelta(days=int(age * 365.25) + rng.randrange(365))


class _Family:
    """Builds the patients of one account, keeping (name, birthday) unique within it."""

    def __init__(self, people: People, rng: random.Random, today: dt.date,
                 shared: Member | None = None) -> None:
        self.people, self.rng, self.today = people, rng, today
        # A person already a patient of another account comes first, so nobody else in the
        # family takes their (name, birthday); build() moves them to the end.
        self.members: list[Member] = [shared] if shared is not None else []

    def add(self, surname: str, gender: str, age: int, phone: str) -> None:
        birthday = _birthday(self.rng, self.today, max(age, 0))
        taken = {(member.name, member.birthday) for member in self.members}
        name = surname + self.people.given_name(gender)
        while (name, birthday) in taken:
            name = surname + self.people.given_name(gender)
        self.members.append(Member(name, gender, birthday, phone, age))

    def build(self, count: int, phone: str) -> None:
        people, rng = self.people, self.rng
        shared = self.members[:1]
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
        self.members = self.members[len(shared):] + shared


class _Sharing:
    """Picks, now and then, an elderly person of an earlier account for the next one."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.elders: list[Member] = []  # numbered, elderly and not shared yet
        self.numbered = self.shared = 0

    def offer(self, member: Member) -> None:
        """Count a new person; an elderly one with a number may be shared later."""
        if member.masked is not None:
            self.numbered += 1
            if member.age >= ELDERLY_AGE:
                self.elders.append(member)

    def take(self, count: int) -> Member | None:
        """A person for an account of `count` patients, or None (the share is reached)."""
        if count < 2 or not self.elders or self.shared >= SHARED_SHARE * self.numbered:
            return None
        index = self.rng.randrange(len(self.elders))
        self.elders[index], self.elders[-1] = self.elders[-1], self.elders[index]
        self.shared += 1
        return self.elders.pop()


def make_accounts(people: People, persons: Persons, rng: random.Random, clock: Clock, *,
                  first_user_id: int, first_patient_id: int, users: int | None,
                  patients: int | None, password_hash: str) -> Accounts:
    """`users` accounts with 1-4 patients each, or as many as make `patients` patients."""
    out = Accounts(person_lines=persons.lines)
    counts, weights = zip(*PATIENTS_PER_USER, strict=True)
    today = clock.today
    sharing = _Sharing(rng)
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
        family = _Family(people, rng, today, sharing.take(count))
        family.build(count, phone)
        home = persons.region()
        for member in family.members:
            added = ts(created + dt.timedelta(minutes=rng.randint(1, 600)))
            if member.person_id is None:
                region = home if rng.random() < SAME_REGION_SHARE else persons.region()
                person_id, masked = persons.add(region, member.birthday, member.gender, added)
                member = member._replace(person_id=person_id, masked=masked,
                                         patient_id=patient_id)
                sharing.offer(member)
            else:
                out.twins[patient_id] = member.patient_id
                out.twins[member.patient_id] = patient_id
            out.patient_lines.append(
                f"{patient_id}\t{user_id}\t{text(member.name)}\t{member.gender}\t"
                f"{member.birthday.isoformat()}\t{member.phone}\t{member.person_id}\t"
                f"{text(member.masked)}\t{added}\t{added}\n")
            out.pools.everyone.append(patient_id)
            if member.age < CHILD_AGE:
                out.pools.children.append(patient_id)
            if member.age >= ADULT_AGE:
                out.pools.adults.append(patient_id)
            # A shared person's second patient stays out of the small 妇产科 pool, where a
            # full session could not avoid booking both of them.
            if member.gender == "female" and member.age >= 16 and patient_id not in out.twins:
                out.pools.women.append(patient_id)
            patient_id += 1
        made_users += 1
        made_patients += len(family.members)
        user_id += 1
    return out
