"""Helpers every service uses: fetch-or-404, commit with constraint translation."""
from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError

from app.errors import ApiError, NotFound, integrity_to_api_error
from app.extensions import db

T = TypeVar("T")


def get_or_404(model: type[T], ident: Any, label: str | None = None) -> T:
    """The row with primary key `ident`, or NotFound naming it."""
    obj = db.session.get(model, ident)
    if obj is None:
        name = label or model.__name__
        raise NotFound(f"{name} {ident} not found", f"{name.lower()}_not_found")
    return obj


def commit(meanings: dict[str, ApiError] | None = None) -> None:
    """Commit; a constraint violation becomes the domain error it stands for."""
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise integrity_to_api_error(exc, meanings) from None


def flush(meanings: dict[str, ApiError] | None = None) -> None:
    """Flush; a constraint violation becomes the domain error it stands for."""
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise integrity_to_api_error(exc, meanings) from None


def lock_schedules_of(registration_filter) -> list[int]:
    """Lock (in id order) the schedules of the active registrations matching a filter.

    Deleting or restatusing registrations makes the database triggers update their schedules.
    Every booking locks its schedule row first, so any bulk change takes the same locks in
    the same (id) order before touching registrations: the two can then never deadlock.
    Returns the locked schedules' ids (where places free up).
    """
    from sqlalchemy import select

    from app.models import Registration, Schedule, holds_slot

    booked = select(Registration.schedule_id).where(
        registration_filter, holds_slot(Registration.status))
    return list(db.session.scalars(
        select(Schedule.id).where(Schedule.id.in_(booked)).order_by(Schedule.id)
        .with_for_update()
    ))
