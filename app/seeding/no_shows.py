"""No-show history (爽约): a few persons missed visit after visit; one was pardoned.

Chance alone may give nobody two no-shows within the window (with few past days, say), so
a few adults are made to miss two or three ended sessions in it: with no_show_limit on, they
are among the persons it suspends. The first of them had every no-show pardoned by an admin
afterwards.
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from psycopg2.extensions import cursor as Cursor

from app.seeding.loader import next_free_id, text, ts
from app.seeding.texts import PARDON_REASONS

CREDIT_PARDON_COLUMNS = ("id", "person_id", "pardoned_by", "reason", "no_shows", "created_at")
HABITUAL_SHARE = 0.001  # of the patients
HABITUAL_MIN = 4
MISSED_VISITS = (2, 3)
# Sessions looked at per person: enough that two or three of them still have room.
SESSIONS_TRIED = 8


@dataclass
class Pardon:
    """The pardoned patient, and what was pardoned (filled while the lines are written)."""

    patient_id: int
    no_shows: int = 0
    latest: float = 0.0  # epoch of the latest no-show


def plan_missed(rng: random.Random, candidates: list[int], sessions: list[int],
                held: list[int], wanted: int) -> tuple[dict[int, set[int]], list[int]]:
    """Which candidates miss which sessions (by index; `held[i]`: places taken in session i),
    and the habitual no-showers in the order they were picked."""
    missed: dict[int, set[int]] = {}
    habitual: list[int] = []
    if not sessions:
        return missed, habitual
    for patient in rng.sample(candidates, min(wanted, len(candidates))):
        tried = rng.sample(sessions, min(SESSIONS_TRIED, len(sessions)))
        chosen = [index for index in tried if len(missed.get(index, ())) < held[index]]
        chosen = chosen[:rng.choice(MISSED_VISITS)]
        if len(chosen) < min(MISSED_VISITS):
            continue
        for index in chosen:
            missed.setdefault(index, set()).add(patient)
        habitual.append(patient)
    return missed, habitual


def pardon_lines(cur: Cursor, pardon: Pardon | None, rng: random.Random,
                 now: dt.datetime) -> list[str]:
    """COPY lines of credit_pardons: the pardon, by the first admin if there is one, given
    some time after the latest no-show it forgave; none when nobody was pardoned."""
    if pardon is None or not pardon.no_shows:
        return []
    cur.execute("SELECT person_id FROM patients WHERE id = %s", (pardon.patient_id,))
    person_id = cur.fetchone()[0]
    cur.execute("SELECT min(id) FROM users WHERE is_admin")
    admin_id = cur.fetchone()[0]
    latest = dt.datetime.fromtimestamp(pardon.latest, dt.UTC)
    given = latest + (now - latest) * rng.random()
    admin = "\\N" if admin_id is None else str(admin_id)
    return [f"{next_free_id(cur, 'credit_pardons')}\t{person_id}\t{admin}\t"
            f"{text(rng.choice(PARDON_REASONS))}\t{pardon.no_shows}\t{ts(given)}\n"]
