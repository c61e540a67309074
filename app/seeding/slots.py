"""Time slots (分时段): which sessions have them, and the layout the database gave them."""
from __future__ import annotations

import bisect
import datetime as dt
import math
import random
from dataclasses import dataclass
from itertools import accumulate

from psycopg2.extensions import cursor as Cursor

SLOTTED_SHARE = 0.8
SLOT_LENGTHS = ((30, 80), (15, 10), (60, 10))  # (minutes, weight)
LONGEST_SLOT = 240


def _minutes(start: dt.time, end: dt.time) -> int:
    return (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)


def choose_slot_minutes(rng: random.Random, start: dt.time, end: dt.time,
                        capacity: int) -> int | None:
    """The slot length of one session, or None (one pool for the whole session).

    A session with few places gets longer slots: a clinic does not publish slots that
    hold nobody.
    """
    if rng.random() >= SLOTTED_SHARE:
        return None
    lengths, weights = zip(*SLOT_LENGTHS, strict=True)
    minutes = rng.choices(lengths, weights)[0]
    while minutes < LONGEST_SLOT and math.ceil(_minutes(start, end) / minutes) > capacity:
        minutes *= 2
    return minutes


@dataclass(frozen=True)
class Layout:
    """One schedule's slots in order; times in seconds after the session's start."""

    ids: tuple[int, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    capacities: tuple[int, ...]
    filled: tuple[int, ...]  # places in this slot and the ones before it

    def place(self, position: int) -> tuple[int, int]:
        """The slot holding the position-th place (1-based; earliest slots fill first), and
        when that place's visit is over (seconds after the session's start)."""
        index = bisect.bisect_left(self.filled, position)
        capacity = self.capacities[index]
        within = position - (self.filled[index] - capacity)
        start, end = self.starts[index], self.ends[index]
        return self.ids[index], start + (end - start) * within // capacity


def lay_out_slots(cur: Cursor, first_schedule_id: int) -> tuple[int, dict[int, Layout]]:
    """Let the database lay out the slots of the new schedules; how many, and each layout.

    lay_out_schedule_slots is the schedules_slots trigger's work done in one statement (the
    bulk load runs with that trigger off).
    """
    cur.execute("SELECT lay_out_schedule_slots(%s)", (first_schedule_id,))
    made = cur.fetchone()[0]
    cur.execute("""
        SELECT sl.schedule_id, array_agg(sl.id ORDER BY sl.ordinal),
               array_agg(extract(epoch FROM sl.start_time - s.start_time)::integer
                         ORDER BY sl.ordinal),
               array_agg(extract(epoch FROM sl.end_time - s.start_time)::integer
                         ORDER BY sl.ordinal),
               array_agg(sl.capacity ORDER BY sl.ordinal)
          FROM schedule_slots AS sl JOIN schedules AS s ON s.id = sl.schedule_id
         WHERE sl.schedule_id >= %s
         GROUP BY sl.schedule_id
    """, (first_schedule_id,))
    layouts = {}
    for schedule_id, ids, starts, ends, capacities in cur.fetchall():
        layouts[schedule_id] = Layout(tuple(ids), tuple(starts), tuple(ends),
                                      tuple(capacities), tuple(accumulate(capacities)))
    return made, layouts
