"""Doctor schedules (排班) and registrations (挂号)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ColumnElement,
    Date,
    DateTime,
    Enum,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    case,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, column_property, mapped_column

from app.models.base import Base, TimestampMixin
from app.models.enums import STATUSES

MAX_APPOINTMENTS_LIMIT = 1000
NOTES_MAX_LENGTH = 2000
SLOT_MINUTES_MIN, SLOT_MINUTES_MAX = 5, 240
SCHEDULE_STATUSES = ("open", "suspended")
REASON_MAX_LENGTH = 500
# Who cancelled a registration: its owner, the registration office, or the hospital (停诊).
CANCELLED_BY = ("patient", "admin", "hospital")
WAITLIST_STATUSES = ("waiting", "booked", "skipped", "left", "expired")


class Schedule(TimestampMixin, Base):
    """A doctor's session in a department on one date.

    ``booked_count`` (active registrations) and ``last_queue_number`` are kept by database
    triggers on ``registrations`` (see the initial migration); the CHECK constraint
    ``ck_schedules_capacity`` is what makes overbooking impossible under concurrency.
    """

    __tablename__ = "schedules"
    __table_args__ = (
        CheckConstraint("start_time < end_time", name="time_order"),
        CheckConstraint(
            f"max_appointments BETWEEN 1 AND {MAX_APPOINTMENTS_LIMIT}",
            name="max_appointments_range",
        ),
        CheckConstraint(
            "schedule_within_capacity(booked_count, max_appointments)", name="capacity"
        ),
        CheckConstraint("last_queue_number >= 0", name="queue_counter"),
        CheckConstraint(f"slot_minutes BETWEEN {SLOT_MINUTES_MIN} AND {SLOT_MINUTES_MAX}",
                        name="slot_minutes_range"),
        CheckConstraint("status IN ('open', 'suspended')", name="status"),
        ExcludeConstraint(
            ("doctor_id", "="),
            (text("tsrange(date + start_time, date + end_time)"), "&&"),
            name="ex_schedules_doctor_overlap",
            using="gist",
        ),
        Index("ix_schedules_department_id_date", "department_id", "date"),
        Index("ix_schedules_date_start_time", "date", "start_time"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    doctor_id: Mapped[int] = mapped_column(
        ForeignKey("doctors.id", ondelete="CASCADE"), nullable=False
    )
    department_id: Mapped[int] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"), nullable=False
    )
    date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    start_time: Mapped[dt.time] = mapped_column(Time, nullable=False)
    end_time: Mapped[dt.time] = mapped_column(Time, nullable=False)
    max_appointments: Mapped[int] = mapped_column(Integer, nullable=False)
    booked_count: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default="0"
    )
    last_queue_number: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default="0"
    )
    # Slot length in minutes (分时段), or None: one pool for the whole session. The slots
    # themselves are laid out by the database (trigger schedules_slots, migration 0006).
    slot_minutes: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="open",
                                        server_default="open")
    # Why the registration office suspended it (停诊); None while open.
    suspend_reason: Mapped[str | None] = mapped_column(String(REASON_MAX_LENGTH))
    # Computed in the same SELECT as the row: no per-row COUNT.
    available_slots: Mapped[int] = column_property(max_appointments - booked_count)
    # When the schedule is released (放号; None: always) and when booking closes for
    # patients (None: no slot has a free place), both in hospital wall-clock time; the
    # database functions are the one definition of each rule (migration 0006).
    release_at: Mapped[dt.datetime | None] = column_property(
        func.schedule_release_at(date, department_id, type_=DateTime()))
    closes_at: Mapped[dt.datetime | None] = column_property(
        func.schedule_closes_at(id, date, start_time, slot_minutes, type_=DateTime()))


class ScheduleSlot(Base):
    """One time slot of a slotted schedule, with its own capacity and booked counter.

    Rows are written by the database only: laid out by the trigger on schedules, counted by
    the registration triggers; ``ck_schedule_slots_capacity`` holds the slot's capacity as
    ``ck_schedules_capacity`` holds the schedule's.
    """

    __tablename__ = "schedule_slots"
    __table_args__ = (
        CheckConstraint("schedule_within_capacity(booked_count, capacity)", name="capacity"),
        CheckConstraint("start_time < end_time", name="time_order"),
        UniqueConstraint("schedule_id", "ordinal"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("schedules.id", ondelete="CASCADE"), nullable=False
    )
    ordinal: Mapped[int] = mapped_column(Integer, nullable=False)
    start_time: Mapped[dt.time] = mapped_column(Time, nullable=False)
    end_time: Mapped[dt.time] = mapped_column(Time, nullable=False)
    capacity: Mapped[int] = mapped_column(Integer, nullable=False)
    booked_count: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default="0"
    )
    available: Mapped[int] = column_property(capacity - booked_count)


class Registration(TimestampMixin, Base):
    """A patient's booking on a schedule."""

    __tablename__ = "registrations"
    __table_args__ = (
        UniqueConstraint("schedule_id", "queue_number"),
        # One active registration per patient per schedule.
        Index(
            "uq_registrations_active_patient_schedule",
            "patient_id",
            "schedule_id",
            unique=True,
            postgresql_where=text("registration_holds_slot(status)"),
        ),
        CheckConstraint(f"char_length(notes) <= {NOTES_MAX_LENGTH}", name="notes_length"),
        CheckConstraint("queue_number >= 1", name="queue_number_positive"),
        Index("ix_registrations_status", "status"),
        CheckConstraint("cancelled_by IN ('patient', 'admin', 'hospital')",
                        name="cancelled_by"),
        # Trigram index for the substring search over notes (migration 0002).
        Index("ix_registrations_notes_trgm", "notes", postgresql_using="gin",
              postgresql_ops={"notes": "gin_trgm_ops"}),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), nullable=False, index=True
    )
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("schedules.id", ondelete="CASCADE"), nullable=False
    )
    status: Mapped[str] = mapped_column(
        Enum(*STATUSES, name="registration_status", native_enum=False, create_constraint=True,
             length=20),
        nullable=False,
        default="scheduled",
        server_default="scheduled",
    )
    notes: Mapped[str | None] = mapped_column(Text)
    slot_id: Mapped[int | None] = mapped_column(
        ForeignKey("schedule_slots.id", ondelete="SET NULL"), index=True
    )
    # A pardoned no-show stays no_show and never counts toward a suspension again.
    no_show_pardoned: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                                   server_default="false")
    # When the patient checked in (签到) at the clinic.
    checked_in_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Set by every cancel (None while active); cancel_reason for the hospital's (停诊).
    cancelled_by: Mapped[str | None] = mapped_column(String(20))
    cancel_reason: Mapped[str | None] = mapped_column(String(REASON_MAX_LENGTH))
    # The suspended schedule a substitution (替诊) moved it from.
    moved_from_schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("schedules.id", ondelete="SET NULL"))
    # Assigned by the booking trigger from schedules.last_queue_number: never reused.
    queue_number: Mapped[int] = mapped_column(Integer, nullable=False,
                                              server_default=FetchedValue())
    # The suggested visit time (建议就诊时间): the slot's times, else the schedule's.
    visit_start: Mapped[dt.datetime] = column_property(
        func.registration_visit_start(schedule_id, slot_id, type_=DateTime()))
    visit_end: Mapped[dt.datetime] = column_property(
        func.registration_visit_end(schedule_id, slot_id, type_=DateTime()))


