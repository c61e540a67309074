"""Departments, doctors, affiliations and half-day schedules (rows for COPY)."""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from app.seeding.loader import text, ts
from app.seeding.people import People
from app.seeding.slots import choose_slot_minutes
from app.seeding.texts import DEPARTMENTS, EMAIL_DOMAIN, ROUND_THE_CLOCK, TITLE_YEARS, TITLES

MORNING = (dt.time(8, 0), dt.time(12, 0))
AFTERNOON = (dt.time(14, 0), dt.time(17, 30))
SESSIONS = (MORNING, AFTERNOON)
# Chance that a doctor works a given half-day.
WEEKDAY_SESSION, WEEKEND_SESSION, EMERGENCY_SESSION = 0.5, 0.12, 0.6
EXTRA_AFFILIATIONS = ((0, 70), (1, 22), (2, 8))  # 1-3 departments per doctor


@dataclass(frozen=True)
class Clock:
    """The seeding moment and the hospital's timezone."""

    now: dt.datetime  # aware
    tz: ZoneInfo

    @property
    def today(self) -> dt.date:
        """Today in the hospital's timezone."""
        return self.now.astimezone(self.tz).date()

    def at(self, date: dt.date, time: dt.time) -> dt.datetime:
        """The UTC moment of a wall-clock time at the hospital."""
        return dt.datetime.combine(date, time, self.tz).astimezone(dt.UTC)

    def days_ago(self, rng: random.Random, low: float, high: float) -> dt.datetime:
        """A random moment between `high` and `low` days before now."""
        return (self.now - dt.timedelta(days=rng.uniform(low, high))).astimezone(dt.UTC)


@dataclass
class Department:
    id: int
    name: str
    description: str
    specialties: tuple[str, ...]
    new: bool = True
    horizon_days: int | None = None  # release overrides (None: the hospital's)
    release_time: dt.time | None = None


@dataclass
class Doctor:
    id: int
    name: str
    gender: str
    email: str
    phone: str
    description: str
    department_ids: list[int] = field(default_factory=list)  # the primary one first


@dataclass(frozen=True)
class Session:
    """One schedule row: a doctor's half-day in a department."""

    id: int
    doctor_id: int
    department_id: int
    date: dt.date
    start: dt.time
    end: dt.time
    max_appointments: int
    slot_minutes: int | None


def pick_departments(rng: random.Random, count: int | None) -> list[tuple[str, str, tuple]]:
    """`count` departments of the list (all when None), in the list's order."""
    if count is None or count >= len(DEPARTMENTS):
        return list(DEPARTMENTS)
    chosen = set(rng.sample(range(len(DEPARTMENTS)), count))
    return [entry for index, entry in enumerate(DEPARTMENTS) if index in chosen]


def department_lines(departments: list[Department], clock: Clock, rng: random.Random):
    """COPY lines of the new departments."""
    for dep in departments:
        if dep.new:
            created = ts(clock.days_ago(rng, 700, 1000))
            horizon = "\\N" if dep.horizon_days is None else str(dep.horizon_days)
            release = "\\N" if dep.release_time is None else dep.release_time.isoformat()
            yield (f"{dep.id}\t{text(dep.name)}\t{text(dep.description)}\t{horizon}\t"
                   f"{release}\t{created}\t{created}\n")


