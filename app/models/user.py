"""User accounts (the people who log in)."""
from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin


class User(TimestampMixin, Base):
    """An account: a patient's family member, a doctor or an admin."""

    __tablename__ = "users"
    __table_args__ = (
        # Usernames are unique regardless of case; login matches them the same way.
        Index("uq_users_username_lower", func.lower(text("username")), unique=True),
        # Trigram indexes for the substring searches (migration 0002).
        Index("ix_users_username_trgm", "username", postgresql_using="gin",
              postgresql_ops={"username": "gin_trgm_ops"}),
        Index("ix_users_phone_number_trgm", "phone_number", postgresql_using="gin",
              postgresql_ops={"phone_number": "gin_trgm_ops"}),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    is_admin: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default="false"
    )
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    phone_number: Mapped[str] = mapped_column(String(20), nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    bio: Mapped[str | None] = mapped_column(Text)
    # Bumped by logout and password changes: tokens carrying an older value stop working.
    token_version: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default="0"
    )
    # The doctor this account acts as (doctor role); at most one account per doctor.
    doctor_id: Mapped[int | None] = mapped_column(
        ForeignKey("doctors.id", ondelete="SET NULL"), unique=True
    )
