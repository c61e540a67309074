"""Periodic jobs."""
from __future__ import annotations

from flask import Flask


def init_jobs(app: Flask) -> None:
    """Start the scheduler when SCHEDULER_ENABLED (not yet any jobs)."""
