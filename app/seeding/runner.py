"""The seeding run: one transaction, COPY for every table, counters recomputed at the end."""
from __future__ import annotations

import datetime as dt
import functools
import math
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TextIO
from zoneinfo import ZoneInfo

from flask import current_app

from app.extensions import db
from app.seeding import loader
from app.seeding.accounts import (
    PATIENT_COLUMNS,
    USER_COLUMNS,
    Accounts,
    make_accounts,
    seed_password_hash,
)
from app.seeding.bookings import REGISTRATION_COLUMNS, Bookings
from app.seeding.catalogue import (
    Clock,
    Department,
    Session,
    affiliation_lines,
    department_lines,
    doctor_lines,
    expected_sessions,
    make_doctors,
    make_schedules,
    pick_departments,
    schedule_lines,
)
from app.seeding.no_shows import CREDIT_PARDON_COLUMNS, pardon_lines
from app.seeding.people import People
from app.seeding.persons import PERSON_COLUMNS, Persons
from app.seeding.policy import give_own_terms, put_hospital_policy, read_terms
from app.seeding.progress import Progress
from app.seeding.scales import SCALES, ScaleSpec
from app.seeding.slots import Layout, lay_out_slots
from app.seeding.stop_clinic import seed_stop_clinic
from app.services.id_numbers import fingerprint_key

DEFAULT_PASSWORD = "seed-password"
# From this many registrations on, their secondary indexes are rebuilt once after the COPY.
REBUILD_INDEXES_FROM = 50_000


class SeedRefused(RuntimeError):
    """The database already holds data and neither reset nor append was asked for."""


@dataclass(frozen=True)
class SeedOptions:
    """What to seed."""

    scale: str = "small"
    seed: int = 42
    days: int = 14
    past_days: int = 14
    reset: bool = False
    append: bool = False
    now: dt.datetime | None = None  # default: the current time
    password: str = DEFAULT_PASSWORD


@dataclass
class SeedReport:
    """What was written, and how long it took."""

    counts: dict[str, int] = field(default_factory=dict)
    kept_admins: int = 0
    password: str = ""
    password_hash: str = ""
    load_mode: str = ""
    seconds: float = 0.0
    # Suspended sessions, moved and cancelled registrations, waiting entries.
    stop_clinic: dict[str, int] = field(default_factory=dict)


def _existing_values(cur) -> tuple[list[str], list[str], list[str]]:
    cur.execute("SELECT username FROM users")
    usernames = [row[0] for row in cur.fetchall()]
    cur.execute("SELECT phone_number FROM users")
    user_phones = [row[0] for row in cur.fetchall()]
    cur.execute("SELECT phone_number FROM doctors")
    return usernames, user_phones, [row[0] for row in cur.fetchall()]


def _departments(cur, rng: random.Random, spec: ScaleSpec) -> list[Department]:
    cur.execute("SELECT name, id FROM departments")
    existing = dict(cur.fetchall())
    next_id = loader.next_free_id(cur, "departments")
    departments = []
    for name, description, specialties in pick_departments(rng, spec.departments):
        if name in existing:
            departments.append(Department(existing[name], name, description, specialties, False))
        else:
            departments.append(Department(next_id, name, description, specialties))
            next_id += 1
    return departments


def _doctor_count(spec: ScaleSpec, dates: list[dt.date]) -> int:
    if spec.doctors is not None:
        return spec.doctors
    # Enough doctors that the target fits at ~80% of the sessions' expected demand.
    per_doctor = expected_sessions(dates) * spec.mean_capacity * 0.75
    return max(10, math.ceil(spec.registrations / 1.1 / (per_doctor * 0.8)))


