"""Caching of the read-mostly catalogue (departments, doctors, schedules).

* Every GET answering 200 carries an ETag (a hash of its body); a matching If-None-Match
  gets 304 with no body.
* Catalogue GETs are also kept in a server-side cache (Flask-Caching: in-process by
  default, Redis when REDIS_URL is set, so several processes share it). Entries are keyed
  by the database's cache generations (app/database/generations.py): every entry by the
  `catalogue` generation, and the responses that show available_slots — schedules and the
  schedule sub-lists — also by the `slots` generation, so a booking rush leaves the cached
  departments and doctors alone. Whoever writes, the database bumps the generation in the
  writing transaction; there is nothing to invalidate by hand.
* An answer that goes stale with the clock (a schedule's `bookable` at a release instant,
  a cutoff or a start) names the instant with `valid_until(moment)`; its entry is served
  only before that instant (hospital wall-clock time, compared on every hit), so it turns
  at the instant itself, not up to a timeout later.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re

from flask import Flask, Response, current_app, g, request
from flask_caching import Cache

from app.database.generations import generations
from app.identity.auth import authenticate
from app.services import schedule_rules
from app.web.redis_bounds import RedisBreaker, redis_client_options

cache = Cache()

# Catalogue reads, public to every signed-in user (never per-user data).
CACHEABLE_PATH = re.compile(
    r"^/(departments|doctors|schedules)(/\d+(/(departments|doctors|schedules|slots))?)?/?$"
)
# The cacheable reads that show available_slots: schedules and the schedule sub-lists.
SLOTS_PATH = re.compile(r"^/(schedules|(departments|doctors)/\d+/schedules)(/|$)")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BREAKER_KEY = "cache_breaker"
# Every successful write is announced to the other processes with the scopes it may change
# (app/database/announcements.py), so no process serves a stale cached answer after it.
# Writes that change only what available_slots shows (a process that reads the callers' rows
# then need not look again) ...
BOOKING_PATH = re.compile(r"^/(registrations|patients)(/|$)")
# ... and requests that change nothing a cache holds (a new account is in no cache yet).
NO_CACHED_STATE = frozenset({"/users/login", "/users/register", "/users/refresh"})


def init_caching(app: Flask) -> None:
    """Configure the cache backend and the request hooks."""
    if app.config.get("REDIS_URL"):
        app.config.setdefault("CACHE_TYPE", "RedisCache")
        app.config.setdefault("CACHE_REDIS_URL", app.config["REDIS_URL"])
        app.config.setdefault("CACHE_KEY_PREFIX", f"{app.config['REDIS_KEY_PREFIX']}-cache:")
        app.config.setdefault("CACHE_OPTIONS", redis_client_options(app.config))
    else:
        app.config.setdefault("CACHE_TYPE", "SimpleCache")
        app.config.setdefault("CACHE_THRESHOLD", 5000)
    app.config.setdefault("CACHE_DEFAULT_TIMEOUT", app.config["CACHE_TIMEOUT"])
    cache.init_app(app)
    app.extensions[BREAKER_KEY] = RedisBreaker(float(app.config["REDIS_RETRY_SECONDS"]))
    app.before_request(_serve_from_cache)
    app.after_request(_etag_and_store)
    app.after_request(_note_write)


# Kept in the request's environ, not in `g`: an app context may outlive one request.
MOMENT_KEY = "hospital.moment"
VALID_UNTIL_KEY = "hospital.cache_valid_until"


def request_moment() -> dt.datetime:
    """The hospital wall-clock time this request's answer describes (read once per request)."""
    moment = request.environ.get(MOMENT_KEY)
    if moment is None:
        moment = request.environ[MOMENT_KEY] = schedule_rules.hospital_now()
    return moment


def valid_until(moment: dt.datetime | None) -> None:
    """This request's answer is stale from `moment` on (hospital wall-clock; None: never)."""
    if moment is None:
        return
    current = request.environ.get(VALID_UNTIL_KEY)
    request.environ[VALID_UNTIL_KEY] = moment if current is None else min(current, moment)


def _note_write(response: Response) -> Response:
    # A write this process served shows on its next cached read (the generations are read
    # again first), and on every other process's next one when Redis carries the
    # announcement; writes made outside the service reach them within CACHE_SYNC_SECONDS.
    if request.method in SAFE_METHODS:
        return response
    path = request.path.rstrip("/")
    if path in NO_CACHED_STATE or 400 <= response.status_code < 500:
        return response  # a refused request changed nothing (a full schedule in a rush)
    if response.status_code >= 500:
        generations().note_write()  # it may have failed after its commit: look again
    elif BOOKING_PATH.match(path):
        generations().announce(("slots",))
    else:
        generations().announce()
    return response


def _cache_wanted() -> bool:
    return (current_app.config["CACHE_ENABLED"] and request.method == "GET"
            and CACHEABLE_PATH.match(request.path) is not None
            and current_app.extensions[BREAKER_KEY].closed)


def _serve_from_cache() -> Response | None:
    if not _cache_wanted():
        return None
    authenticate()  # a cached body is still only for signed-in users
    current = generations().current()
    if current is None:
        return None
    path = request.path.rstrip("/") or "/"
    generation = f"{current['epoch']}:{current['catalogue']}"
    if SLOTS_PATH.match(path):
        generation = f"{generation}:{current['slots']}"
    query = request.query_string.decode("latin-1")
    # "resp2": entries carry their validity instant (older ones held two fields).
    key = f"resp2:{generation}:{path}?{query}"
    try:
        entry = cache.get(key)
    except Exception:  # a cache outage must not fail reads
        current_app.extensions[BREAKER_KEY].failed("cache read")
        return None
    if entry is None:
        g.cache_key = key
        return None
    etag, body, until = entry
    if until is not None and schedule_rules.hospital_now() >= until:
        g.cache_key = key  # the clock has passed an instant the answer depends on
        return None
    response = Response(body, status=200, content_type=current_app.json.mimetype)
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
        until = request.environ.get(VALID_UNTIL_KEY)
        try:
            # Validity is checked against `until` on every hit; the entry's lifetime is
            # the usual one (a stale entry is replaced by the next miss under its key).
            if until is None or until > request_moment():
                cache.set(key, (etag, body, until))
        except Exception:
            current_app.extensions[BREAKER_KEY].failed("cache store")
        response.headers["X-Cache"] = "miss"
    if request.if_none_match and request.if_none_match.contains(etag):
        not_modified = Response(status=304)
        not_modified.set_etag(etag)
        for header in ("X-Request-ID", "X-Cache", "Access-Control-Allow-Origin", "Vary"):
            if header in response.headers:
                not_modified.headers[header] = response.headers[header]
        return not_modified
    return response
