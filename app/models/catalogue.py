"""Departments, doctors and the doctor–department affiliations."""
from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    String,
    Text,
    Time,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin, utcnow
from app.models.enums import GENDERS


def gender_column() -> Enum:
    """A gender column type: a VARCHAR with a CHECK constraint (easy to extend later)."""
    return Enum(*GENDERS, name="gender", native_enum=False, create_constraint=True, length=10)


class Department(TimestampMixin, Base):
    """A hospital department (科室)."""

    __tablename__ = "departments"
    __table_args__ = (
        CheckConstraint("horizon_days BETWEEN 1 AND 90", name="horizon_days_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    # Overrides of the hospital's booking policy (None: the hospital's value).
    horizon_days: Mapped[int | None] = mapped_column(Integer)
    release_time: Mapped[time | None] = mapped_column(Time)


class Doctor(TimestampMixin, Base):
    """A doctor who works in one or more departments."""

    __tablename__ = "doctors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    gender: Mapped[str] = mapped_column(gender_column(), nullable=False)
    email: Mapped[str] = mapped_column(String(254), nullable=False)
    phone_number: Mapped[str] = mapped_column(String(20), nullable=False, unique=True)
    description: Mapped[str | None] = mapped_column(Text)


class Affiliation(Base):
    """A doctor belongs to a department (医生-科室隶属关系)."""

    __tablename__ = "affiliations"
    doctor_id: Mapped[int] = mapped_column(
        ForeignKey("doctors.id", ondelete="CASCADE"), primary_key=True
    )
    department_id: Mapped[int] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow, server_default=func.now()
    )
