"""/schedules/{id}/registrations."""
from __future__ import annotations