class WaitlistEntry(TimestampMixin, Base):
    """A patient waiting for a place on a full schedule (候补).

    Entries are served in id (join) order by the database function serve_waitlist
    (migration 0008), in the transaction that frees a place.
    """

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        CheckConstraint("status IN ('waiting', 'booked', 'skipped', 'left', 'expired')",
                        name="status"),
        # One waiting entry per patient and schedule.
        Index("uq_waitlist_entries_waiting_patient", "schedule_id", "patient_id", unique=True,
              postgresql_where=text("status = 'waiting'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("schedules.id", ondelete="CASCADE"), nullable=False, index=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="waiting",
                                        server_default="waiting")
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registrations.id", ondelete="SET NULL"), index=True)
    # The refusal's code for a skipped entry.
    reason: Mapped[str | None] = mapped_column(String(50))


def _waitlist_position() -> ColumnElement[int | None]:
    """1-based place among the schedule's waiting entries (join order); None otherwise."""
    ahead = WaitlistEntry.__table__.alias("ahead")
    count = (select(func.count()).select_from(ahead)
             .where(ahead.c.schedule_id == WaitlistEntry.schedule_id,
                    ahead.c.status == "waiting", ahead.c.id <= WaitlistEntry.id)
             .scalar_subquery())
    return case((WaitlistEntry.status == "waiting", count), else_=None)


WaitlistEntry.position = column_property(_waitlist_position())
# When its schedule starts (hospital wall-clock time): a waiting entry expires then.
WaitlistEntry.schedule_start = column_property(
    select(Schedule.date + Schedule.start_time).where(Schedule.id == WaitlistEntry.schedule_id)
    .scalar_subquery())


def holds_slot(status: ColumnElement[str]) -> ColumnElement[bool]:
    """Whether a registration status holds a slot of its schedule.

    The statuses are defined once, by the database function registration_holds_slot()
    (migration 0004), which the counter triggers, the partial unique index and the booking
    function use too; PostgreSQL inlines it, so queries calling it can use that index.
    """
    return func.registration_holds_slot(status, type_=Boolean)
