"""Setting the hospital's clock in tests: every module that reads it sees the same moment."""
from __future__ import annotations

import datetime as dt

from app.services import (
    booking,
    freed_places,
    registration_status,
    schedule_rules,
    stop_clinic,
    waitlist,
)

READERS = (booking, registration_status, schedule_rules, freed_places, stop_clinic, waitlist)


def set_clock(monkeypatch, moment: dt.datetime) -> None:
    """From now on the hospital's wall-clock time is `moment` (naive, hospital time)."""
    for module in READERS:
        monkeypatch.setattr(module, "hospital_now", lambda: moment)
