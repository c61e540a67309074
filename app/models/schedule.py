"""Doctor schedules (排班) and registrations (挂号)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ColumnElement,
    Date,
    Enum,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    Text,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, column_property, mapped_column

from app.models.base import Base, TimestampMixin
from app.models.enums import STATUSES

MAX_APPOINTMENTS_LIMIT = 1000
NOTES_MAX_LENGTH = 2000


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
    # Computed in the same SELECT as the row: no per-row COUNT.
    available_slots: Mapped[int] = column_property(max_appointments - booked_count)


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
    # Assigned by the booking trigger from schedules.last_queue_number: never reused.
    queue_number: Mapped[int] = mapped_column(Integer, nullable=False,
                                              server_default=FetchedValue())


def holds_slot(status: ColumnElement[str]) -> ColumnElement[bool]:
    """Whether a registration status holds a slot of its schedule.

    The statuses are defined once, by the database function registration_holds_slot()
    (migration 0004), which the counter triggers, the partial unique index and the booking
    function use too; PostgreSQL inlines it, so queries calling it can use that index.
    """
    return func.registration_holds_slot(status, type_=Boolean)
