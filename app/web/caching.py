"""Caching of the read-mostly catalogue (departments, doctors, schedules).

* Every GET answering 200 carries an ETag (a hash of its body); a matching If-None-Match
  gets 304 with no body.
* Catalogue GETs are also kept in a server-side cache (Flask-Caching: in-process by
  default, Redis when REDIS_URL is set, so several processes share it). Entries are keyed
  by the database's `catalogue` cache generation (app/database/generations.py): whoever
  writes, the database bumps it in the writing transaction; there is nothing to invalidate
  by hand.
* The answers that show booking counters — schedules, a schedule's slots and the schedule
  sub-lists — are not invalidated by bookings at all. Their entry also names the schedules
  and slots it shows and the `slots` generation it was counted under; a hit after a change
  of that generation (or a booking served or announced since the last reading of it) reads
  those rows' counters afresh in one statement by primary key (`LIVE_SQL`) and writes
  available_slots, `bookable` and a slot's `available` over the cached body. So in a
  booking rush the lists stay cached and show every booking as soon as anything else does.
  Only a list filtered on the counters (`available=`) cannot be patched (the filter decides
  which rows it holds): those entries are keyed by the `slots` generation, as before.
* An answer that goes stale with the clock (a schedule's `bookable` at a release instant,
  a cutoff or a start) names the instant with `valid_until(moment)`; its entry is served
  only before that instant (hospital wall-clock time, compared on every hit), so it turns
  at the instant itself, not up to a timeout later.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
from json import loads as decode_json
from typing import NamedTuple

from flask import Flask, Response, current_app, g, request
from flask_caching import Cache
from sqlalchemy.exc import SQLAlchemyError

from app.database.autocommit import Statement, run_alone
from app.database.generations import generations
from app.identity.auth import authenticate
from app.services import schedule_rules
from app.services.policy import bookable
from app.web.redis_bounds import RedisBreaker, redis_client_options

cache = Cache()

# Catalogue reads, public to every signed-in user (never per-user data).
CACHEABLE_PATH = re.compile(
    r"^/(departments|doctors|schedules)(/\d+(/(departments|doctors|schedules|slots))?)?/?$"
)
# The cacheable reads that show booking counters: schedules and the schedule sub-lists.
SLOTS_PATH = re.compile(r"^/(schedules|(departments|doctors)/\d+/schedules)(/|$)")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BREAKER_KEY = "cache_breaker"
# Every successful write is announced to the other processes with the scopes it may change
# (app/database/announcements.py), so no process serves a stale cached answer after it.
# Writes that change at most what available_slots shows (a process that reads the callers'
# rows or the catalogue then need not look again): bookings, patients, and the waitlist
# (joining changes nothing cached; a rush joins many times a second) ...
BOOKING_PATH = re.compile(r"^/(registrations|patients|waitlist)(/|$)|^/schedules/\d+/waitlist$")
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
LIVE_KEY = "hospital.cache_live"  # ({schedule id: release_at}, [slot ids]) an answer shows
# What a schedule's available_slots and `bookable` (app/services/policy.py) and a slot's
# `available` are judged from, for the rows a cached answer shows: one call by primary key,
# one row of arrays (the function live_counters(), migration 0013, which keeps its plan).
# release_at does not change with bookings: it comes from the entry.
LIVE_SQL = Statement("SELECT * FROM live_counters(CAST(:schedules AS integer[]),"
                     " CAST(:slots AS integer[]))")


class LiveSchedule(NamedTuple):
    """The columns policy.bookable() reads, as the database holds them now."""

    available_slots: int
    status: str
    date: dt.date
    start_time: dt.time
    closes_at: dt.datetime | None
    release_at: dt.datetime | None


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


def _live() -> tuple[dict[int, dt.datetime | None], list[int]]:
    live = request.environ.get(LIVE_KEY)
    if live is None:
        live = request.environ[LIVE_KEY] = ({}, [])
    return live


def live_schedule(schedule_id: int, release_at: dt.datetime | None) -> None:
    """This answer shows the schedule's available_slots and `bookable`."""
    _live()[0][schedule_id] = release_at


def live_slot(slot_id: int) -> None:
    """This answer shows the slot's `available`."""
    _live()[1].append(slot_id)


class Template(NamedTuple):
    """A cached body cut at the values the overlay writes: parts[0], hole 0, parts[1], ...

    holes[i] is (schedule or slot id, field); the fields are available_slots and `bookable`
    of a schedule and `available` of a slot.
    """

    parts: tuple[bytes, ...]
    holes: tuple[tuple[int, str], ...]


# A hole while the template is cut: a string holding NUL, which no text from the database
# can hold (PostgreSQL refuses NUL in text), encoded by JSON as "\u0000<i>\u0000".
HOLE = re.compile(rb'"\\u0000(\d+)\\u0000"')
TEMPLATE_LIMIT = 512  # templates kept per process (one per distinct cached body)
_templates: dict[str, Template | None] = {}  # by the body's hash
_templates_lock = threading.Lock()


