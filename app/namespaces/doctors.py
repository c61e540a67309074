"""The doctors namespace."""
from __future__ import annotations

from flask_restx import Namespace

ns = Namespace("doctors", description="Doctor operations")
