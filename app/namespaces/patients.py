"""The patients namespace."""
from __future__ import annotations

from flask_restx import Namespace

ns = Namespace("patients", description="Patient operations")
