"""The booking runs' data: schedules and patients to book, request files, checks, cleanup."""
from __future__ import annotations

import datetime as dt
import json
import random
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.dataset import connect, rows, scalar, write_request_lines

BOOKING_NOTE = "bench-booking"
# The slotted scenario books schedules of its own: an evening session (夜间门诊) of four
# hours in 30-minute slots, 5 places each. The seeded sessions end by 17:30, so a doctor's
# evening never overlaps one of theirs; nothing else in the benchmark database is slotted.
SLOTTED_START, SLOTTED_END = dt.time(18, 0), dt.time(22, 0)
SLOT_MINUTES = 30
SLOTTED_CAPACITY = 40
SLOT_CHOSEN_SHARE = 0.5  # of the slotted requests name a slot; the rest take the earliest

# Schedules a patient may book from the day after tomorrow on: open and released (放号).
BOOKABLE = """
    date > %(tomorrow)s AND status = 'open'
    AND coalesce(schedule_release_at(date, department_id) <= %(now)s, true)"""


def _hospital_clock(timezone: str) -> dict[str, dt.date | dt.datetime]:
    """Query parameters: tomorrow and now in the hospital's wall-clock time."""
    now = dt.datetime.now(ZoneInfo(timezone)).replace(tzinfo=None)
    return {"tomorrow": now.date() + dt.timedelta(days=1), "now": now}


def future_schedules_with_room(url: str, timezone: str) -> int:
    """Unslotted bookable schedules (see BOOKABLE) that still have a free place."""
    return scalar(url, f"""
        SELECT count(*) FROM schedules WHERE {BOOKABLE}
           AND slot_minutes IS NULL AND booked_count < max_appointments""",
                  _hospital_clock(timezone)) or 0


