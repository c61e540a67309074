"""Every namespace, in the order Swagger lists them.

Some namespaces gain routes from extra modules (imported for their side effect), so that
one resource's HTTP layer stays in files of a reasonable size.
"""
from . import (  # noqa: F401  (modules that add routes to the namespaces above)
    registration_stats,
    schedule_registrations,
    user_lists,
)
from .affiliations import ns as affiliations_ns
from .departments import ns as departments_ns
from .doctors import ns as doctors_ns
from .health import ns as health_ns
from .patients import ns as patients_ns
from .registrations import ns as registrations_ns
from .schedules import ns as schedules_ns
from .stats import ns as stats_ns
from .users import ns as users_ns

NAMESPACES = [
    users_ns,
    patients_ns,
    doctors_ns,
    departments_ns,
    affiliations_ns,
    schedules_ns,
    registrations_ns,
    stats_ns,
    health_ns,
]
