"""Patient profiles owned by user accounts."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Date,
    DateTime,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin, utcnow
from app.models.catalogue import gender_column


class Person(Base):
    """One person (实名制): every patient sharing a resident ID number, across accounts.

    Only the number's keyed fingerprint is kept (app/services/id_numbers.py); a patient
    without a number is a person of its own (the insert trigger on patients makes one).
    """

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    id_number_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow, server_default=func.now())


class CreditPardon(Base):
    """An admin's pardon of a person's no-shows so far (爽约 forgiven), with its reason."""

    __tablename__ = "credit_pardons"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), nullable=False, index=True)
    pardoned_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(500), nullable=False)
    no_shows: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow, server_default=func.now())


class Patient(TimestampMixin, Base):
    """A person who can be registered; one account holds several (family members)."""

    __tablename__ = "patients"
    __table_args__ = (
        UniqueConstraint("user_id", "name", "birthday"),
        # One account holds a person (an ID number) once.
        UniqueConstraint("user_id", "person_id"),
        # Trigram indexes for the substring searches (migration 0002).
        Index("ix_patients_name_trgm", "name", postgresql_using="gin",
              postgresql_ops={"name": "gin_trgm_ops"}),
        Index("ix_patients_phone_number_trgm", "phone_number", postgresql_using="gin",
              postgresql_ops={"phone_number": "gin_trgm_ops"}),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    gender: Mapped[str] = mapped_column(gender_column(), nullable=False)
    birthday: Mapped[dt.date] = mapped_column(Date, nullable=False)
    phone_number: Mapped[str] = mapped_column(String(20), nullable=False)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("persons.id"), nullable=False, index=True, server_default=FetchedValue())
    # The first 6 and last 4 characters of the ID number; the number itself is not kept.
    id_number_masked: Mapped[str | None] = mapped_column(String(18))
