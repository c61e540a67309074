"""Registrations: how many per schedule, then their rows in booking order.

Every rule of the booking service holds by construction: the patients of one schedule are
distinct (so at most one active registration each), the registrations that held a place
(completed, no_show, scheduled) never exceed max_appointments nor, on a slotted schedule,
their slot's capacity (in booking order each took the earliest slot with room), queue
numbers run 1..n in booking order, and statuses follow the clock: ended sessions have only
completed / no_show / cancelled, sessions under way completed / scheduled / cancelled, future
ones scheduled / cancelled. So does the booking policy: patients booked between a session's
release and its cutoff (a session not yet released has no bookings at all) and cancelled
before the cancel deadline. A person who is a patient of two accounts is booked at most once
per session, as the person rules would have it.
"""
from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from typing import NamedTuple

from app.seeding.accounts import PatientPools
from app.seeding.catalogue import Clock, Department, Session
from app.seeding.loader import text
from app.seeding.no_shows import HABITUAL_MIN, HABITUAL_SHARE, Pardon, plan_missed
from app.seeding.policy import Terms
from app.seeding.slots import Layout
from app.seeding.texts import CHILDREN_ONLY, NOTES, WOMEN_ONLY

REGISTRATION_COLUMNS = ("id", "patient_id", "schedule_id", "slot_id", "status", "notes",
                        "queue_number", "created_at", "updated_at", "no_show_pardoned")
# How far ahead patients book a session that the policy releases at once (seconds).
BOOKING_WINDOW = 14 * 86400
CANCEL_SHARE = (0.05, 0.15)
NO_SHOW_SHARE = 0.08
FULL_SHARE = 0.05
NOTES_SHARE = 0.2
NOBODY: frozenset[int] = frozenset()


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


class Window(NamedTuple):
    """One session's times (epoch seconds) as its patients saw them."""

    start: float
    end: float
    opens: float  # released
    close: float  # booking closed (the cutoff, or now)
    cancel_until: float  # the cancel deadline, or now

    @property
    def bookable(self) -> bool:
        """Whether patients could book the session at all so far."""
        return self.opens < self.close

    def cancellable(self, count: int) -> int:
        """How many of `count` bookings, spread evenly over the window, could have been
        cancelled in time: the first ones."""
        share = (self.cancel_until - self.opens) / (self.close - self.opens)
        return max(0, min(count, int(count * share)))


