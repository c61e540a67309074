"""The stats namespace."""
from __future__ import annotations

from flask_restx import Namespace

ns = Namespace("stats", description="Statistics for the admin dashboard")