def booking_plan(url: str, timezone: str, n_schedules: int, n_patients: int,
                 rng: random.Random) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Unslotted bookable schedules with free places (id, free) and patients (id, user_id)."""
    schedules = rows(url, f"""
        SELECT id, max_appointments - booked_count FROM schedules
         WHERE {BOOKABLE} AND slot_minutes IS NULL AND booked_count < max_appointments
         ORDER BY random() LIMIT %(n)s""", {**_hospital_clock(timezone), "n": n_schedules})
    patients = rows(url, "SELECT id, user_id FROM patients ORDER BY random() LIMIT %s",
                    (n_patients,))
    rng.shuffle(schedules)
    return schedules, patients


def create_slotted_schedules(url: str, timezone: str, n_schedules: int) -> list[tuple[int, int]]:
    """New slotted evening schedules (id, free) of random doctors on the seeded future dates.

    A plain INSERT (triggers on), so the trigger schedules_slots lays out each schedule's
    slots; no lay_out_schedule_slots() needed.
    """
    params = {**_hospital_clock(timezone), "n": n_schedules, "start": SLOTTED_START,
              "end": SLOTTED_END, "capacity": SLOTTED_CAPACITY, "minutes": SLOT_MINUTES}
    created = rows(url, """
        WITH dates AS (
            SELECT %(tomorrow)s::date + i AS date
              FROM generate_series(1, (SELECT max(date) FROM schedules) - %(tomorrow)s::date)
                   AS i),
        doctors AS (  -- one of each doctor's departments
            SELECT DISTINCT ON (doctor_id) doctor_id, department_id
              FROM affiliations ORDER BY doctor_id, random()),
        free AS (
            SELECT d.doctor_id, d.department_id, t.date
              FROM doctors AS d CROSS JOIN dates AS t
             WHERE NOT EXISTS (
                       SELECT FROM schedules AS s
                        WHERE s.doctor_id = d.doctor_id
                          AND tsrange(s.date + s.start_time, s.date + s.end_time)
                              && tsrange(t.date + %(start)s::time, t.date + %(end)s::time))
               AND coalesce(schedule_release_at(t.date, d.department_id) <= %(now)s, true)
             ORDER BY random() LIMIT %(n)s)
        INSERT INTO schedules (doctor_id, department_id, date, start_time, end_time,
                               max_appointments, slot_minutes)
        SELECT doctor_id, department_id, date, %(start)s, %(end)s, %(capacity)s, %(minutes)s
          FROM free
        ON CONFLICT DO NOTHING
        RETURNING id, max_appointments""", params)
    conn = connect(url)
    try:
        with conn.cursor() as cur:  # fresh statistics, as VACUUM (ANALYZE) gave the rest
            cur.execute("ANALYZE schedules, schedule_slots")
    finally:
        conn.close()
    return sorted(created)


def slot_ids(url: str, schedule_ids: list[int]) -> dict[int, list[int]]:
    """The slots of these schedules, in order: schedule id -> slot ids."""
    found = rows(url, """
        SELECT schedule_id, array_agg(id ORDER BY ordinal) FROM schedule_slots
         WHERE schedule_id = ANY(%s) GROUP BY schedule_id""", (schedule_ids,))
    return dict(found)


def remove_slotted_schedules(url: str, schedule_ids: list[int] | None = None) -> int:
    """Delete the slotted scenario's schedules (their slots and registrations go with them).

    Without ids: those an interrupted earlier run left behind — evening schedules of the
    benchmark's shape that hold no registration other than the benchmark's.
    """
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            if schedule_ids is not None:
                cur.execute("DELETE FROM schedules WHERE id = ANY(%s)", (schedule_ids,))
            else:
                cur.execute("""
                    DELETE FROM schedules AS s
                     WHERE s.slot_minutes = %s AND s.start_time = %s AND s.end_time = %s
                       AND NOT EXISTS (SELECT FROM registrations AS r
                                        WHERE r.schedule_id = s.id
                                          AND r.notes IS DISTINCT FROM %s)""",
                            (SLOT_MINUTES, SLOTTED_START, SLOTTED_END, BOOKING_NOTE))
            return cur.rowcount
    finally:
        conn.close()


def booking_files(directory: Path, schedules: list[tuple[int, int]],
                  patients: list[tuple[int, int]], tokens: dict[int, str], per_file: int,
                  names: list[str], rng: random.Random,
                  slots: dict[int, list[int]] | None = None) -> dict[str, Path]:
    """Disjoint (token, patient, schedule) bookings, one file per wrk run.

    Consecutive requests go to different schedules (round robin), each from a random
    patient, so the load spreads over many schedule rows as real traffic would. With
    `slots`, a random SLOT_CHOSEN_SHARE of the requests also name a random slot of their
    schedule; the others leave slot_id out (the earliest slot with a free place).
    """
    booking = [p for p in patients if p[1] in tokens]
    # Few patients or schedules (--scale small): shorter files rather than an endless search
    # for unused pairs (wrk wraps around a file; the repeats answer 409 duplicate).
    per_file = max(4, min(per_file, len(schedules) * len(booking) // (2 * len(names))))
    used: set[tuple[int, int]] = set()
    files: dict[str, Path] = {}
    cursor = 0
    for name in names:
        lines = []
        while len(lines) < per_file:
            schedule_id = schedules[cursor % len(schedules)][0]
            cursor += 1
            patient_id, user_id = booking[rng.randrange(len(booking))]
            if (patient_id, schedule_id) in used and len(used) < len(schedules) * len(booking):
                continue
            used.add((patient_id, schedule_id))
            body = {"patient_id": patient_id, "schedule_id": schedule_id}
            if slots and rng.random() < SLOT_CHOSEN_SHARE:
                body["slot_id"] = rng.choice(slots[schedule_id])
            body["notes"] = BOOKING_NOTE
            lines.append(("POST", "/registrations/", tokens[user_id], json.dumps(body)))
        path = directory / f"booking-{name}.tsv"
        write_request_lines(path, lines)
        files[name] = path
    return files


def verify_capacity(url: str) -> dict[str, int]:
    """Overbooked schedules and slots, and counters that differ from their active rows."""
    schedules = rows(url, """
        WITH active AS (
            SELECT schedule_id, count(*) AS n FROM registrations
             WHERE registration_holds_slot(status) GROUP BY schedule_id)
        SELECT count(*) FILTER (WHERE s.booked_count > s.max_appointments),
               count(*) FILTER (WHERE coalesce(a.n, 0) > s.max_appointments),
               count(*) FILTER (WHERE s.booked_count <> coalesce(a.n, 0)),
               count(*)
          FROM schedules s LEFT JOIN active a ON a.schedule_id = s.id""")[0]
    slots = rows(url, """
        WITH active AS (
            SELECT slot_id, count(*) AS n FROM registrations
             WHERE slot_id IS NOT NULL AND registration_holds_slot(status) GROUP BY slot_id)
        SELECT count(*) FILTER (WHERE sl.booked_count > sl.capacity),
               count(*) FILTER (WHERE coalesce(a.n, 0) > sl.capacity),
               count(*) FILTER (WHERE sl.booked_count <> coalesce(a.n, 0)),
               count(*)
          FROM schedule_slots sl LEFT JOIN active a ON a.slot_id = sl.id""")[0]
    # Every active registration of a slotted schedule holds one of its slots.
    slot_sums = scalar(url, """
        SELECT count(*) FROM schedules s
          JOIN (SELECT schedule_id, sum(booked_count) AS booked FROM schedule_slots
                 GROUP BY schedule_id) t ON t.schedule_id = s.id
         WHERE s.slot_minutes IS NOT NULL AND s.booked_count <> t.booked""")
    return {"overbooked_counter": schedules[0], "overbooked_rows": schedules[1],
            "counter_mismatch": schedules[2], "schedules_checked": schedules[3],
            "overbooked_slot_counter": slots[0], "overbooked_slot_rows": slots[1],
            "slot_counter_mismatch": slots[2], "slots_checked": slots[3],
            "slot_sum_mismatch": slot_sums}


def booked_by_bench(url: str, since_id: int) -> int:
    """Registrations the booking runs created."""
    return scalar(url, "SELECT count(*) FROM registrations WHERE id > %s AND notes = %s",
                  (since_id, BOOKING_NOTE))


def remove_bench_bookings(url: str, since_id: int) -> int:
    """Delete the registrations the booking runs created (the triggers release the places)."""
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("DELETE FROM registrations WHERE id > %s AND notes = %s",
                        (since_id, BOOKING_NOTE))
            return cur.rowcount
    finally:
        conn.close()


def vacuum_booking_tables(url: str) -> None:
    """VACUUM (ANALYZE) the tables a booking reads and writes: no dead rows left behind."""
    conn = connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("VACUUM (ANALYZE) registrations, schedules, schedule_slots, persons, "
                        "patients")
    finally:
        conn.close()


@contextmanager
def policy_set(url: str, changes: dict):
    """The booking policy with `changes` applied for the duration, then put back."""
    columns = ", ".join(changes)
    conn = connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT {columns} FROM booking_policy WHERE id = 1")
            before = dict(zip(changes, cur.fetchone(), strict=True))
            _update_policy(cur, changes)
        try:
            yield
        finally:
            with conn.cursor() as cur:
                _update_policy(cur, before)
    finally:
        conn.close()


def _update_policy(cur, values: dict) -> None:
    assignments = ", ".join(f"{column} = %({column})s" for column in values)
    cur.execute(f"UPDATE booking_policy SET {assignments} WHERE id = 1", values)
