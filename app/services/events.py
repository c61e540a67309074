"""The event log: a registration's history and the hospital's feed.

Events are written by database triggers (migration 0009) in the transaction of the change;
app/services/event_actor.py tells the database who acts.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select, text

from app.extensions import db
from app.identity.actor import Actor
from app.models import Event
from app.services.registrations import registration_access, require_owner
from app.web.pagination import ListParams, Page, paginate

EVENT_TYPES = (
    "registration.booked", "registration.cancelled", "registration.completed",
    "registration.checked_in", "registration.no_show", "registration.moved",
    "registration.reinstated", "waitlist.joined", "waitlist.booked", "waitlist.skipped",
    "waitlist.left", "waitlist.expired", "schedule.suspended", "schedule.resumed",
    "policy.changed", "credit.pardoned",
)
SORT_COLUMNS = {"id": (Event.id,)}
# How long the feed waits for transactions that are writing events (see feed()).
FEED_WAIT_MS = 1000


def registration_events(actor: Actor, registration_id: int, params: ListParams) -> Page:
    """A registration's history, oldest first (its patient's owner or an admin)."""
    require_owner(actor, registration_access(actor, registration_id), "read the history of")
    stmt = select(Event).where(Event.registration_id == registration_id)
    return paginate(db.session, stmt, params, SORT_COLUMNS, (Event.id,))


def feed(after_id: int, limit: int, event_type: str | None) -> dict[str, Any]:
    """The events after `after_id`, in id order, never past the feed's horizon.

    Ids are taken in one order and committed in another; answering only up to
    event_feed_horizon() (every event up to it committed or rolled back) means an event
    the poller has not seen can never later appear below an id it has seen.
    """
    horizon = db.session.scalar(text("SELECT event_feed_horizon(:wait)"),
                                {"wait": FEED_WAIT_MS})
    events: list[Event] = []
    more = horizon is None
    if horizon is not None and horizon > after_id:
        stmt = (select(Event).where(Event.id > after_id, Event.id <= horizon)
                .order_by(Event.id).limit(limit + 1))
        if event_type is not None:
            stmt = stmt.where(Event.type == event_type)
        events = list(db.session.scalars(stmt))
        more = len(events) > limit
        events = events[:limit]
    return {"events": events, "more": more,
            "last_id": events[-1].id if events else after_id}
