"""The rush scenario's data: a department's day of slotted sessions, the families, the checks.

Everything the scenario creates belongs to one department named RUSH_DEPARTMENT (its doctors'
e-mail addresses end in RUSH_EMAIL): removing that department and those doctors removes the
sessions, slots, registrations and waitlist entries with them (ON DELETE CASCADE).
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from bench.dataset import connect, rows

RUSH_DEPARTMENT = "放号演练科"
RUSH_EMAIL = "@rush.bench.invalid"
# Sessions: morning and afternoon, 30-minute slots. Experts take few patients per slot.
SESSIONS = ((dt.time(8, 0), dt.time(12, 0)), (dt.time(13, 30), dt.time(17, 30)))
SLOT_MINUTES = 30
EXPERT_CAPACITY, ORDINARY_CAPACITY = 16, 40  # 2 or 5 a slot over 8 slots


@dataclass
class Day:
    """The department's sessions on one day."""

    department_id: int
    date: dt.date
    schedules: list[tuple[int, int, bool]]  # (id, capacity, expert), most popular first
    slots: dict[int, list[int]]  # schedule id -> slot ids in order

    @property
    def capacity(self) -> int:
        """Places over all sessions."""
        return sum(capacity for _, capacity, _ in self.schedules)


def remove(url: str) -> None:
    """Delete an earlier run's department, doctors and everything under them."""
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("DELETE FROM departments WHERE name = %s", (RUSH_DEPARTMENT,))
            cur.execute("DELETE FROM doctors WHERE email LIKE %s", ("%" + RUSH_EMAIL,))
    finally:
        conn.close()


