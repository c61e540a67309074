"""Helpers every service uses: fetch-or-404, commit with constraint translation."""
from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError

from ..errors import NotFound, integrity_to_api_error
from ..extensions import db

T = TypeVar("T")


def get_or_404(model: type[T], ident: Any, label: str | None = None) -> T:
    """The row with primary key `ident`, or NotFound naming it."""
    obj = db.session.get(model, ident)
    if obj is None:
        name = label or model.__name__
        raise NotFound(f"{name} {ident} not found", f"{name.lower()}_not_found")
    return obj


def commit() -> None:
    """Commit; a constraint violation becomes the domain error it stands for."""
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise integrity_to_api_error(exc) from None


def flush() -> None:
    """Flush; a constraint violation becomes the domain error it stands for."""
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise integrity_to_api_error(exc) from None
