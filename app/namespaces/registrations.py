"""The registrations namespace."""
from __future__ import annotations

from flask_restx import Namespace

ns = Namespace("registrations", description="Registration (挂号) operations")
