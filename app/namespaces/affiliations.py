"""The affiliations namespace."""
from __future__ import annotations

from flask_restx import Namespace

ns = Namespace("affiliations", description="Doctor-department affiliation operations")