class Bookings:
    """Plans and writes the registrations of a list of schedules."""

    def __init__(self, rng: random.Random, clock: Clock, sessions: list[Session],
                 departments: list[Department], pools: PatientPools, terms: Terms,
                 layouts: dict[int, Layout], twins: dict[int, int] | None = None) -> None:
        self.rng, self.clock, self.sessions = rng, clock, sessions
        self.terms, self.layouts, self.pools = terms, layouts, pools
        self.twins = twins or {}
        names = {dep.id: dep.name for dep in departments}
        self.pool_of = {}
        for dep_id, name in names.items():
            if name in CHILDREN_ONLY:
                self.pool_of[dep_id] = pools.children
            elif name in WOMEN_ONLY:
                self.pool_of[dep_id] = pools.women
            else:
                self.pool_of[dep_id] = pools.everyone
        self.windows = [self._window(ses) for ses in sessions]
        self.counts: list[tuple[int, int]] = []  # (place-holding, cancelled) per session
        self.missed: dict[int, set[int]] = {}  # session index: patients who do not come
        self.pardon: Pardon | None = None

    def _window(self, ses: Session) -> Window:
        now, terms = self.clock.now.timestamp(), self.terms
        start = self.clock.at(ses.date, ses.start).timestamp()
        close = min(start - terms.cutoff, now)
        opens = terms.releases.get(ses.id)
        if opens is None:
            opens = min(start - BOOKING_WINDOW, close - 3600)
        return Window(start, self.clock.at(ses.date, ses.end).timestamp(), opens, close,
                      min(start - terms.cancel_deadline, now))

    def _fill(self, ses: Session) -> float:
        """How full a schedule tends to be: past ones well booked, far-off ones sparsely."""
        days_ahead = (ses.date - self.clock.today).days
        if days_ahead <= 0:
            return self.rng.uniform(0.55, 1.0)
        return min(1.0, max(0.05, 0.95 - 0.06 * days_ahead) * self.rng.uniform(0.7, 1.1))

    def plan(self, target: int, minimum: int = 0) -> int:
        """Decide the counts per schedule: about `target` in all, at least `minimum`.

        Sessions not yet released take none, so the others (the past ones first of all,
        being the fullest) carry the target.
        """
        rng = self.rng
        limits = [min(ses.max_appointments, len(self.pool_of[ses.department_id]))
                  if window.bookable else 0
                  for ses, window in zip(self.sessions, self.windows, strict=True)]
        weights = [self._fill(ses) * ses.max_appointments if limit else 0.0
                   for ses, limit in zip(self.sessions, limits, strict=True)]
        mean_cancel = sum(CANCEL_SHARE) / 2
        scale = target / (1 + mean_cancel) / (sum(weights) or 1)
        self.counts = []
        for ses, window, weight, limit in zip(self.sessions, self.windows, weights, limits,
                                              strict=True):
            if not limit:
                self.counts.append((0, 0))
                continue
            held = min(limit, _round(rng, weight * scale))
            if rng.random() < FULL_SHARE:  # the popular sessions: booked out
                held = limit
            pool = len(self.pool_of[ses.department_id])
            cancelled = min(pool - held, _round(rng, held * rng.uniform(*CANCEL_SHARE)))
            while cancelled > window.cancellable(held + cancelled):
                cancelled -= 1
            self.counts.append((held, cancelled))
        total = sum(held + cancelled for held, cancelled in self.counts)
        tries = 0
        while total < minimum and self.sessions and tries < 20 * (minimum - total) + 1000:
            tries += 1
            index = rng.randrange(len(self.sessions))
            held, cancelled = self.counts[index]
            if held < limits[index]:
                self.counts[index] = (held + 1, cancelled)
                total += 1
        self._plan_missed()
        return total

    def _plan_missed(self) -> None:
        """A few adults miss two or three ended sessions within the no-show window."""
        now = self.clock.now.timestamp()
        first_day = self.clock.today - dt.timedelta(days=self.terms.no_show_window_days)
        everyone = self.pools.everyone
        sessions = [index for index, (ses, window, (held, _)) in enumerate(
                        zip(self.sessions, self.windows, self.counts, strict=True))
                    if held and window.end <= now and ses.date >= first_day
                    and self.pool_of[ses.department_id] is everyone]
        candidates = [patient for patient in self.pools.adults if patient not in self.twins]
        wanted = max(HABITUAL_MIN, round(len(everyone) * HABITUAL_SHARE))
        self.missed, habitual = plan_missed(self.rng, candidates, sessions,
                                            [held for held, _ in self.counts], wanted)
        self.pardon = Pardon(habitual[0]) if habitual else None

    def _one_row_per_person(self, patients: list[int], pool: list[int]) -> list[int]:
        """The sample with the second patient of a shared person swapped for another."""
        twins = self.twins
        if not twins or twins.keys().isdisjoint(patients):
            return patients
        chosen = set(patients)
        for at, patient in enumerate(patients):
            if twins.get(patient) not in chosen:
                continue
            for _ in range(100):
                other = self.rng.choice(pool)
                if other not in chosen and twins.get(other) not in chosen:
                    chosen.discard(patient)
                    chosen.add(other)
                    patients[at] = other
                    break
        return patients

    def _seat(self, patients: list[int], missing: frozenset[int] | set[int],
              cancelled_at: set[int]) -> None:
        """Put the patients who will not come among the sample's place-holding bookings."""
        free = [at for at, patient in enumerate(patients)
                if at not in cancelled_at and patient not in missing]
        for patient in sorted(missing):
            at = patients.index(patient) if patient in patients else None
            if at is not None and at not in cancelled_at:
                continue
            seat = free.pop(self.rng.randrange(len(free)))
            if at is not None:  # drawn among the cancellations: trades places
                patients[at] = patients[seat]
            patients[seat] = patient

    def lines(self, first_id: int, grace_minutes: int) -> Iterator[str]:
        """COPY lines of every planned registration, schedule by schedule."""
        rng = self.rng
        now = self.clock.now.timestamp()
        grace = grace_minutes * 60
        reg_id = first_id
        pardon = self.pardon
        pardoned_patient = pardon.patient_id if pardon is not None else None
        for number, (ses, window, (held, cancelled)) in enumerate(
                zip(self.sessions, self.windows, self.counts, strict=True)):
            count = held + cancelled
            if not count:
                continue
            pool = self.pool_of[ses.department_id]
            patients = self._one_row_per_person(rng.sample(pool, count), pool)
            cancelled_at = set(rng.sample(range(window.cancellable(count)), cancelled))
            missing = self.missed.get(number, NOBODY)
            if missing:
                self._seat(patients, missing, cancelled_at)
            start, end, opens = window.start, window.end, window.opens
            span = window.close - opens
            layout = self.layouts.get(ses.id)
            visit_step = (end - start) / (held or 1)
            slot_id, turn = "\\N", 0
            for index, patient in enumerate(patients):
                created = opens + span * (index + rng.random()) / count
                if index in cancelled_at:
                    if layout is not None:  # it had the place the next booking then took
                        slot_id = layout.place(min(turn + 1, ses.max_appointments))[0]
                    status = "cancelled"
                    updated = created + rng.random() * max(0.0, window.cancel_until - created)
                else:
                    turn += 1
                    if layout is None:
                        visit = start + visit_step * turn
                    else:
                        slot_id, over = layout.place(turn)
                        visit = start + over
                    if end <= now:
                        if patient in missing or rng.random() < NO_SHOW_SHARE:
                            status, updated = "no_show", min(end + grace, now)
                        else:
                            status, updated = "completed", visit
                    elif visit <= now:  # a session under way: the early numbers are seen
                        status, updated = "completed", visit
                    else:
                        status, updated = "scheduled", created
                pardoned = "f"
                if status == "no_show" and patient == pardoned_patient:
                    pardoned = "t"
                    pardon.no_shows += 1
                    pardon.latest = max(pardon.latest, updated)
                notes = text(rng.choice(NOTES)) if rng.random() < NOTES_SHARE else "\\N"
                yield (f"{reg_id}\t{patient}\t{ses.id}\t{slot_id}\t{status}\t"
                       f"{notes}\t{index + 1}\t{_stamp(created)}\t{_stamp(updated)}\t"
                       f"{pardoned}\n")
                reg_id += 1
