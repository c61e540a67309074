"""The schedules namespace."""
from __future__ import annotations

from flask_restx import Namespace

ns = Namespace("schedules", description="Doctor schedule operations")
