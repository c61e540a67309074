"""What the registration search reads besides the rows: counters and character indexes.

All of it is written by the database (migration 0011), never by the application.
"""
from __future__ import annotations

from sqlalchemy import Index, Integer, PrimaryKeyConstraint, String, func, null
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base
from app.models.patient import Patient
from app.models.schedule import Registration


def characters(column):
    """The characters of a lowercased text, as the character indexes hold them."""
    return func.string_to_array(func.lower(column), null())


class RegistrationTermCount(Base):
    """How many registrations of a schedule carry a term, kept by triggers on registrations
    and patients in the changing transaction (migration 0011).

    A term is '' (every registration), a status ('completed'), or one character of the
    patient's lowercased name ('王'). A broad search sums these instead of counting rows.
    """

    __tablename__ = "registration_term_counts"
    __table_args__ = (
        # Term first and the count included: every sum reads this index only.
        PrimaryKeyConstraint("term", "schedule_id", postgresql_include=["n"]),
    )

    term: Mapped[str] = mapped_column(String(20))
    # No foreign key: its check would lock the schedule row, which a rename must not wait
    # for (see migration 0011). A deleted schedule's counters are counted down to zero by
    # the cascade of its registrations, and removed.
    schedule_id: Mapped[int] = mapped_column(Integer)
    n: Mapped[int] = mapped_column(Integer, nullable=False)


# GIN indexes on characters, for queries of one or two characters (pg_trgm needs three).
Index("ix_patients_name_chars", characters(Patient.name), postgresql_using="gin")
Index("ix_registrations_notes_chars", characters(Registration.notes), postgresql_using="gin")