class _Run:
    """One seeding transaction: the cursor, the shared Random and what was written."""

    def __init__(self, cur, options: SeedOptions, clock: Clock, stream: TextIO) -> None:
        self.cur, self.options, self.clock, self.stream = cur, options, clock, stream
        self.spec = SCALES[options.scale]
        self.rng = random.Random(options.seed)
        self.report = SeedReport(password=options.password)

    def load(self, table: str, columns, lines, total: int) -> None:
        """COPY lines into table behind a progress bar, then move its id sequence on."""
        with Progress(table, total, self.stream) as progress:
            self.report.counts[table] = loader.copy_lines(self.cur, table, columns, lines,
                                                          progress)
        if "id" in columns:
            loader.sync_sequence(self.cur, table)

    def catalogue(self, dates: list[dt.date]) -> tuple[list[Department], list[Session]]:
        """Departments, doctors, affiliations and schedules."""
        cur, rng, clock = self.cur, self.rng, self.clock
        departments = _departments(cur, rng, self.spec)
        give_own_terms(departments)
        self.load("departments", ("id", "name", "description", "horizon_days", "release_time",
                                  "created_at", "updated_at"),
                  department_lines(departments, clock, rng), sum(d.new for d in departments))
        doctors = make_doctors(self.people, rng, departments, _doctor_count(self.spec, dates),
                               loader.next_free_id(cur, "doctors"))
        self.load("doctors", ("id", "name", "gender", "email", "phone_number", "description",
                              "created_at", "updated_at"),
                  doctor_lines(doctors, clock, rng), len(doctors))
        self.load("affiliations", ("doctor_id", "department_id", "created_at"),
                  affiliation_lines(doctors, clock, rng),
                  sum(len(doc.department_ids) for doc in doctors))
        sessions = make_schedules(rng, doctors, departments, dates, self.spec.capacities,
                                  loader.next_free_id(cur, "schedules"))
        self.load("schedules", ("id", "doctor_id", "department_id", "date", "start_time",
                                "end_time", "max_appointments", "slot_minutes", "created_at",
                                "updated_at"),
                  schedule_lines(sessions, clock, rng), len(sessions))
        return departments, sessions

    def slots(self, sessions: list[Session]) -> dict[int, Layout]:
        """The time slots of the new slotted schedules, laid out by the database."""
        if not sessions:
            self.report.counts["schedule_slots"] = 0
            return {}
        with Progress("schedule_slots", 0, self.stream) as progress:
            made, layouts = lay_out_slots(self.cur, sessions[0].id)
            progress.total = made  # known once the database has laid them out
            progress.advance(made)
        self.report.counts["schedule_slots"] = made
        return layouts

    def slots_and_accounts(self, sessions: list[Session], config) -> tuple[dict[int, Layout],
                                                                            Accounts]:
        """The slots, then persons, users (sharing one password hash) and their patients.

        Laying out the slots is one statement that draws nothing from the shared Random, so
        the accounts are generated in Python meanwhile: the draws come in the same order as
        one after the other, and the seed still decides every row.
        """
        cur = self.cur
        persons = Persons.for_batch(cur, self.rng, fingerprint_key(config))
        make = functools.partial(
            make_accounts, self.people, persons, self.rng, self.clock,
            first_user_id=loader.next_free_id(cur, "users"),
            first_patient_id=loader.next_free_id(cur, "patients"),
            users=self.spec.users, patients=self.spec.patients,
            password_hash=self.report.password_hash)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="seed-accounts") as pool:
            made = pool.submit(make)
            layouts = self.slots(sessions)
            accounts = made.result()
        # Every patient line names its person, so the insert trigger on patients (which
        # makes one for a patient without) has nothing to do in either load mode.
        self.load("persons", PERSON_COLUMNS, accounts.person_lines, len(accounts.person_lines))
        self.load("users", USER_COLUMNS, accounts.user_lines, len(accounts.user_lines))
        self.load("patients", PATIENT_COLUMNS, accounts.patient_lines,
                  len(accounts.patient_lines))
        return layouts, accounts

    def registrations(self, departments, sessions, layouts, accounts,
                      grace_minutes: int) -> None:
        """Registrations, then the counters of schedules and slots computed from them."""
        cur = self.cur
        first_schedule = sessions[0].id if sessions else loader.next_free_id(cur, "schedules")
        terms = read_terms(cur, first_schedule, self.clock.tz.key)
        bookings = Bookings(self.rng, self.clock, sessions, departments, accounts.pools, terms,
                            layouts, accounts.twins)
        planned = bookings.plan(self.spec.registrations, self.spec.min_registrations)
        first_id = loader.next_free_id(cur, "registrations")
        rebuild = (loader.drop_plain_indexes(cur, "registrations")
                   if planned >= REBUILD_INDEXES_FROM else [])
        self.load("registrations", REGISTRATION_COLUMNS,
                  bookings.lines(first_id, grace_minutes), planned)
        if rebuild:
            with Progress("indexes", len(rebuild), self.stream) as progress:
                for definition in rebuild:
                    loader.create_indexes(cur, [definition])
                    progress.advance()
        if sessions:
            loader.refresh_schedule_counters(cur, sessions[0].id)
            loader.refresh_slot_counters(cur, sessions[0].id)
        self.pardons(bookings)

    def pardons(self, bookings: Bookings) -> None:
        """The pardon of the person whose no-shows were forgiven (none without one)."""
        lines = pardon_lines(self.cur, bookings.pardon, self.rng, self.clock.now)
        self.load("credit_pardons", CREDIT_PARDON_COLUMNS, lines, len(lines))

    def run(self, config) -> None:
        """Everything, in the order foreign keys need."""
        cur, options = self.cur, self.options
        present = {name: n for name, n in loader.table_counts(cur).items() if n}
        if present and not (options.reset or options.append):
            listed = ", ".join(f"{n} {name}" for name, n in present.items())
            raise SeedRefused(f"The database already holds data ({listed}). Use --reset to "
                              "replace it or --append to add to it.")
        if options.reset:
            self.report.kept_admins = loader.reset_keeping_admins(cur)
        if options.reset or not present:
            # An appended batch leaves the policy as it is (an admin may have changed it) and
            # books by whatever is in force.
            put_hospital_policy(cur)
        self.report.load_mode = loader.begin_bulk_load(cur)
        self.report.password_hash = seed_password_hash(options.password,
                                                       config["PASSWORD_HASH_METHOD"], self.rng)
        self.people = People(self.rng, options.seed)
        self.people.reserve_existing(*_existing_values(cur))
        today = self.clock.today
        dates = [today + dt.timedelta(days=offset)
                 for offset in range(-options.past_days, options.days)]
        departments, sessions = self.catalogue(dates)
        layouts, accounts = self.slots_and_accounts(sessions, config)
        self.registrations(departments, sessions, layouts, accounts,
                           config["NO_SHOW_GRACE_MINUTES"])
        loader.end_bulk_load(cur, self.report.load_mode)
        # With every trigger on again: through the database functions the API uses.
        self.report.stop_clinic = seed_stop_clinic(
            cur, self.rng, self.clock.now, self.clock.now.astimezone(self.clock.tz)
            .replace(tzinfo=None), options.scale)
        self.report.counts["waitlist_entries"] = self.report.stop_clinic["waiting"]


