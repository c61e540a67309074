"""The departments namespace."""
from __future__ import annotations

from flask_restx import Namespace

ns = Namespace("departments", description="Department operations")
