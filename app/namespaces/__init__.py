"""Every namespace, in the order Swagger lists them; each holds all of its resource's routes."""
from app.namespaces.affiliations import ns as affiliations_ns
from app.namespaces.departments import ns as departments_ns
from app.namespaces.doctors import ns as doctors_ns
from app.namespaces.events import ns as events_ns
from app.namespaces.health import ns as health_ns
from app.namespaces.patients import ns as patients_ns
from app.namespaces.registrations import ns as registrations_ns
from app.namespaces.schedules import ns as schedules_ns
from app.namespaces.settings import ns as settings_ns
from app.namespaces.stats import ns as stats_ns
from app.namespaces.users import ns as users_ns
from app.namespaces.waitlist import ns as waitlist_ns

NAMESPACES = [
    users_ns,
    patients_ns,
    doctors_ns,
    departments_ns,
    affiliations_ns,
    schedules_ns,
    registrations_ns,
    waitlist_ns,
    events_ns,
    stats_ns,
    settings_ns,
    health_ns,
]
