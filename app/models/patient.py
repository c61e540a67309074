"""Patient profiles owned by user accounts."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin
from app.models.catalogue import gender_column


class Patient(TimestampMixin, Base):
    """A person who can be registered; one account holds several (family members)."""

    __tablename__ = "patients"
    __table_args__ = (
        UniqueConstraint("user_id", "name", "birthday"),
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
