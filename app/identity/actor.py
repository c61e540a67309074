"""The acting user as plain values: what services receive instead of request state."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """The authenticated caller."""

    id: int
    is_admin: bool
    doctor_id: int | None = None
