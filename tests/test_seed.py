"""seed.py: the small scale obeys every booking rule, is deterministic and never mixes data.

Its persons (实名制) are what the API would have written: every patient has one, a resident
ID number is kept only as its keyed fingerprint and masked form, a few persons are patients
of two accounts, and a few have enough recent no-shows to be suspended once the rule is on.
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import random
import re
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from werkzeug.security import check_password_hash

from app.extensions import db
from app.seeding import SeedOptions, SeedRefused, loader, runner, seed_database
from app.seeding.persons import REGIONS, Persons
from app.seeding.texts import DEPARTMENTS
from app.services import id_numbers

ROOT = Path(__file__).resolve().parent.parent
# A Wednesday, 10:30 at the hospital: the morning sessions of "today" are under way.
NOW = dt.datetime(2030, 6, 5, 10, 30)
ID_TABLES = ("departments", "doctors", "schedules", "persons", "users", "patients",
             "registrations", "credit_pardons")
TABLES = ("departments", "doctors", "affiliations", "schedules", "schedule_slots", "persons",
          "users", "patients", "registrations", "credit_pardons", "waitlist_entries")
MASKED = r"^[0-9]{6}\*{8}[0-9]{3}[0-9X]$"
# horizon_days, release_time, booking_cutoff_minutes, cancel_deadline_minutes
SEEDED_POLICY = (7, dt.time(7, 0), 30, 120)

# Each query returns the rows that break its rule (none expected).
RULES = {
    "capacity: active registrations never above max_appointments": """
        SELECT s.id FROM schedules s JOIN registrations r ON r.schedule_id = s.id
         GROUP BY s.id
        HAVING count(*) FILTER (WHERE r.status IN ('scheduled', 'completed'))
               > max(s.max_appointments)
            -- no-shows held a slot when they booked, too
            OR count(*) FILTER (WHERE r.status <> 'cancelled') > max(s.max_appointments)""",
    "one active registration per patient per schedule": """
        SELECT patient_id, schedule_id FROM registrations
         WHERE status IN ('scheduled', 'completed')
         GROUP BY patient_id, schedule_id HAVING count(*) > 1""",
    "booked_count equals the active registrations": """
        SELECT s.id FROM schedules s LEFT JOIN registrations r ON r.schedule_id = s.id
         GROUP BY s.id
        HAVING max(s.booked_count)
               <> count(r.id) FILTER (WHERE r.status IN ('scheduled', 'completed'))""",
    "last_queue_number equals the largest queue number": """
        SELECT s.id FROM schedules s LEFT JOIN registrations r ON r.schedule_id = s.id
         WHERE s.status = 'open'
         GROUP BY s.id HAVING max(s.last_queue_number) <> COALESCE(max(r.queue_number), 0)""",
    # A suspended session whose bookings moved to a substitute (替诊) keeps their numbers used.
    "queue numbers are 1..n without gaps or repeats": """
        SELECT schedule_id FROM registrations
         WHERE schedule_id NOT IN (SELECT id FROM schedules WHERE status = 'suspended')
         GROUP BY schedule_id
        HAVING min(queue_number) <> 1 OR max(queue_number) <> count(*)
            OR count(DISTINCT queue_number) <> count(*)""",
    # Moved registrations queue after the substitute's own, whenever they were booked.
    "queue numbers follow booking order": """
        SELECT id FROM (SELECT id, created_at, lag(created_at) OVER (
                               PARTITION BY schedule_id ORDER BY queue_number) AS before
                          FROM registrations WHERE moved_from_schedule_id IS NULL) ordered
         WHERE created_at < before""",
    "a doctor's schedules never overlap": """
        SELECT a.id, b.id FROM schedules a JOIN schedules b
            ON a.doctor_id = b.doctor_id AND a.date = b.date AND a.id < b.id
           AND a.start_time < b.end_time AND b.start_time < a.end_time""",
    "schedules are half-day sessions": """
        SELECT id FROM schedules
         WHERE (start_time, end_time) NOT IN (('08:00', '12:00'), ('14:00', '17:30'))""",
    "doctors work only in their departments": """
        SELECT s.id FROM schedules s LEFT JOIN affiliations a
            ON a.doctor_id = s.doctor_id AND a.department_id = s.department_id
         WHERE a.doctor_id IS NULL""",
    "1-3 departments per doctor": """
        SELECT d.id FROM doctors d LEFT JOIN affiliations a ON a.doctor_id = d.id
         GROUP BY d.id HAVING count(a.department_id) NOT BETWEEN 1 AND 3""",
    "1-4 patients per seeded user": """
        SELECT u.id FROM users u LEFT JOIN patients p ON p.user_id = u.id
         WHERE NOT u.is_admin GROUP BY u.id HAVING count(p.id) NOT BETWEEN 1 AND 4""",
    "ended sessions hold no scheduled registration": """
        SELECT r.id FROM registrations r JOIN schedules s ON s.id = r.schedule_id
         WHERE s.date + s.end_time <= :now AND r.status = 'scheduled'""",
    "sessions not yet started are only scheduled or cancelled": """
        SELECT r.id FROM registrations r JOIN schedules s ON s.id = r.schedule_id
         WHERE s.date + s.start_time > :now AND r.status NOT IN ('scheduled', 'cancelled')""",
    "no-shows only after the session": """
        SELECT r.id FROM registrations r JOIN schedules s ON s.id = r.schedule_id
         WHERE r.status = 'no_show' AND s.date + s.end_time > :now""",
    "bookings made before the session and in the past": """
        SELECT r.id FROM registrations r JOIN schedules s ON s.id = r.schedule_id
         WHERE r.created_at > (s.date + s.start_time) AT TIME ZONE :tz
            OR r.created_at > :now_utc OR r.updated_at < r.created_at
            OR r.updated_at > :now_utc""",
    "booked after the release and before the cutoff": """
        SELECT r.id FROM registrations r JOIN schedules s ON s.id = r.schedule_id
         WHERE r.created_at < schedule_release_at(s.date, s.department_id) AT TIME ZONE :tz
            OR r.created_at > (registration_visit_start(r.schedule_id, r.slot_id)
                               - booking_cutoff()) AT TIME ZONE :tz""",
    "no scheduled registration on a schedule not yet released": """
        SELECT r.id FROM registrations r JOIN schedules s ON s.id = r.schedule_id
         WHERE r.status = 'scheduled' AND schedule_release_at(s.date, s.department_id) > :now""",
    "cancelled before the cancel deadline": """
        SELECT r.id FROM registrations r CROSS JOIN booking_policy p
         WHERE r.status = 'cancelled'
           AND r.updated_at > (registration_visit_start(r.schedule_id, r.slot_id)
                               - make_interval(mins => p.cancel_deadline_minutes))
                              AT TIME ZONE :tz""",
    "slotted schedules have exactly the slots of schedule_slot_layout": """
        SELECT s.id FROM schedules s
         WHERE EXISTS ((SELECT l.ordinal, l.start_time, l.end_time, l.capacity
                          FROM schedule_slot_layout(s.start_time, s.end_time, s.slot_minutes,
                                                    s.max_appointments) l
                         WHERE s.slot_minutes IS NOT NULL
                        EXCEPT
                        SELECT ordinal, start_time, end_time, capacity FROM schedule_slots
                         WHERE schedule_id = s.id)
                       UNION ALL
                       (SELECT ordinal, start_time, end_time, capacity FROM schedule_slots
                         WHERE schedule_id = s.id
                        EXCEPT
                        SELECT l.ordinal, l.start_time, l.end_time, l.capacity
                          FROM schedule_slot_layout(s.start_time, s.end_time, s.slot_minutes,
                                                    s.max_appointments) l
                         WHERE s.slot_minutes IS NOT NULL))""",
    "slot capacities add up to max_appointments, at least one place each": """
        SELECT s.id FROM schedules s JOIN schedule_slots sl ON sl.schedule_id = s.id
         GROUP BY s.id
        HAVING sum(sl.capacity) <> max(s.max_appointments) OR min(sl.capacity) < 1""",
    "a slot's booked_count equals its active registrations": """
        SELECT sl.id FROM schedule_slots sl LEFT JOIN registrations r ON r.slot_id = sl.id
         GROUP BY sl.id
        HAVING max(sl.booked_count)
               <> count(r.id) FILTER (WHERE r.status IN ('scheduled', 'completed'))""",
    "no slot above its capacity": """
        SELECT sl.id FROM schedule_slots sl JOIN registrations r ON r.slot_id = sl.id
         GROUP BY sl.id
        HAVING count(*) FILTER (WHERE r.status IN ('scheduled', 'completed'))
               > max(sl.capacity)
            -- no-shows held their place when they booked, too
            OR count(*) FILTER (WHERE r.status <> 'cancelled') > max(sl.capacity)""",
    "registrations of a slotted schedule have one of its slots, others none": """
        SELECT r.id FROM registrations r JOIN schedules s ON s.id = r.schedule_id
          LEFT JOIN schedule_slots sl ON sl.id = r.slot_id
         WHERE (s.slot_minutes IS NOT NULL AND sl.schedule_id IS DISTINCT FROM s.id)
            OR (s.slot_minutes IS NULL AND r.slot_id IS NOT NULL)""",
    "the earliest slots fill first": """
        WITH used AS (
            SELECT sl.schedule_id, sl.ordinal, sl.capacity,
                   count(r.id) FILTER (WHERE r.status <> 'cancelled') AS held
              FROM schedule_slots sl LEFT JOIN registrations r ON r.slot_id = sl.id
             GROUP BY sl.id)
        SELECT a.schedule_id, a.ordinal FROM used a JOIN used b
            ON b.schedule_id = a.schedule_id AND b.ordinal > a.ordinal
         WHERE a.held < a.capacity AND b.held > 0""",
    "slots are taken in booking order": """
        SELECT id FROM (SELECT r.id, sl.ordinal, lag(sl.ordinal) OVER (
                               PARTITION BY r.schedule_id ORDER BY r.queue_number) AS before
                          FROM registrations r JOIN schedule_slots sl ON sl.id = r.slot_id
                         WHERE r.status <> 'cancelled') ordered
         WHERE ordinal < before""",
    "no completed visit in a slot not yet started": """
        SELECT r.id FROM registrations r JOIN schedules s ON s.id = r.schedule_id
          JOIN schedule_slots sl ON sl.id = r.slot_id
         WHERE r.status = 'completed' AND s.date + sl.start_time > :now""",
    "a person holds at most one place per session, whichever account booked": """
        SELECT r.schedule_id, p.person_id FROM registrations r
          JOIN patients p ON p.id = r.patient_id
         WHERE r.status <> 'cancelled'
         GROUP BY r.schedule_id, p.person_id HAVING count(*) > 1""",
    "every patient has a person, and every person a patient": """
        SELECT p.id, NULL FROM patients p LEFT JOIN persons pe ON pe.id = p.person_id
         WHERE pe.id IS NULL
        UNION ALL
        SELECT NULL, pe.id FROM persons pe
         WHERE NOT EXISTS (SELECT FROM patients p WHERE p.person_id = pe.id)""",
    "a pardoned no-show belongs to a pardoned person": """
        SELECT r.id FROM registrations r JOIN patients p ON p.id = r.patient_id
         WHERE r.no_show_pardoned AND (r.status <> 'no_show' OR NOT EXISTS (
               SELECT FROM credit_pardons c WHERE c.person_id = p.person_id))""",
    "儿科 sees children only": """
        SELECT r.id FROM registrations r JOIN schedules s ON s.id = r.schedule_id
          JOIN departments d ON d.id = s.department_id JOIN patients p ON p.id = r.patient_id
         WHERE d.name = '儿科' AND p.birthday <= CAST(:now AS date) - interval '15 years'""",
}


def seed(**options):
    """Run the seeder in this process (small scale, fixed clock unless overridden)."""
    options = {"scale": "small", "seed": 7, "now": NOW, **options}
    db.session.rollback()  # a reset must not wait for this session's read locks
    return seed_database(SeedOptions(**options), stream=io.StringIO())


def scalar(sql: str, **params):
    return db.session.execute(text(sql), params).scalar()


def broken_rules(app, now: dt.datetime = NOW) -> dict[str, list]:
    tz = app.config["HOSPITAL_TIMEZONE"]
    params = {"now": now, "tz": tz, "now_utc": now.replace(tzinfo=ZoneInfo(tz))}
    broken = {}
    for rule, sql in RULES.items():
        rows = db.session.execute(text(sql), params).all()
        if rows:
            broken[rule] = rows[:5]
    for table in ID_TABLES:
        sequence = scalar("SELECT pg_get_serial_sequence(:t, 'id')", t=table)
        last = scalar(f"SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {sequence}")
        if last < scalar(f"SELECT COALESCE(max(id), 0) FROM {table}"):
            broken.setdefault("id sequences continue after the seeded ids", []).append(table)
    db.session.rollback()
    return broken


def fingerprint() -> dict[str, str]:
    """md5 of every row of every seeded table, in id order."""
    result = {}
    for table in TABLES:
        order = "doctor_id, department_id" if table == "affiliations" else "id"
        result[table] = scalar(f"SELECT md5(string_agg(t::text, '|' ORDER BY {order})) "
                               f"FROM {table} t")
    return result


def counts() -> dict[str, int]:
    return {table: scalar(f"SELECT count(*) FROM {table}") for table in TABLES}


def policy() -> tuple | None:
    row = db.session.execute(text(
        "SELECT horizon_days, release_time, booking_cutoff_minutes, cancel_deadline_minutes "
        "FROM booking_policy")).first()
    db.session.rollback()
    return None if row is None else tuple(row)


def index_definitions() -> list[str]:
    return db.session.execute(text(
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'registrations' ORDER BY 1")
    ).scalars().all()


@pytest.mark.parametrize("superuser, rebuild_indexes", [(True, False), (False, True)],
                         ids=["replica-role", "trigger-disabled-and-index-rebuild"])
def test_small_seed_obeys_every_rule(app, committing_db, monkeypatch, superuser,
                                     rebuild_indexes):
    monkeypatch.setattr(loader, "is_superuser", lambda cur: superuser)
    if rebuild_indexes:
        monkeypatch.setattr(runner, "REBUILD_INDEXES_FROM", 1)
    indexes = index_definitions()
    report = seed()
    assert report.load_mode == ("replica" if superuser else "trigger")
    assert broken_rules(app) == {}
    # The schema is as the migration left it: triggers enabled, every index back.
    assert scalar("SELECT tgenabled FROM pg_trigger WHERE tgname = 'registrations_book'") == "O"
    assert scalar("SELECT tgenabled FROM pg_trigger WHERE tgname = 'schedules_slots'") == "O"
    assert index_definitions() == indexes
    # pk, (schedule_id, queue_number), patient_id, slot_id, status, one-active partial,
    # notes trigram, notes characters
    assert len(indexes) == 8
    sizes = counts()
    assert sizes["departments"] == 10
    assert sizes["doctors"] == 24
    assert sizes["users"] == 50
    assert 50 <= sizes["patients"] <= 200
    # Aimed at 600; the sessions booked out push some seeds past 1,000.
    assert 300 <= sizes["registrations"] < 1200
    assert report.counts == sizes
    statuses = dict(db.session.execute(text(
        "SELECT status, count(*) FROM registrations GROUP BY status")).all())
    assert set(statuses) == {"scheduled", "completed", "cancelled", "no_show"}
    known = {name for name, _, _ in DEPARTMENTS}
    names = db.session.execute(text("SELECT name, description FROM departments")).all()
    assert {name for name, _ in names} <= known
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,4}", name) for name, in
               db.session.execute(text("SELECT name FROM doctors")))
    assert scalar("SELECT count(DISTINCT phone_number) FROM doctors") == 24
    assert scalar("SELECT count(*) FROM doctors WHERE email !~ '^[a-z]+[0-9]+@'") == 0


def patient_numbers(app) -> list[tuple]:
    """(patient id, the full ID number read back, birthday, gender, stored fingerprint) of every
    patient with a number: the mask hides exactly the birth date, which the patient row has."""
    rows = db.session.execute(text("""
        SELECT p.id, p.id_number_masked, p.birthday, p.gender, pe.id_number_hash
          FROM patients p JOIN persons pe ON pe.id = p.person_id
         WHERE p.id_number_masked IS NOT NULL""")).all()
    db.session.rollback()
    return [(patient_id, masked[:6] + f"{birthday:%Y%m%d}" + masked[-4:], birthday, gender,
             bytes(digest) if digest is not None else None)
            for patient_id, masked, birthday, gender, digest in rows]


@pytest.mark.parametrize("superuser", [True, False], ids=["replica-role", "trigger-disabled"])
def test_seeded_patients_are_real_name_persons(app, committing_db, monkeypatch, superuser):
    monkeypatch.setattr(loader, "is_superuser", lambda cur: superuser)
    report = seed()
    assert report.load_mode == ("replica" if superuser else "trigger")
    assert broken_rules(app) == {}
    # The bulk load named every person itself: the trigger made none on the side.
    assert report.counts["persons"] == scalar("SELECT count(DISTINCT person_id) FROM patients")
    assert scalar("SELECT tgenabled FROM pg_trigger WHERE tgname = 'patients_person'") == "O"

    patients = scalar("SELECT count(*) FROM patients")
    numbered = scalar("SELECT count(id_number_masked) FROM patients")
    assert 0.75 <= numbered / patients <= 0.95
    assert scalar("SELECT count(*) FROM patients WHERE id_number_masked !~ :shape",
                  shape=MASKED) == 0
    # The 17th character (the third of the four shown) is odd for men, even for women.
    assert scalar("""SELECT count(*) FROM patients
                      WHERE (substr(id_number_masked, 17, 1)::integer % 2 = 1)
                            <> (gender = 'male')""") == 0
    # A person has a fingerprint exactly when its patients show a number.
    assert scalar("""SELECT count(*) FROM patients p JOIN persons pe ON pe.id = p.person_id
                      WHERE (p.id_number_masked IS NULL) <> (pe.id_number_hash IS NULL)""") == 0
    assert scalar("SELECT count(*) FROM persons "
                  "WHERE octet_length(id_number_hash) <> 32") == 0

    key = id_numbers.fingerprint_key(app.config)
    for patient_id, number, birthday, gender, digest in patient_numbers(app):
        assert id_numbers.shape_problem(number) is None, patient_id
        assert id_numbers.person_problem(number, birthday, gender) is None, patient_id
        assert number[:6] in REGIONS
        # The number the API would be given finds this very person.
        assert digest == id_numbers.fingerprint(number, key), patient_id

    # Patients of one person show the same number, birthday and gender, and one account
    # never holds a person twice.
    assert db.session.execute(text("""
        SELECT person_id FROM patients GROUP BY person_id
        HAVING count(*) > 1 AND (count(DISTINCT (id_number_masked, birthday, gender, name)) > 1
                                 OR count(id_number_masked) < count(*))""")).all() == []
    assert db.session.execute(text("""
        SELECT user_id, person_id FROM patients GROUP BY user_id, person_id
        HAVING count(*) > 1""")).all() == []
    shared = db.session.execute(text("""
        SELECT person_id, count(*), count(DISTINCT user_id) FROM patients
         GROUP BY person_id HAVING count(*) > 1""")).all()
    assert shared, "no person is a patient of two accounts"
    assert {(rows, accounts) for _, rows, accounts in shared} == {(2, 2)}
    assert len(shared) <= 0.05 * numbered


# With one past day, chance alone rarely gives anybody two no-shows.
@pytest.mark.parametrize("past_days", [14, 1], ids=["two-weeks-past", "one-day-past"])
def test_seeded_no_shows_suspend_a_few_persons_once_the_rule_is_on(app, committing_db,
                                                                   past_days):
    seed(past_days=past_days)
    today = NOW.date()
    # The seeded policy leaves every person rule off.
    assert db.session.execute(text("""
        SELECT no_show_limit, one_per_department_per_day, max_active_per_person,
               require_id_number, no_show_window_days, no_show_suspend_days
          FROM booking_policy""")).one() == (0, False, None, False, 90, 90)
    credit = """SELECT pe.id, c.no_shows, c.suspended_until
                  FROM persons pe, person_no_show_credit(pe.id, :today) c
                 WHERE c.no_shows >= 2 ORDER BY pe.id"""
    habitual = db.session.execute(text(credit), {"today": today}).all()
    # At least the few made to miss visits (one of them pardoned below), and a minority.
    assert 3 <= len(habitual) <= 0.25 * scalar("SELECT count(*) FROM persons")
    assert {2, 3} & {no_shows for _, no_shows, _ in habitual}
    assert all(until is None for _, _, until in habitual)

    # One person's no-shows were all pardoned: they stay no_show and count no more.
    pardon = db.session.execute(text(
        "SELECT person_id, pardoned_by, reason, no_shows, created_at FROM credit_pardons")).all()
    assert len(pardon) == 1
    person_id, pardoned_by, reason, pardoned, given = pardon[0]
    assert pardoned_by is None  # no admin to give it
    assert re.search(r"[\u4e00-\u9fff]", reason)
    assert pardoned >= 2
    assert scalar("""SELECT count(*) FROM registrations r JOIN patients p ON p.id = r.patient_id
                      WHERE p.person_id = :person AND r.status = 'no_show'
                        AND r.no_show_pardoned""", person=person_id) == pardoned
    assert scalar("""SELECT count(*) FROM registrations r JOIN patients p ON p.id = r.patient_id
                      WHERE p.person_id = :person AND r.status = 'no_show'
                        AND NOT r.no_show_pardoned""", person=person_id) == 0
    assert scalar("""SELECT max(r.updated_at) FROM registrations r
                       JOIN patients p ON p.id = r.patient_id
                      WHERE p.person_id = :person AND r.no_show_pardoned""",
                  person=person_id) <= given <= NOW.replace(tzinfo=ZoneInfo(
                      app.config["HOSPITAL_TIMEZONE"]))
    assert scalar("SELECT no_shows FROM person_no_show_credit(:person, :today)",
                  person=person_id, today=today) == 0
    assert person_id not in {row[0] for row in habitual}

    # An admin turns the rule on: exactly those persons are suspended, for 90 days from
    # their latest no-show.
    db.session.execute(text("UPDATE booking_policy SET no_show_limit = 2"))
    db.session.commit()
    suspended = db.session.execute(text(credit), {"today": today}).all()
    assert [row[:2] for row in suspended] == [row[:2] for row in habitual]
    assert all(today < until <= today + dt.timedelta(days=90) for _, _, until in suspended)


def test_seed_suspends_sessions_and_fills_waitlists(app, committing_db):
    report = seed()
    made = report.stop_clinic
    assert made["suspended"] == 2 and made["moved"] + made["cancelled"] >= 4, made
    suspended = db.session.execute(text(
        "SELECT id, suspend_reason FROM schedules WHERE status = 'suspended'")).all()
    assert len(suspended) == 2 and all(reason for _, reason in suspended)
    for schedule_id, reason in suspended:
        # Nothing scheduled is left; the hospital's cancels carry its reason.
        assert scalar("SELECT count(*) FROM registrations WHERE schedule_id = :id"
                      " AND status = 'scheduled'", id=schedule_id) == 0
        assert scalar("SELECT count(*) FROM registrations WHERE schedule_id = :id"
                      " AND cancelled_by = 'hospital' AND cancel_reason <> :reason",
                      id=schedule_id, reason=reason) == 0
    assert scalar("SELECT count(*) FROM registrations WHERE cancelled_by = 'hospital'") \
        == made["cancelled"]
    assert scalar("SELECT count(*) FROM registrations WHERE moved_from_schedule_id IS NOT NULL"
                  " AND status = 'scheduled'") == made["moved"]
    # Waiting entries sit on full, open sessions that their patients hold no place on, and
    # joined in id order.
    assert made["waiting"] >= 3
    assert scalar("""SELECT count(*) FROM waitlist_entries w JOIN schedules s
                      ON s.id = w.schedule_id WHERE w.status = 'waiting'""") == made["waiting"]
    assert scalar("""SELECT count(*) FROM waitlist_entries w JOIN schedules s
                      ON s.id = w.schedule_id
                     WHERE s.booked_count < s.max_appointments OR s.status <> 'open'
                        OR EXISTS (SELECT FROM registrations r WHERE r.schedule_id = s.id
                                    AND r.patient_id = w.patient_id)""") == 0
    assert scalar("""SELECT count(*) FROM waitlist_entries a JOIN waitlist_entries b
                      ON a.schedule_id = b.schedule_id AND a.id < b.id
                     WHERE a.created_at > b.created_at""") == 0
    assert broken_rules(app) == {}


def test_persons_never_give_out_a_number_already_taken():
    born = dt.date(1950, 3, 1)
    number, digest = Persons(random.Random(3), "key", 1, set()).number("110105", born, "male")
    # The same draws, with that number already in the database (an appended batch).
    again = Persons(random.Random(3), "key", 1, {digest})
    other, other_digest = again.number("110105", born, "male")
    assert other != number and other_digest != digest
    assert again.taken == {digest, other_digest}
    for made in (number, other):
        assert id_numbers.shape_problem(made) is None
        assert id_numbers.person_problem(made, born, "male") is None


def test_seed_releases_a_week_ahead_and_slots_most_sessions(app, committing_db):
    report = seed()
    assert policy() == SEEDED_POLICY
    overrides = db.session.execute(text(
        "SELECT horizon_days, release_time FROM departments "
        "WHERE horizon_days IS NOT NULL OR release_time IS NOT NULL")).all()
    assert sorted(overrides, key=str) == [(14, dt.time(8, 0)), (None, dt.time(20, 0))]

    def bookings(where: str) -> tuple[int, int]:
        """(schedules, their registrations) among the future ones matching `where`."""
        return tuple(db.session.execute(text(f"""
            SELECT count(DISTINCT s.id), count(r.id)
              FROM schedules s JOIN departments d ON d.id = s.department_id
              LEFT JOIN registrations r ON r.schedule_id = s.id
             WHERE s.date + s.start_time > :now AND {where}"""), {"now": NOW}).one())

    released = "schedule_release_at(s.date, s.department_id) <= :now"
    unreleased_schedules, unreleased_bookings = bookings(f"NOT {released}")
    assert unreleased_schedules > 0 and unreleased_bookings == 0
    assert bookings(released)[1] > 0
    # The two-week department's sessions beyond the hospital's week are released and booked.
    assert bookings("d.horizon_days = 14 AND s.date > CAST(:now AS date) + 7")[1] > 0

    slotted = scalar("SELECT avg((slot_minutes IS NOT NULL)::integer) FROM schedules")
    assert 0.7 <= slotted <= 0.9
    assert scalar("SELECT mode() WITHIN GROUP (ORDER BY slot_minutes) FROM schedules "
                  "WHERE slot_minutes IS NOT NULL") == 30
    assert report.counts["schedule_slots"] == scalar("SELECT count(*) FROM schedule_slots")
    assert scalar("SELECT count(*) FROM schedule_slots WHERE booked_count = capacity") > 0
    assert scalar("SELECT count(*) FROM registrations WHERE slot_id IS NOT NULL "
                  "AND status IN ('scheduled', 'completed')") > 0


def test_seeded_users_share_one_hash_of_the_seed_password(app, committing_db):
    report = seed(password="another-password")
    hashes = db.session.execute(text("SELECT DISTINCT password_hash FROM users")).scalars().all()
    assert hashes == [report.password_hash]
    assert check_password_hash(hashes[0], "another-password")
    assert not check_password_hash(hashes[0], "seed-password")


def test_same_seed_same_rows_other_seed_other_rows(app, committing_db):
    seed()
    first = fingerprint()
    seed(reset=True)
    assert fingerprint() == first
    seed(reset=True, seed=8)
    other = fingerprint()
    assert all(other[table] != first[table] for table in TABLES)


def test_refuses_to_mix_with_existing_data(app, committing_db):
    seed()
    before = fingerprint()
    with pytest.raises(SeedRefused, match="--reset"):
        seed(seed=9)
    assert fingerprint() == before


def test_existing_accounts_alone_are_no_reason_to_refuse(app, committing_db):
    admin = committing_db.admin(username="seed", phone_number="13800138000")
    seed()
    assert broken_rules(app) == {}
    assert scalar("SELECT count(*) FROM users WHERE lower(username) = 'seed'") == 1
    assert scalar("SELECT count(*) FROM users WHERE phone_number = '13800138000'") == 1
    assert scalar("SELECT min(id) FROM users WHERE NOT is_admin") > admin.id


def test_reset_keeps_admins_and_replaces_the_rest(app, committing_db):
    admin = committing_db.admin()
    admin_id, admin_hash = admin.id, admin.password_hash
    seed()
    db.session.execute(text("UPDATE booking_policy SET horizon_days = 3, "
                            "cancel_deadline_minutes = 0"))
    db.session.commit()
    seed(reset=True, seed=11)
    assert broken_rules(app) == {}
    # The reset emptied booking_policy with every other table: its row is back, as seeded.
    assert policy() == SEEDED_POLICY
    assert counts()["departments"] == 10
    kept = db.session.execute(text(
        "SELECT id, password_hash FROM users WHERE is_admin")).all()
    assert kept == [(admin_id, admin_hash)]
    # Persons and pardons were emptied too (their ids start again), and the first admin
    # gave the new pardon.
    assert scalar("SELECT min(id) FROM persons") == 1
    assert scalar("SELECT count(*) FROM persons") == scalar(
        "SELECT count(DISTINCT person_id) FROM patients")
    assert db.session.execute(text(
        "SELECT id, pardoned_by FROM credit_pardons")).all() == [(1, admin_id)]
    # The next account the API creates continues after the seeded ones.
    last_id = scalar("SELECT max(id) FROM users")
    db.session.rollback()
    assert committing_db.user().id == last_id + 1


def test_append_adds_a_batch_that_obeys_the_rules(app, committing_db):
    seed()
    before = counts()
    last_id = scalar("SELECT max(id) FROM registrations")
    # An admin releases ten days ahead at 06:00 now: the appended batch books by that.
    db.session.execute(text("UPDATE booking_policy SET horizon_days = 10, "
                            "release_time = '06:00'"))
    db.session.commit()
    seed(append=True, seed=12)
    after = counts()
    assert broken_rules(app) == {}
    assert policy() == (10, dt.time(6, 0), 30, 120)
    beyond_a_week = """
        SELECT count(*) FROM registrations r JOIN schedules s ON s.id = r.schedule_id
          JOIN departments d ON d.id = s.department_id
         WHERE d.horizon_days IS NULL AND s.date > CAST(:now AS date) + 7
           AND r.id {} :last"""
    assert scalar(beyond_a_week.format("<="), now=NOW, last=last_id) == 0
    assert scalar(beyond_a_week.format(">"), now=NOW, last=last_id) > 0
    assert after["doctors"] == 2 * before["doctors"]
    assert after["users"] == 2 * before["users"]
    assert after["registrations"] > before["registrations"]
    # The batch's persons continue after the first's; no person is in both batches.
    assert after["persons"] > before["persons"]
    assert after["credit_pardons"] == 2
    assert scalar("""SELECT count(*) FROM (SELECT person_id FROM patients GROUP BY person_id
                      HAVING min(user_id) <= :users AND max(user_id) > :users) AS both_batches""",
                  users=before["users"]) == 0
    assert scalar("SELECT count(*) - count(DISTINCT name) FROM departments") == 0


def run_cli(test_database, *args):
    env = {**os.environ, "APP_ENV": "development", "DATABASE_URL": test_database.url,
           "HOSPITAL_NO_VENV": "1", "SCHEDULER_ENABLED": "false", "ADMIN_BOOTSTRAP": "false"}
    return subprocess.run([sys.executable, "seed.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_command_line_seeds_then_refuses(app, committing_db, test_database):
    args = ("--scale", "small", "--seed", "3", "--now", "2030-06-05T15:00")
    first = run_cli(test_database, *args)
    assert first.returncode == 0, first.stderr
    assert "registrations" in first.stdout
    assert "seed-password" in first.stdout
    seeded = counts()
    assert seeded["doctors"] == 24
    assert broken_rules(app, dt.datetime(2030, 6, 5, 15, 0)) == {}
    assert policy() == SEEDED_POLICY

    second = run_cli(test_database, *args)
    assert second.returncode == 2
    assert "already holds data" in second.stderr
    assert counts() == seeded


def the_parser(monkeypatch) -> argparse.ArgumentParser:
    """The ArgumentParser seed.py builds."""
    import seed as seed_script

    built = []

    def capture(parser, args=None, namespace=None):
        built.append(parser)
        return argparse.Namespace()

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    seed_script.parse_args([])
    monkeypatch.undo()
    return built[0]


def test_help_describes_every_option(monkeypatch):
    parser = the_parser(monkeypatch)
    result = subprocess.run([sys.executable, "seed.py", "--help"], cwd=ROOT,
                            env={**os.environ, "HOSPITAL_NO_VENV": "1"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    shown = "".join(result.stdout.split())  # argparse wraps lines, even at hyphens
    options = [action for action in parser._actions if action.dest != "help"]
    assert {opt for action in options for opt in action.option_strings} >= {
        "--scale", "--seed", "--days", "--past-days", "--now", "--password", "--reset",
        "--append"}
    for action in options:
        name = action.option_strings[0]
        assert action.help, f"{name} has no help"
        assert name in shown
        assert "".join(action.help.split()) % vars(action) in shown, name


def test_command_line_names_users_one_can_log_in_with(app, committing_db, test_database):
    result = run_cli(test_database, "--scale", "small", "--seed", "5", "--password",
                     "letmein-123")
    assert result.returncode == 0, result.stderr
    found = re.search(r"^Log in as any seeded user, e\.g\. (.+) \(password: (.+)\)$",
                      result.stdout, re.MULTILINE)
    assert found, result.stdout
    usernames, password = found.group(1).split(", "), found.group(2)
    assert password == "letmein-123"
    assert 3 <= len(usernames) <= 5
    rows = dict(db.session.execute(text(
        "SELECT username, password_hash FROM users WHERE username = ANY(:names) "
        "AND NOT is_admin"), {"names": usernames}).all())
    db.session.rollback()
    assert sorted(rows) == sorted(usernames)
    assert all(check_password_hash(hashed, password) for hashed in rows.values())
    response = app.test_client().post("/users/login", json={"username": usernames[0],
                                                             "password": password})
    assert response.status_code == 200, response.get_json()
