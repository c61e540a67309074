"""Who acts, told to the database for its events (migration 0009).

Events are written by database triggers in the transaction of the change. Before the first
statement of every write transaction of a request, the transaction-local settings
hospital.actor_user_id, hospital.actor_role and hospital.request_id are set; a transaction
without them (the no-show job, psql) is the system's. The booking, one autocommit
statement, sends the same settings in front of it (one round trip, one transaction).
"""
from __future__ import annotations

from flask import g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.identity.actor import Actor

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The same three settings, as SQL to put before a statement (driver parameter style
# through Statement) and on its own.
ACTOR_SETTINGS = ("SELECT set_config('hospital.actor_user_id', :actor_user_id, true),"
                  " set_config('hospital.actor_role', :actor_role, true),"
                  " set_config('hospital.request_id', :request_id, true)")
_ACTOR_DRIVER_SQL = ACTOR_SETTINGS.replace(":actor_user_id", "%(actor_user_id)s").replace(
    ":actor_role", "%(actor_role)s").replace(":request_id", "%(request_id)s")


def role_of(is_admin: bool, doctor_id: int | None) -> str:
    """The actor_role of an account."""
    return "admin" if is_admin else ("doctor" if doctor_id is not None else "user")


def actor_params(actor: Actor | None = None) -> dict[str, str]:
    """The settings' values for `actor`, else for this request's caller (empty: system)."""
    request_id = g.get("request_id", "") if has_request_context() else ""
    if actor is None and has_request_context():
        done = g.get("_auth")
        if done is not None and done[0] is request._get_current_object():
            user = done[2]
            actor = Actor(id=user.id, is_admin=user.is_admin, doctor_id=user.doctor_id)
    if actor is None:
        return {"actor_user_id": "", "actor_role": "", "request_id": request_id}
    return {"actor_user_id": str(actor.id), "actor_role": role_of(actor.is_admin,
                                                                  actor.doctor_id),
            "request_id": request_id}


def _stamp_transaction(session, transaction, connection) -> None:
    """A write request's transaction tells the database who acts (for its events)."""
    if not has_request_context() or request.method in READ_METHODS \
            or request.path.endswith("/search"):  # searches are POSTed reads
        return
    params = actor_params()
    if params["actor_user_id"]:
        connection.exec_driver_sql(_ACTOR_DRIVER_SQL, params)


def init_event_actor() -> None:
    """Stamp every write transaction of a request with its actor (once per process)."""
    if not event.contains(Session, "after_begin", _stamp_transaction):
        event.listen(Session, "after_begin", _stamp_transaction)