def create_day(url: str, n_schedules: int, date: dt.date, expert_share: float) -> Day:
    """The department, n_schedules / 2 doctors with a morning and an afternoon session each
    on `date` (slots laid out by the database's trigger), the first sessions experts'."""
    remove(url)
    n_doctors = (n_schedules + 1) // 2
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO departments (name, description) VALUES (%s, %s) "
                        "RETURNING id", (RUSH_DEPARTMENT, "Release-rush benchmark (bench/rush.py)"))
            department_id = cur.fetchone()[0]
            cur.execute("""
                INSERT INTO doctors (name, gender, email, phone_number)
                SELECT '演练医生' || i, CASE WHEN i %% 2 = 0 THEN 'male' ELSE 'female' END,
                       'doctor' || i || %s, '1380000' || lpad(i::text, 4, '0')
                  FROM generate_series(1, %s) AS i
                RETURNING id""", (RUSH_EMAIL, n_doctors))
            doctor_ids = sorted(row[0] for row in cur.fetchall())
            cur.execute("INSERT INTO affiliations (doctor_id, department_id) "
                        "SELECT unnest(%s::int[]), %s", (doctor_ids, department_id))
            n_experts = round(n_schedules * expert_share)
            wanted = []
            for i in range(n_schedules):
                start, end = SESSIONS[i % 2]
                capacity = EXPERT_CAPACITY if i < n_experts else ORDINARY_CAPACITY
                wanted.append((doctor_ids[i // 2], department_id, date, start, end, capacity,
                               SLOT_MINUTES))
            schedules = []
            for values in wanted:  # in popularity order, so ids follow it
                cur.execute("""
                    INSERT INTO schedules (doctor_id, department_id, date, start_time,
                                           end_time, max_appointments, slot_minutes)
                    VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id""", values)
                schedules.append(cur.fetchone()[0])
            cur.execute("ANALYZE departments, doctors, schedules, schedule_slots")
    finally:
        conn.close()
    slots = dict(rows(url, """
        SELECT schedule_id, array_agg(id ORDER BY ordinal) FROM schedule_slots
         WHERE schedule_id = ANY(%s) GROUP BY schedule_id""", (schedules,)))
    return Day(department_id, date,
               [(sid, values[5], i < n_experts)
                for i, (sid, values) in enumerate(zip(schedules, wanted, strict=True))], slots)


def set_release(url: str, department_id: int, release: dt.datetime, date: dt.date) -> None:
    """Release the department's sessions on `date` at `release` (hospital wall-clock): its
    own horizon and release time (放号, the booking policy per department)."""
    horizon = (date - release.date()).days
    if not 1 <= horizon <= 90:
        raise SystemExit(f"the rush day {date} is {horizon} days after the release")
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("UPDATE departments SET horizon_days = %s, release_time = %s "
                        "WHERE id = %s", (horizon, release.time(), department_id))
    finally:
        conn.close()


@dataclass
class Family:
    """One family of the rush: who books what."""

    index: int
    user_id: int
    patient_id: int
    first: int
    slot: int  # 0: the earliest free slot
    second: int  # 0: none; straight to the first choice's waitlist
    cancel: bool


def families(url: str, day: Day, n: int, rng: random.Random, skew: float,
             slot_share: float, second_share: float, cancel_share: float) -> list[Family]:
    """n seeded patients (of n different accounts) and their choices: the session of rank r
    is chosen with weight 1 / r**skew (popular experts first), a second choice among the
    other sessions alike."""
    found = rows(url, """
        SELECT DISTINCT ON (user_id) id, user_id FROM patients
         ORDER BY user_id, id""")
    rng.shuffle(found)
    if len(found) < n:
        raise SystemExit(f"only {len(found)} accounts with patients; --families {n} is too many")
    ids = [sid for sid, _, _ in day.schedules]
    weights = [1 / (rank ** skew) for rank in range(1, len(ids) + 1)]
    chosen = []
    for index, (patient_id, user_id) in enumerate(found[:n], start=1):
        first = rng.choices(ids, weights)[0]
        second = 0
        if rng.random() < second_share:
            while (second := rng.choices(ids, weights)[0]) == first:
                pass
        slot = rng.choice(day.slots[first]) if rng.random() < slot_share else 0
        chosen.append(Family(index, user_id, patient_id, first, slot, second,
                             rng.random() < cancel_share))
    return chosen


# ---- after the rush: every invariant, through SQL --------------------------------------------

INVARIANTS = {
    "schedule over capacity": """
        SELECT s.id FROM schedules AS s
         WHERE s.id = ANY(%(ids)s)
           AND (s.booked_count > s.max_appointments
                OR (SELECT count(*) FROM registrations AS r WHERE r.schedule_id = s.id
                       AND registration_holds_slot(r.status)) > s.max_appointments)""",
    "slot over capacity": """
        SELECT t.id FROM schedule_slots AS t
         WHERE t.schedule_id = ANY(%(ids)s)
           AND (t.booked_count > t.capacity
                OR (SELECT count(*) FROM registrations AS r WHERE r.slot_id = t.id
                       AND registration_holds_slot(r.status)) > t.capacity)""",
    "schedule counter differs from its rows": """
        SELECT s.id FROM schedules AS s
         WHERE s.id = ANY(%(ids)s)
           AND s.booked_count <> (SELECT count(*) FROM registrations AS r
                                   WHERE r.schedule_id = s.id
                                     AND registration_holds_slot(r.status))""",
    "slot counter differs from its rows": """
        SELECT t.id FROM schedule_slots AS t
         WHERE t.schedule_id = ANY(%(ids)s)
           AND t.booked_count <> (SELECT count(*) FROM registrations AS r
                                   WHERE r.slot_id = t.id
                                     AND registration_holds_slot(r.status))""",
    "holding registration without a slot": """
        SELECT r.id FROM registrations AS r
         WHERE r.schedule_id = ANY(%(ids)s) AND registration_holds_slot(r.status)
           AND r.slot_id IS NULL""",
    "queue number given twice": """
        SELECT schedule_id FROM registrations WHERE schedule_id = ANY(%(ids)s)
         GROUP BY schedule_id HAVING count(*) <> count(DISTINCT queue_number)""",
    "patient holding two places in one session": """
        SELECT schedule_id FROM registrations
         WHERE schedule_id = ANY(%(ids)s) AND registration_holds_slot(status)
         GROUP BY schedule_id, patient_id HAVING count(*) > 1""",
    # Served in join order: a booked entry's registration is newer than every registration
    # of an earlier-joined entry of the same session, ...
    "waitlist served out of order": """
        SELECT a.id FROM waitlist_entries AS a
          JOIN waitlist_entries AS b
            ON b.schedule_id = a.schedule_id AND b.id > a.id AND b.status = 'booked'
         WHERE a.schedule_id = ANY(%(ids)s) AND a.status = 'booked'
           AND b.registration_id < a.registration_id""",
    # ... no one who joined earlier is still waiting behind someone served, ...
    "waiter passed over": """
        SELECT a.id FROM waitlist_entries AS a
          JOIN waitlist_entries AS b
            ON b.schedule_id = a.schedule_id AND b.id > a.id AND b.status = 'booked'
         WHERE a.schedule_id = ANY(%(ids)s) AND a.status = 'waiting'""",
    # ... and no session has a free place while someone waits for it.
    "free place while patients wait": """
        SELECT s.id FROM schedules AS s
         WHERE s.id = ANY(%(ids)s) AND s.booked_count < s.max_appointments
           AND EXISTS (SELECT FROM waitlist_entries AS w
                        WHERE w.schedule_id = s.id AND w.status = 'waiting')""",
    "served entry without its registration": """
        SELECT w.id FROM waitlist_entries AS w
          LEFT JOIN registrations AS r ON r.id = w.registration_id
         WHERE w.schedule_id = ANY(%(ids)s) AND w.status = 'booked'
           AND (r.id IS NULL OR r.patient_id <> w.patient_id OR r.schedule_id <> w.schedule_id)""",
}


def check_invariants(url: str, day: Day) -> dict[str, list[int]]:
    """Each invariant's offending ids (all empty when the rush left everything exact)."""
    ids = [sid for sid, _, _ in day.schedules]
    return {name: [row[0] for row in rows(url, sql, {"ids": ids})][:20]
            for name, sql in INVARIANTS.items()}


def check_acknowledged(url: str, day: Day, fams: dict[int, Family],
                       acked: list[str]) -> dict[str, list[int]]:
    """Every answer the service gave is in the database: a 201 booking is a registration of
    that family's patient in that department's day, cancelled exactly when a cancel was
    answered 200; a 201 waitlist join is an entry of that patient."""
    booked: dict[int, int] = {}
    cancelled: set[int] = set()
    joined: dict[int, int] = {}
    for line in acked:
        kind, *values = line.split()
        if kind == "B":
            booked[int(values[0])] = int(values[1])
        elif kind == "C":
            cancelled.add(int(values[0]))
        elif kind == "W":
            joined[int(values[0])] = int(values[1])
    ids = [sid for sid, _, _ in day.schedules]
    found = {rid: (patient, schedule, status) for rid, patient, schedule, status in rows(
        url, "SELECT id, patient_id, schedule_id, status FROM registrations "
             "WHERE id = ANY(%s)", (list(booked),))}
    entries = {eid: patient for eid, patient in rows(
        url, "SELECT id, patient_id FROM waitlist_entries WHERE id = ANY(%s)", (list(joined),))}
    problems: dict[str, list[int]] = {
        "acknowledged booking missing": [], "acknowledged booking of someone else": [],
        "acknowledged cancel not cancelled": [], "booking cancelled without a cancel": [],
        "acknowledged waitlist entry missing": []}
    for rid, index in booked.items():
        row = found.get(rid)
        if row is None:
            problems["acknowledged booking missing"].append(rid)
            continue
        patient, schedule, status = row
        if patient != fams[index].patient_id or schedule not in ids:
            problems["acknowledged booking of someone else"].append(rid)
        if rid in cancelled and status != "cancelled":
            problems["acknowledged cancel not cancelled"].append(rid)
        if rid not in cancelled and status == "cancelled":
            problems["booking cancelled without a cancel"].append(rid)
    for eid, index in joined.items():
        if entries.get(eid) != fams[index].patient_id:
            problems["acknowledged waitlist entry missing"].append(eid)
    return {name: found_ids[:20] for name, found_ids in problems.items()} | {
        "_counts": [len(booked), len(cancelled), len(joined)]}


def outcome(url: str, day: Day) -> dict[str, int]:
    """What the rush left: registrations by status, waitlist entries by status, places."""
    ids = [sid for sid, _, _ in day.schedules]
    result = {f"registrations {status}": n for status, n in rows(
        url, "SELECT status, count(*) FROM registrations WHERE schedule_id = ANY(%s) "
             "GROUP BY status ORDER BY 1", (ids,))}
    result |= {f"waitlist {status}": n for status, n in rows(
        url, "SELECT status, count(*) FROM waitlist_entries WHERE schedule_id = ANY(%s) "
             "GROUP BY status ORDER BY 1", (ids,))}
    result["places"] = day.capacity
    result["places left"] = rows(url, "SELECT coalesce(sum(max_appointments - booked_count), 0)"
                                      " FROM schedules WHERE id = ANY(%s)", (ids,))[0][0]
    return result