def seed_database(options: SeedOptions, stream: TextIO | None = None) -> SeedReport:
    """Fill the database of the current app; raises SeedRefused when it already has data."""
    started = time.perf_counter()
    config = current_app.config
    tz = ZoneInfo(config["HOSPITAL_TIMEZONE"])
    now = options.now or dt.datetime.now(tz)
    if now.tzinfo is None:  # a wall-clock time at the hospital
        now = now.replace(tzinfo=tz)
    clock = Clock(now=now.astimezone(dt.UTC), tz=tz)
    connection = db.engine.raw_connection()
    try:
        cur = connection.cursor()
        cur.execute("SET LOCAL statement_timeout = 0")
        seeding = _Run(cur, options, clock, stream if stream is not None else sys.stderr)
        seeding.run(config)
        # The bulk load skips triggers, the cache generations' included: bump them in the
        # same transaction so running servers stop serving the old catalogue.
        cur.execute("SELECT bump_all_cache_generations()")
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        connection.close()
    _analyze()
    seeding.report.seconds = time.perf_counter() - started
    return seeding.report


def _analyze() -> None:
    """Fresh planner statistics for the bulk-loaded tables."""
    connection = db.engine.raw_connection()
    try:
        cur = connection.cursor()
        cur.execute("SET LOCAL statement_timeout = 0")
        cur.execute("ANALYZE departments, doctors, affiliations, schedules, schedule_slots, "
                    "persons, users, patients, registrations, credit_pardons, "
                    "waitlist_entries")
        connection.commit()
    finally:
        connection.close()
