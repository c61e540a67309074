"""The admin search over every registration: its exact count and its page, in two statements.

The contract's list envelope carries the exact number of matches. Over a million rows,
counting a broad query's hundreds of thousands of matches row by row took most of a
second; here the broad branches are sums over registration_term_counts, counters the
database keeps per schedule in the writing transaction (migration 0011), and only narrow
branches are counted from rows. The page is then read the cheapest way for how broad the
query is.

Both statements depend on the query only through a few traits (its length, whether it
names a status) and on the page through its plan and order: each is built once per such
shape, with the query's values bound at execution (building a statement of this size
costs more Python than the database spends on a narrow search).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    any_,
    bindparam,
    case,
    exists,
    func,
    literal_column,
    not_,
    or_,
    select,
    union,
)

from app.extensions import db
from app.models import (
    STATUSES,
    Department,
    Doctor,
    Patient,
    Registration,
    RegistrationTermCount,
    Schedule,
)
from app.models.search import characters
from app.web.pagination import ListParams, Page, like_pattern, ordering

# Estimated rows in registrations (pg_class): enough to choose how to read a page.
ESTIMATED_TOTAL = literal_column(
    "(SELECT reltuples::bigint FROM pg_class WHERE oid = 'registrations'::regclass)")
# How a page is read, by the rows a walk along the id order would test before filling it
# (matches assumed spread evenly): up to PROBE_AT_MOST, each row is probed (a key lookup of
# its patient or schedule); up to WALK_ROW_COST per match, against the matching ids hashed
# once; beyond, the matches are collected through the indexes and sorted. Without an index
# in the sort order a walk tests every row: then collecting wins up to COLLECT_AT_MOST.
PROBE_AT_MOST = 2_000
WALK_ROW_COST = 4
COLLECT_AT_MOST = 20_000
# From this many matching schedules on, their counters are found by one pass over all the
# schedules' '' counters (some 20,000 on the benchmark's data) rather than a probe each.
SCAN_FROM = 1_000

# The values a statement is executed with (see _values).
TEXT, PATTERN, STATUS = bindparam("text"), bindparam("pattern"), bindparam("status")


def _any_of(subquery: Select):
    """`= ANY(ARRAY(subquery))`: the planner runs the subquery first and then probes the
    index with its ids, instead of joining against the whole big table."""
    return any_(func.array(subquery.scalar_subquery()))


def _probe(subquery: Select):
    """EXISTS tested row by row: OFFSET 0 keeps PostgreSQL from computing (and hashing)
    the whole set first, which costs more than the few dozen rows a broad search tests."""
    return exists(subquery.offset(0))


@dataclass(frozen=True)
class _Shape:
    """What the SQL of a search depends on, apart from the values bound into it."""

    one_character: bool
    short: bool  # fewer than three characters: no trigram to look up
    status: bool  # the text names a status

    @classmethod
    def of(cls, text: str) -> _Shape:
        """The shape of a search text."""
        return cls(len(text) == 1, len(text) < 3, text.lower() in STATUSES)

    def matches(self, column):
        """The column contains the text, case-insensitively (ILIKE).

        pg_trgm serves three characters or more; for fewer, the character index finds the
        rows holding every character and strpos() checks their order (an ILIKE would make
        the planner read the whole trigram index).
        """
        if not self.short:
            return column.ilike(PATTERN)
        lowered = func.lower(TEXT)
        return and_(characters(column).op("@>")(characters(lowered)),
                    func.strpos(func.lower(column), lowered) > 0)

    def patients(self) -> Select:
        """Ids of the patients whose name matches."""
        return select(Patient.id).where(self.matches(Patient.name))

    def schedules(self) -> Select:
        """Ids of the schedules of a matching department or doctor (an index each)."""
        departments = select(Department.id).where(Department.name.ilike(PATTERN))
        return select(Schedule.id).where(Schedule.department_id == _any_of(departments)) \
            .union_all(select(Schedule.id).join(Doctor, Doctor.id == Schedule.doctor_id)
                       .where(Doctor.name.ilike(PATTERN)))

    def of_patient(self, *, probe: bool):
        """A registration of a matching patient."""
        if not probe:
            return Registration.patient_id.in_(self.patients())
        return _probe(select(Patient.id).where(Patient.id == Registration.patient_id,
                                               self.matches(Patient.name)))

    def on_schedule(self, *, probe: bool):
        """A registration on a schedule of a matching department or doctor."""
        if not probe:
            return Registration.schedule_id.in_(self.schedules())
        return _probe(select(Schedule.id).where(
            Schedule.id == Registration.schedule_id,
            or_(Schedule.department_id.in_(select(Department.id)
                                           .where(Department.name.ilike(PATTERN))),
                Schedule.doctor_id.in_(select(Doctor.id).where(Doctor.name.ilike(PATTERN))))))


def _values(text: str) -> dict[str, Any]:
    """What a search's statements are executed with."""
    return {"text": text, "pattern": like_pattern(text), "status": text.lower(),
            "scan_from": SCAN_FROM}


@dataclass(frozen=True)
class _Tally:
    """The matches of a search, branch by branch, each without the earlier branches' rows."""

    schedules: int  # on a schedule of a matching doctor or department
    status: int  # in the status the query names
    patients: int  # of a matching patient
    notes: int  # with matching notes
    total: int  # registrations in all, estimated

    @property
    def count(self) -> int:
        """Every match, exactly."""
        return self.schedules + self.status + self.patients + self.notes


