"""Registrations: how many per schedule, then their rows in booking order.

Every rule of the booking service holds by construction: the patients of one schedule are
distinct (so at most one active registration each), the registrations that held a slot
(completed, no_show, scheduled) never exceed max_appointments, queue numbers run 1..n in
booking order, and statuses follow the clock: ended sessions have only completed / no_show /
cancelled, sessions under way completed / scheduled / cancelled, future ones scheduled /
cancelled.
"""
from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

from app.seeding.accounts import PatientPools
from app.seeding.catalogue import Clock, Department, ScheduleSlot
from app.seeding.loader import text
from app.seeding.texts import CHILDREN_ONLY, NOTES, WOMEN_ONLY

REGISTRATION_COLUMNS = ("id", "patient_id", "schedule_id", "status", "notes", "queue_number",
                        "created_at", "updated_at")
BOOKING_WINDOW = 14 * 86400  # bookings open two weeks ahead (seconds)
CANCEL_SHARE = (0.05, 0.15)
NO_SHOW_SHARE = 0.08
FULL_SHARE = 0.05
NOTES_SHARE = 0.2


_DAYS: dict[int, str] = {}
_EPOCH = dt.date(1970, 1, 1)


def _stamp(epoch: float) -> str:
    """A UTC timestamp literal to the second (a hot path: ~2 per registration)."""
    day, seconds = divmod(int(epoch), 86400)
    prefix = _DAYS.get(day)
    if prefix is None:
        prefix = _DAYS[day] = (_EPOCH + dt.timedelta(days=day)).isoformat()
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return f"{prefix} {hours:02d}:{minutes:02d}:{seconds:02d}+00"


def _round(rng: random.Random, value: float) -> int:
    """Round up with probability equal to the fraction (unbiased on average)."""
    whole = int(value)
    return whole + (rng.random() < value - whole)


class Bookings:
    """Plans and writes the registrations of a list of schedules."""

    def __init__(self, rng: random.Random, clock: Clock, slots: list[ScheduleSlot],
                 departments: list[Department], pools: PatientPools) -> None:
        self.rng, self.clock, self.slots = rng, clock, slots
        names = {dep.id: dep.name for dep in departments}
        self.pool_of = {}
        for dep_id, name in names.items():
            if name in CHILDREN_ONLY:
                self.pool_of[dep_id] = pools.children
            elif name in WOMEN_ONLY:
                self.pool_of[dep_id] = pools.women
            else:
                self.pool_of[dep_id] = pools.everyone
        self.counts: list[tuple[int, int]] = []  # (slot-holding, cancelled) per slot

    def _fill(self, slot: ScheduleSlot) -> float:
        """How full a schedule tends to be: past ones well booked, far-off ones sparsely."""
        days_ahead = (slot.date - self.clock.today).days
        if days_ahead <= 0:
            return self.rng.uniform(0.55, 1.0)
        return min(1.0, max(0.05, 0.95 - 0.06 * days_ahead) * self.rng.uniform(0.7, 1.1))

    def plan(self, target: int, minimum: int = 0) -> int:
        """Decide the counts per schedule: about `target` in all, at least `minimum`."""
        rng = self.rng
        limits = [min(slot.max_appointments, len(self.pool_of[slot.department_id]))
                  for slot in self.slots]
        weights = [self._fill(slot) * slot.max_appointments for slot in self.slots]
        mean_cancel = sum(CANCEL_SHARE) / 2
        scale = target / (1 + mean_cancel) / (sum(weights) or 1)
        self.counts = []
        for slot, weight, limit in zip(self.slots, weights, limits, strict=True):
            held = min(limit, _round(rng, weight * scale))
            if rng.random() < FULL_SHARE:  # the popular sessions: booked out
                held = limit
            pool = len(self.pool_of[slot.department_id])
            cancelled = min(pool - held, _round(rng, held * rng.uniform(*CANCEL_SHARE)))
            self.counts.append((held, cancelled))
        total = sum(held + cancelled for held, cancelled in self.counts)
        tries = 0
        while total < minimum and self.slots and tries < 20 * (minimum - total) + 1000:
            tries += 1
            index = rng.randrange(len(self.slots))
            held, cancelled = self.counts[index]
            if held < limits[index]:
                self.counts[index] = (held + 1, cancelled)
                total += 1
        return total

    def lines(self, first_id: int, grace_minutes: int) -> Iterator[str]:
        """COPY lines of every planned registration, schedule by schedule."""
        rng, clock = self.rng, self.clock
        now = clock.now.timestamp()
        grace = grace_minutes * 60
        reg_id = first_id
        for slot, (held, cancelled) in zip(self.slots, self.counts, strict=True):
            count = held + cancelled
            if not count:
                continue
            patients = rng.sample(self.pool_of[slot.department_id], count)
            cancelled_at = set(rng.sample(range(count), cancelled))
            start = clock.at(slot.date, slot.start).timestamp()
            end = clock.at(slot.date, slot.end).timestamp()
            close = min(start, now)
            opens = min(start - BOOKING_WINDOW, close - 3600)
            span = close - opens
            visit_step = (end - start) / (held or 1)
            turn = 0
            for index in range(count):
                created = opens + span * (index + rng.random()) / count
                if index in cancelled_at:
                    status, updated = "cancelled", created + rng.random() * (close - created)
                else:
                    turn += 1
                    visit = start + visit_step * turn
                    if end <= now:
                        if rng.random() < NO_SHOW_SHARE:
                            status, updated = "no_show", min(end + grace, now)
                        else:
                            status, updated = "completed", visit
                    elif visit <= now:  # a session under way: the early numbers are seen
                        status, updated = "completed", visit
                    else:
                        status, updated = "scheduled", created
                notes = text(rng.choice(NOTES)) if rng.random() < NOTES_SHARE else "\\N"
                yield (f"{reg_id}\t{patients[index]}\t{slot.id}\t{status}\t{notes}\t"
                       f"{index + 1}\t{_stamp(created)}\t{_stamp(updated)}\n")
                reg_id += 1