def make_doctors(people: People, rng: random.Random, departments: list[Department],
                 count: int, first_id: int) -> list[Doctor]:
    """Doctors with 1-3 affiliations; primaries spread evenly over the departments."""
    doctors = []
    by_id = {dep.id: dep for dep in departments}
    titles, title_weights = zip(*TITLES, strict=True)
    extra_counts, extra_weights = zip(*EXTRA_AFFILIATIONS, strict=True)
    for index in range(count):
        doctor_id = first_id + index
        primary = departments[index % len(departments)]
        others = [dep.id for dep in departments if dep.id != primary.id]
        extras = rng.choices(extra_counts, extra_weights)[0]
        dep_ids = [primary.id, *rng.sample(others, min(extras, len(others)))]
        gender = people.gender()
        surname, pinyin = people.surname()
        title = rng.choices(titles, title_weights)[0]
        years = rng.randint(*TITLE_YEARS[title])
        skills = "、".join(rng.sample(primary.specialties, rng.randint(2, 3)))
        also = "".join(f"，兼任{by_id[dep_id].name}门诊" for dep_id in dep_ids[1:])
        doctors.append(Doctor(
            id=doctor_id, name=surname + people.given_name(gender), gender=gender,
            email=f"{pinyin}{doctor_id:05d}@{EMAIL_DOMAIN}", phone=people.doctor_phone(),
            description=f"{title}，从事{primary.name}临床工作{years}年，擅长{skills}的诊治{also}。",
            department_ids=dep_ids,
        ))
    return doctors


def doctor_lines(doctors: list[Doctor], clock: Clock, rng: random.Random):
    """COPY lines of doctors."""
    for doc in doctors:
        created = ts(clock.days_ago(rng, 30, 700))
        yield (f"{doc.id}\t{text(doc.name)}\t{doc.gender}\t{text(doc.email)}\t{doc.phone}\t"
               f"{text(doc.description)}\t{created}\t{created}\n")


def affiliation_lines(doctors: list[Doctor], clock: Clock, rng: random.Random):
    """COPY lines of affiliations."""
    for doc in doctors:
        for dep_id in doc.department_ids:
            yield f"{doc.id}\t{dep_id}\t{ts(clock.days_ago(rng, 30, 700))}\n"


def session_chance(date: dt.date, emergency: bool) -> float:
    """How likely a doctor works one half-day of `date`."""
    if emergency:
        return EMERGENCY_SESSION
    return WEEKEND_SESSION if date.weekday() >= 5 else WEEKDAY_SESSION


def expected_sessions(dates: list[dt.date]) -> float:
    """Expected half-days one (non-emergency) doctor works over `dates`."""
    return sum(len(SESSIONS) * session_chance(date, False) for date in dates)


def make_schedules(rng: random.Random, doctors: list[Doctor], departments: list[Department],
                   dates: list[dt.date], capacities: tuple[int, ...],
                   first_id: int) -> list[Session]:
    """At most one morning and one afternoon per doctor and date: never overlapping."""
    emergency = {dep.id for dep in departments if dep.name in ROUND_THE_CLOCK}
    sessions: list[Session] = []
    for date in dates:
        for doc in doctors:
            chance = session_chance(date, doc.department_ids[0] in emergency)
            for start, end in SESSIONS:
                if rng.random() >= chance:
                    continue
                dep_id = doc.department_ids[0]
                if len(doc.department_ids) > 1 and rng.random() < 0.3:
                    dep_id = rng.choice(doc.department_ids[1:])
                capacity = rng.choice(capacities)
                sessions.append(Session(first_id + len(sessions), doc.id, dep_id, date, start,
                                        end, capacity,
                                        choose_slot_minutes(rng, start, end, capacity)))
    return sessions


def schedule_lines(sessions: list[Session], clock: Clock, rng: random.Random):
    """COPY lines of schedules (counters are set from the registrations afterwards)."""
    for ses in sessions:
        published = clock.at(ses.date, ses.start) - dt.timedelta(days=rng.uniform(15, 30))
        created = ts(min(published, clock.now - dt.timedelta(hours=1)))
        minutes = "\\N" if ses.slot_minutes is None else str(ses.slot_minutes)
        yield (f"{ses.id}\t{ses.doctor_id}\t{ses.department_id}\t{ses.date.isoformat()}\t"
               f"{ses.start.isoformat()}\t{ses.end.isoformat()}\t{ses.max_appointments}\t"
               f"{minutes}\t{created}\t{created}\n")