def _counted(term, on_them):
    """The sum of the counters of `term` on the schedules `on_them` selects."""
    return select(func.coalesce(func.sum(RegistrationTermCount.n), 0)).where(
        RegistrationTermCount.term == term, on_them).scalar_subquery()


def _counted_on(schedules: Select):
    """Every registration on the matching schedules: their '' counters, found by a probe
    per schedule, or, for SCAN_FROM schedules or more, by one pass over all '' counters
    that tests each against the schedules hashed once (OFFSET 0 keeps it one test)."""
    tested = select(RegistrationTermCount.n,
                    RegistrationTermCount.schedule_id.in_(schedules).label("on_them")) \
        .where(RegistrationTermCount.term == "").offset(0).subquery()
    scanned = select(func.coalesce(func.sum(tested.c.n), 0)).where(tested.c.on_them)
    scan_from = bindparam("scan_from")
    many = select(func.count()).select_from(schedules.limit(scan_from).subquery())
    return case((many.scalar_subquery() >= scan_from, scanned.scalar_subquery()),
                else_=_counted("", RegistrationTermCount.schedule_id == _any_of(schedules)))


@cache
def _tally_statement(shape: _Shape) -> Select:
    """The statement that counts a search's matches, branch by branch.

    A doctor's or department's name, a status word and a one-character patient name are
    sums over registration_term_counts (per schedule: every registration, each status, each
    character of the patient's name), kept in the writing transactions. Only the rest
    (notes, longer patient names) is counted from rows, without the rows counted already.
    """
    schedules = select(shape.schedules().cte("matching_schedules").c.id)
    elsewhere = [Registration.schedule_id.not_in(schedules)]
    others = RegistrationTermCount.schedule_id.not_in(schedules)
    if shape.status:
        elsewhere.append(Registration.status != STATUS)
    if shape.one_character:  # no status word is this short
        patients = _counted(func.lower(TEXT), others)
    else:
        patients = select(func.count()).where(shape.of_patient(probe=False), *elsewhere) \
            .scalar_subquery()
    return select(
        _counted_on(schedules),
        _counted(STATUS, others) if shape.status else literal_column("0"),
        patients,
        select(func.count()).where(shape.matches(Registration.notes), *elsewhere,
                                   not_(shape.of_patient(probe=False))).scalar_subquery(),
        ESTIMATED_TOTAL,
    )


def _tally(text: str) -> _Tally:
    """Count the matches of a search exactly, in one statement."""
    row = db.session.execute(_tally_statement(_Shape.of(text)), _values(text)).one()
    return _Tally(*(int(value) for value in row[:4]), total=max(int(row[4]), 0))


_PAGES: dict[tuple, Select] = {}


def _page_statement(shape: _Shape, tally: _Tally, how: str, params: ListParams,
                    sort_columns: Mapping[str, Sequence[Any]], tiebreak: Sequence[Any]):
    """The statement of a page: `how` is walk (testing rows by hashed ids), probe (testing
    rows by key lookups) or collect (the matches' ids through the indexes, then sorted)."""
    adds = (tally.schedules > 0, tally.status > 0, tally.patients > 0, tally.notes > 0)
    key = (shape, adds, how, params.sort, params.reverse)
    if key not in _PAGES:
        probe = how == "probe"
        branches = []  # (the test of a row, the ids through an index)
        if tally.schedules:
            branches.append((shape.on_schedule(probe=probe),
                             Registration.schedule_id == _any_of(shape.schedules())))
        if tally.status:
            branches.append((Registration.status == STATUS,) * 2)
        if tally.patients:
            branches.append((shape.of_patient(probe=probe),
                             Registration.patient_id == _any_of(shape.patients())))
        if tally.notes:
            branches.append((shape.matches(Registration.notes),) * 2)
        if how == "collect":
            ids = union(*(select(Registration.id).where(where) for _, where in branches))
            matching = Registration.id == _any_of(ids)
        else:
            matching = or_(*(test for test, _ in branches))
        order = ordering(params, sort_columns, tiebreak)
        # The page's ids first, then its rows: the rows an OFFSET skips are not built (each
        # computes its visit time with two function calls).
        page = select(Registration.id).where(matching).order_by(*order) \
            .limit(bindparam("limit")).offset(bindparam("offset"))
        _PAGES[key] = select(Registration).where(Registration.id == _any_of(page)) \
            .order_by(*order)
    return _PAGES[key]


def search_all_registrations(params: ListParams, sort_columns: Mapping[str, Sequence[Any]],
                             tiebreak: Sequence[Any]) -> Page:
    """An admin's search over every registration: the exact count, then the page.

    Only the branches that add matches are searched for the page, by walking the id order
    and testing each row (broad queries: a page is found after a few dozen rows) or by
    collecting the matches' ids through the indexes (narrow ones).
    """
    text = params.query or ""
    tally = _tally(text)
    if tally.count == 0 or params.offset >= tally.count:
        return Page(items=[], count=tally.count, params=params)
    tested = (params.offset + params.per_page) * max(tally.total, tally.count) / tally.count
    if params.sort == "id":  # the primary key: an index in the sort order
        how = ("probe" if tested <= PROBE_AT_MOST else
               "walk" if tested <= WALK_ROW_COST * tally.count else "collect")
    else:
        how = "walk" if tally.count > COLLECT_AT_MOST else "collect"
    stmt = _page_statement(_Shape.of(text), tally, how, params, sort_columns, tiebreak)
    items = db.session.scalars(stmt, {**_values(text), "limit": params.per_page,
                                      "offset": params.offset}).all()
    return Page(items=list(items), count=tally.count, params=params)
