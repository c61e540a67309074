"""The booking policy (放号) of the seeded hospital, and what it means for seeded bookings."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from psycopg2.extensions import cursor as Cursor

from app.seeding.catalogue import Department

# Released a week ahead at 07:00, like most public hospitals' ordinary clinics. Booking closes
# half an hour before a visit and cancelling (退号) two hours before: modest values, so the
# day's slotted sessions stay bookable until late in the session.
# The person rules (实名制 required, quotas, no-show credit) keep their defaults, all off.
# The seeded data shows them once an admin turns them on: about 2% of the persons with an ID
# number are patients of two accounts, and persons with two or more no-shows within the
# 90-day window exist at every size (a few are made so; one of them was pardoned), so with
# no_show_limit = 2 some persons are suspended at once.
HOSPITAL_POLICY = {"horizon_days": 7, "release_time": dt.time(7, 0),
                   "booking_cutoff_minutes": 30, "cancel_deadline_minutes": 120}
# Overrides for the first new departments in PLANNED_AHEAD order (then in list order), so
# every batch shows both kinds: two weeks ahead at 08:00, and the hospital's horizon with an
# evening release.
OWN_TERMS = ((14, dt.time(8, 0)), (None, dt.time(20, 0)))
PLANNED_AHEAD = ("妇产科", "口腔科", "眼科", "中医科", "康复医学科")


@dataclass(frozen=True)
class Terms:
    """The policy in force, in the form the planning of bookings needs."""

    releases: dict[int, float]  # schedule id: epoch of its release (absent: always released)
    cutoff: float  # seconds before a visit that booking closes
    cancel_deadline: float  # seconds before a visit that cancelling closes
    no_show_window_days: int = 90  # how far back a no-show counts against a person


def put_hospital_policy(cur: Cursor) -> None:
    """Write the hospital's policy row (put back when a reset emptied the table)."""
    cur.execute("""
        INSERT INTO booking_policy (id, horizon_days, release_time, booking_cutoff_minutes,
                                    cancel_deadline_minutes)
        VALUES (1, %(horizon_days)s, %(release_time)s, %(booking_cutoff_minutes)s,
                %(cancel_deadline_minutes)s)
        ON CONFLICT (id) DO UPDATE
           SET horizon_days = EXCLUDED.horizon_days, release_time = EXCLUDED.release_time,
               booking_cutoff_minutes = EXCLUDED.booking_cutoff_minutes,
               cancel_deadline_minutes = EXCLUDED.cancel_deadline_minutes, updated_at = now()
    """, HOSPITAL_POLICY)


def give_own_terms(departments: list[Department]) -> None:
    """Set the release overrides of the new departments that get one."""
    rank = {name: index for index, name in enumerate(PLANNED_AHEAD)}
    new = sorted((dep for dep in departments if dep.new),
                 key=lambda dep: rank.get(dep.name, len(rank)))
    for dep, (horizon_days, release_time) in zip(new, OWN_TERMS, strict=False):
        dep.horizon_days, dep.release_time = horizon_days, release_time


def read_terms(cur: Cursor, first_schedule_id: int, timezone: str) -> Terms:
    """The policy in force for the new schedules, as the database defines it."""
    cur.execute("SELECT extract(epoch FROM booking_cutoff()), "
                "(SELECT cancel_deadline_minutes * 60 FROM booking_policy WHERE id = 1), "
                "(SELECT no_show_window_days FROM booking_policy WHERE id = 1)")
    cutoff, deadline, window = cur.fetchone()
    cur.execute("""
        SELECT id, extract(epoch FROM schedule_release_at(date, department_id)
                                      AT TIME ZONE %s)::float8
          FROM schedules WHERE id >= %s
    """, (timezone, first_schedule_id))
    releases = {schedule_id: at for schedule_id, at in cur.fetchall() if at is not None}
    return Terms(releases, float(cutoff), float(deadline or 0), window or 90)