def _cut(body: bytes) -> Template | None:
    """The template of a cached body (None: it cannot be cut; answer afresh)."""
    data = decode_json(body)  # the service's own JSON: not the input checks of app.json
    items = data["results"] if isinstance(data, dict) and "results" in data else [data]
    holes: list[tuple[int, str]] = []
    originals: list[object] = []
    for item in items:
        fields = (("available_slots", "bookable") if "available_slots" in item
                  else ("available",) if "available" in item else ())
        for field in fields:
            originals.append(item[field])
            item[field] = f"\0{len(holes)}\0"
            holes.append((item["id"], field))
    if not holes:
        return Template((body,), ())
    pieces = HOLE.split(current_app.json.response(data).get_data())
    order = [int(index) for index in pieces[1::2]]
    if sorted(order) != list(range(len(holes))):
        return None
    template = Template(tuple(pieces[0::2]), tuple(holes[index] for index in order))
    if _fill(template, [originals[index] for index in order]) != body:
        return None  # not how this body was encoded
    return template


def _fill(template: Template, values: list[object]) -> bytes:
    out = [template.parts[0]]
    for value, part in zip(values, template.parts[1:], strict=True):
        out.append(b"true" if value is True else b"false" if value is False
                   else str(value).encode())
        out.append(part)
    return b"".join(out)


def _template(etag: str, body: bytes) -> Template | None:
    """The body's template, cut once per process (keyed by the body's hash)."""
    try:
        return _templates[etag]
    except KeyError:
        pass
    template = _cut(body)
    with _templates_lock:
        while len(_templates) >= TEMPLATE_LIMIT:
            _templates.pop(next(iter(_templates)), None)
        _templates[etag] = template
    return template


def _overlay(etag: str, body: bytes, live: tuple[dict[int, dt.datetime | None], list[int]]
             ) -> bytes | None:
    """The cached body with the counters, and what depends on them, as the database holds
    them now (None: a row it shows is gone, or the body cannot be cut; answer afresh).

    The body is not decoded: its template (cut once per process) is filled with the values
    read now, byte for byte what encoding the patched data would give.
    """
    schedule_ids, slot_ids = live
    template = _template(etag, body)
    if template is None:
        return None
    if not template.holes:
        return body
    row = run_alone(LIVE_SQL, {"schedules": list(schedule_ids), "slots": slot_ids})
    ids, *columns, slot_found, slot_free = (value or [] for value in row)
    now = request_moment()
    fresh: dict[tuple[int, str], object] = dict(
        zip(((slot_id, "available") for slot_id in slot_found), slot_free, strict=True))
    for sid, *values in zip(ids, *columns, strict=True):
        schedule = LiveSchedule(*values, schedule_ids[sid])
        fresh[sid, "available_slots"] = schedule.available_slots
        fresh[sid, "bookable"] = bookable(schedule, now)
    try:
        return _fill(template, [fresh[hole] for hole in template.holes])
    except KeyError:
        return None


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
    path = request.path.rstrip("/") or "/"
    # Counter-filtered lists follow the `slots` generation; everything else only the
    # catalogue (the counters of schedules and slots are read afresh on each hit).
    counted = SLOTS_PATH.match(path) is not None and "available" in request.args
    needed = ("catalogue", "slots") if counted else ("catalogue",)
    current = generations().current(needed)
    if current is None:
        return None
    generation = f"{current['epoch']}:{current['catalogue']}"
    if counted:
        generation = f"{generation}:{current['slots']}"
    query = request.query_string.decode("latin-1")
    # "resp4": entries carry their validity instant, the rows whose counters they show and
    # the `slots` generation they were counted under.
    key = f"resp4:{generation}:{path}?{query}"
    try:
        entry = cache.get(key)
    except Exception:  # a cache outage must not fail reads
        current_app.extensions[BREAKER_KEY].failed("cache read")
        return None
    g.cache_slots = current["slots"]  # what the answer about to be stored has counted
    if entry is None:
        g.cache_key = key
        return None
    etag, body, until, live, slots = entry
    if until is not None and schedule_rules.hospital_now() >= until:
        g.cache_key = key  # the clock has passed an instant the answer depends on
        return None
    # The counters need reading only when a booking may have happened since the entry was
    # stored: its `slots` generation is not the one last read, or a write was served or
    # announced since that reading (then it is not read again: the counters are).
    unchanged = slots == current["slots"] and generations().settled("slots")
    if not counted and not unchanged:
        try:
            patched = _overlay(etag, body, live)
        except SQLAlchemyError:
            return None  # answered without the cache (and its error) by the view
        if patched is None:
            g.cache_key = key
            return None
        if patched != body:
            body, etag = patched, _etag_of(patched)
    response = Response(body, status=200, content_type=current_app.json.mimetype)
    response.set_etag(etag)
    response.headers["X-Cache"] = "hit"
    return response


def _etag_of(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=16).hexdigest()


def _etag_and_store(response: Response) -> Response:
    if request.method != "GET" or response.status_code != 200 or response.direct_passthrough:
        return response
    if response.mimetype != "application/json":
        return response
    body = response.get_data()
    etag, _weak = response.get_etag()
    if etag is None:
        etag = _etag_of(body)
        response.set_etag(etag)
    key = g.pop("cache_key", None)
    if key is not None:
        until = request.environ.get(VALID_UNTIL_KEY)
        try:
            # Validity is checked against `until` on every hit; the entry's lifetime is
            # the usual one (a stale entry is replaced by the next miss under its key).
            if until is None or until > request_moment():
                live = request.environ.get(LIVE_KEY) or ({}, [])
                cache.set(key, (etag, body, until, live, g.pop("cache_slots", None)))
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
