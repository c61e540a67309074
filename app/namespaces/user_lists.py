"""/users/{id}/patients[/search] and /users/{id}/registrations[/search]."""
from __future__ import annotations
