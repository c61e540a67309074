"""The hospital's booking policy (放号 and its cutoffs): one row, read by the database itself."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, DateTime, Integer, SmallInteger, Time, func
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow

HORIZON_DAYS_MAX = 90
BOOKING_CUTOFF_MAX = 1440
CANCEL_DEADLINE_MAX = 10080
MAX_ACTIVE_MAX = 100
NO_SHOW_LIMIT_MAX = 100
NO_SHOW_DAYS_MAX = 365
CHECK_IN_OPENS_MAX = 1440
POLICY_ROW_ID = 1


class BookingPolicy(Base):
    """The one hospital-wide policy row (id 1, created by the migration).

    The booking function and the schedule columns read it in SQL (schedule_release_at,
    booking_cutoff), so every process sees a change with its next statement.
    """

    __tablename__ = "booking_policy"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint(f"horizon_days BETWEEN 1 AND {HORIZON_DAYS_MAX}",
                        name="horizon_days_range"),
        CheckConstraint(f"booking_cutoff_minutes BETWEEN 0 AND {BOOKING_CUTOFF_MAX}",
                        name="booking_cutoff_range"),
        CheckConstraint(f"cancel_deadline_minutes BETWEEN 0 AND {CANCEL_DEADLINE_MAX}",
                        name="cancel_deadline_range"),
        CheckConstraint(f"max_active_per_person BETWEEN 1 AND {MAX_ACTIVE_MAX}",
                        name="max_active_range"),
        CheckConstraint(f"no_show_limit BETWEEN 0 AND {NO_SHOW_LIMIT_MAX}",
                        name="no_show_limit_range"),
        CheckConstraint(f"no_show_window_days BETWEEN 1 AND {NO_SHOW_DAYS_MAX}",
                        name="no_show_window_range"),
        CheckConstraint(f"no_show_suspend_days BETWEEN 1 AND {NO_SHOW_DAYS_MAX}",
                        name="no_show_suspend_range"),
        CheckConstraint(f"check_in_opens_minutes BETWEEN 0 AND {CHECK_IN_OPENS_MAX}",
                        name="check_in_opens_range"),
    )

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, server_default="1")
    horizon_days: Mapped[int | None] = mapped_column(Integer)
    release_time: Mapped[dt.time] = mapped_column(Time, nullable=False,
                                                  server_default="00:00:00")
    booking_cutoff_minutes: Mapped[int] = mapped_column(Integer, nullable=False,
                                                        server_default="0")
    cancel_deadline_minutes: Mapped[int] = mapped_column(Integer, nullable=False,
                                                         server_default="0")
    one_per_department_per_day: Mapped[bool] = mapped_column(Boolean, nullable=False,
                                                             server_default="false")
    max_active_per_person: Mapped[int | None] = mapped_column(Integer)
    no_show_limit: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    no_show_window_days: Mapped[int] = mapped_column(Integer, nullable=False,
                                                     server_default="90")
    no_show_suspend_days: Mapped[int] = mapped_column(Integer, nullable=False,
                                                      server_default="90")
    require_id_number: Mapped[bool] = mapped_column(Boolean, nullable=False,
                                                    server_default="false")
    # Check-in (签到) opens this long before the visit start.
    check_in_opens_minutes: Mapped[int] = mapped_column(Integer, nullable=False,
                                                        server_default="60")
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=utcnow)
