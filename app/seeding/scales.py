"""How much data each --scale writes."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScaleSpec:
    """Sizes of one scale; None means "derived" (see the fields)."""

    departments: int | None  # None: every department of the list
    doctors: int | None  # None: as many as the registrations need over the seeded dates
    users: int | None  # None: as many accounts as make `patients` patients
    patients: int | None  # with users=None: exactly this many patients
    registrations: int  # aimed at
    min_registrations: int  # guaranteed when the schedules have room
    capacities: tuple[int, ...]  # max_appointments of a half-day, drawn evenly

    @property
    def mean_capacity(self) -> float:
        """The average max_appointments."""
        return sum(self.capacities) / len(self.capacities)


SCALES = {
    "small": ScaleSpec(departments=10, doctors=24, users=50, patients=None, registrations=600,
                       min_registrations=0, capacities=(6, 8, 10, 12, 15, 20)),
    "large": ScaleSpec(departments=None, doctors=None, users=None, patients=100_000,
                       registrations=1_050_000, min_registrations=1_000_000,
                       capacities=(30, 40, 50, 60, 80, 100)),
}
