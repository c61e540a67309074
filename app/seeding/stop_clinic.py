"""Stop-clinic (停诊) and waitlists (候补), so that both can be seen on a seeded database.

After the bulk load (with every trigger on again): one released future session is suspended
with its bookings moved to a colleague's session of the same department (替诊) when one has
room, another is suspended with its bookings cancelled by the hospital — both through the
database function the API uses — and a few full released sessions get waiting entries.
Timestamps are the seed's clock, so that one seed always gives the same rows.
"""
from __future__ import annotations

import datetime as dt
import random

from psycopg2.extensions import cursor as Cursor

from app.seeding.texts import SUSPEND_REASONS

# Full sessions given a waitlist, and entries per waitlist.
WAITLISTS = {"small": 3, "large": 30}
WAITING = (2, 5)

# Released, open, future sessions (tomorrow on) holding a few scheduled registrations.
CANDIDATES = """
SELECT s.id, s.department_id, s.date, s.booked_count
  FROM schedules AS s
 WHERE s.date > %(today)s AND s.status = 'open'
   AND (schedule_release_at(s.date, s.department_id) IS NULL
        OR schedule_release_at(s.date, s.department_id) <= %(now)s)
   AND (SELECT count(*) FROM registrations AS r
         WHERE r.schedule_id = s.id AND r.status = 'scheduled') BETWEEN 2 AND 40
 ORDER BY s.id
"""
# A colleague's session of the same department, later than the stopped one, with room.
SUBSTITUTE = """
SELECT s.id FROM schedules AS s
 WHERE s.department_id = %(department)s AND s.id <> %(stopped)s AND s.status = 'open'
   AND s.date >= %(date)s AND s.max_appointments - s.booked_count >= %(needed)s
 ORDER BY s.date, s.start_time, s.id
 LIMIT 1
"""
FULL = """
SELECT s.id FROM schedules AS s
 WHERE s.date > %(today)s AND s.status = 'open' AND s.booked_count >= s.max_appointments
   AND (schedule_release_at(s.date, s.department_id) IS NULL
        OR schedule_release_at(s.date, s.department_id) <= %(now)s)
 ORDER BY s.id
"""


def seed_stop_clinic(cur: Cursor, rng: random.Random, now: dt.datetime, local: dt.datetime,
                     scale: str) -> dict[str, int]:
    """Two suspended sessions (one substituted) and some waitlists; what was made."""
    made = {"suspended": 0, "moved": 0, "cancelled": 0, "waiting": 0}
    today = local.date()
    cur.execute(CANDIDATES, {"today": today, "now": local})
    candidates = cur.fetchall()
    chosen = rng.sample(candidates, min(2, len(candidates)))
    for index, (schedule_id, department_id, date, booked) in enumerate(chosen):
        substitute = None
        if index == 0:
            cur.execute(SUBSTITUTE, {"department": department_id, "stopped": schedule_id,
                                     "date": date, "needed": booked})
            row = cur.fetchone()
            substitute = row[0] if row else None
        cur.execute("SELECT outcome, moved, cancelled FROM suspend_schedule(%s, %s, %s, %s)",
                    (schedule_id, rng.choice(SUSPEND_REASONS), substitute, local))
        outcome, moved, cancelled = cur.fetchone()
        if outcome != "suspended":
            continue
        made["suspended"] += 1
        made["moved"] += moved
        made["cancelled"] += cancelled
        cur.execute("UPDATE schedules SET updated_at = %(now)s WHERE id = %(id)s;"
                    " UPDATE registrations SET updated_at = %(now)s"
                    "  WHERE moved_from_schedule_id = %(id)s"
                    "     OR (schedule_id = %(id)s AND cancelled_by = 'hospital')",
                    {"now": now, "id": schedule_id})

    cur.execute(FULL, {"today": today, "now": local})
    full = [row[0] for row in cur.fetchall()]
    cur.execute("SELECT id FROM patients ORDER BY id")
    patients = [row[0] for row in cur.fetchall()]
    if not patients:
        return made
    for schedule_id in rng.sample(full, min(WAITLISTS.get(scale, 3), len(full))):
        cur.execute("SELECT patient_id FROM registrations WHERE schedule_id = %s", (schedule_id,))
        taken = {row[0] for row in cur.fetchall()}
        waiters = [p for p in rng.sample(patients, min(len(patients), 20)) if p not in taken]
        count = rng.randint(*WAITING)
        # Joined in id order: the earliest first.
        ago = sorted((rng.randint(5, 600) for _ in range(count)), reverse=True)
        for minutes, patient_id in zip(ago, waiters[:count], strict=False):
            joined = now - dt.timedelta(minutes=minutes)
            cur.execute("INSERT INTO waitlist_entries (schedule_id, patient_id, created_at,"
                        " updated_at) VALUES (%s, %s, %s, %s)",
                        (schedule_id, patient_id, joined, joined))
            made["waiting"] += 1
    return made
