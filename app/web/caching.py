"""Caching of the read-mostly catalogue (departments, doctors, schedules).

* Every GET answering 200 carries an ETag (a hash of its body); a matching If-None-Match
  gets 304 with no body.
* Catalogue GETs are also kept in a server-side cache (Flask-Caching: in-process by
  default, Redis when REDIS_URL is set, so several processes share it). Entries are keyed
  by *generation* tokens; a committed write that can change what the catalogue shows bumps
  one, so the next read misses and recomputes. There are two: the catalogue generation
  (departments, doctors, affiliations, schedules) keys every entry, and the slots
  generation (registrations: a booking, a cancellation, deletes that cascade to them) keys
  only the responses that show available_slots — schedules and the schedule sub-lists. So a
  booking rush leaves the cached departments and doctors alone.
  A reader takes the generations before it queries, so a response computed from data older
  than a write can only be stored under a generation nobody reads any more.
"""
from __future__ import annotations

import hashlib
import logging
import re
import uuid

from flask import Flask, Response, g, request
from flask_caching import Cache
from flask_jwt_extended import verify_jwt_in_request
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.database.statements import writes_to
from app.models import Affiliation, Department, Doctor, Patient, Registration, Schedule, User

log = logging.getLogger(__name__)
cache = Cache()

GENERATION_KEY = "catalogue-generation"
SLOTS_GENERATION_KEY = "slots-generation"
# Catalogue reads, public to every signed-in user (never per-user data).
CACHEABLE_PATH = re.compile(
    r"^/(departments|doctors|schedules)(/\d+(/(departments|doctors|schedules))?)?/?$"
)
# The cacheable reads that show available_slots: schedules and the schedule sub-lists.
SLOTS_PATH = re.compile(r"^/(schedules|(departments|doctors)/\d+/schedules)(/|$)")
# A change to these shows in the catalogue ...
CATALOGUE_MODELS = (Department, Doctor, Affiliation, Schedule)
# ... a change to these in available_slots, and so does deleting a patient or a user, which
# cascades to registrations in the database.
SLOT_MODELS = (Registration,)
SLOT_DELETES = (Patient, User)
CATALOGUE_TABLES = frozenset(model.__table__.name for model in CATALOGUE_MODELS)
SLOT_TABLES = frozenset(model.__table__.name for model in (*SLOT_MODELS, *SLOT_DELETES))
DIRTY_FLAG = "catalogue_dirty"  # session.info: the commit bumps the catalogue generation
SLOTS_DIRTY_FLAG = "slots_dirty"  # session.info: the commit bumps the slots generation


def init_caching(app: Flask) -> None:
    """Configure the cache backend and the request hooks."""
    if app.config.get("REDIS_URL"):
        app.config.setdefault("CACHE_TYPE", "RedisCache")
        app.config.setdefault("CACHE_REDIS_URL", app.config["REDIS_URL"])
        app.config.setdefault("CACHE_KEY_PREFIX", f"{app.config['REDIS_KEY_PREFIX']}-cache:")
    else:
        app.config.setdefault("CACHE_TYPE", "SimpleCache")
        app.config.setdefault("CACHE_THRESHOLD", 5000)
    app.config.setdefault("CACHE_DEFAULT_TIMEOUT", app.config["CACHE_TIMEOUT"])
    cache.init_app(app)
    app.before_request(_serve_from_cache)
    app.after_request(_etag_and_store)


def current_generation(key: str = GENERATION_KEY) -> str | None:
    """A generation (catalogue by default); None when the cache backend is unreachable.

    Generations are random tokens, never counters, so a generation that was lost (evicted,
    expired, Redis restarted) is replaced by a new one and old entries are never read again.
    """
    try:
        generation = cache.get(key)
        if generation is None:
            cache.add(key, uuid.uuid4().hex, timeout=0)
            generation = cache.get(key)
        return generation
    except Exception:  # a cache outage must not fail reads
        log.warning("cache unavailable", exc_info=True)
        return None


def bump_generation(key: str = GENERATION_KEY) -> None:
    """Invalidate the cached responses keyed by a generation (every one, by default)."""
    try:
        cache.set(key, uuid.uuid4().hex, timeout=0)
    except Exception:
        log.error("could not invalidate the catalogue cache", exc_info=True)


def bump_slots_generation() -> None:
    """Invalidate the cached responses that show available_slots."""
    bump_generation(SLOTS_GENERATION_KEY)


def _cache_wanted() -> bool:
    from flask import current_app

    return (current_app.config["CACHE_ENABLED"] and request.method == "GET"
            and CACHEABLE_PATH.match(request.path) is not None)


def _serve_from_cache() -> Response | None:
    if not _cache_wanted():
        return None
    verify_jwt_in_request()  # a cached body is still only for signed-in users
    generation = current_generation()
    if generation is None:
        return None
    path = request.path.rstrip("/") or "/"
    if SLOTS_PATH.match(path):
        slots = current_generation(SLOTS_GENERATION_KEY)
        if slots is None:
            return None
        generation = f"{generation}:{slots}"
    query = request.query_string.decode("latin-1")
    key = f"resp:{generation}:{path}?{query}"
    entry = cache.get(key)
    if entry is None:
        g.cache_key = key
        return None
    etag, body = entry
    response = Response(body, status=200, mimetype="application/json")
    response.set_etag(etag)
    response.headers["X-Cache"] = "hit"
    return response


def _etag_and_store(response: Response) -> Response:
    if request.method != "GET" or response.status_code != 200 or response.direct_passthrough:
        return response
    if response.mimetype != "application/json":
        return response
    body = response.get_data()
    etag, _weak = response.get_etag()
    if etag is None:
        etag = hashlib.blake2b(body, digest_size=16).hexdigest()
        response.set_etag(etag)
    key = g.pop("cache_key", None)
    if key is not None:
        try:
            cache.set(key, (etag, body))
        except Exception:
            log.warning("cache store failed", exc_info=True)
        response.headers["X-Cache"] = "miss"
    if request.if_none_match and request.if_none_match.contains(etag):
        not_modified = Response(status=304)
        not_modified.set_etag(etag)
        for header in ("X-Request-ID", "X-Cache", "Access-Control-Allow-Origin", "Vary"):
            if header in response.headers:
                not_modified.headers[header] = response.headers[header]
        return not_modified
    return response


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _context) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, CATALOGUE_MODELS) for obj in changed):
        session.info[DIRTY_FLAG] = True
    if any(isinstance(obj, SLOT_MODELS) for obj in changed) or any(
        isinstance(obj, SLOT_DELETES) for obj in session.deleted
    ):
        session.info[SLOTS_DIRTY_FLAG] = True


@event.listens_for(Session, "do_orm_execute")
def _note_statement(state) -> None:
    if writes_to(state, CATALOGUE_TABLES):
        state.session.info[DIRTY_FLAG] = True
    if writes_to(state, SLOT_TABLES):
        state.session.info[SLOTS_DIRTY_FLAG] = True


@event.listens_for(Session, "after_commit")
def _invalidate_after_commit(session: Session) -> None:
    if session.info.pop(DIRTY_FLAG, False):
        bump_generation()
    if session.info.pop(SLOTS_DIRTY_FLAG, False):
        bump_slots_generation()


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(DIRTY_FLAG, None)
    session.info.pop(SLOTS_DIRTY_FLAG, None)
