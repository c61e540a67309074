"""The registrations namespace: booking (挂号), its status changes and its lists."""
from __future__ import annotations

from flask import request
from flask_restx import Namespace, Resource

from app.errors import ValidationFailed
from app.identity.auth import admin_required, current_actor, login_required
from app.models import STATUSES
from app.schemas.common import error_model, list_model, list_params_doc
from app.schemas.events import EVENT_SORTABLE, event_to_dict
from app.schemas.events import register_models as event_models
from app.schemas.registrations import (
    IDEMPOTENCY_KEY_MAX_LENGTH,
    REGISTRATION_ADMIN_UPDATE,
    REGISTRATION_CREATE,
    REGISTRATION_OWNER_UPDATE,
    REGISTRATION_SORTABLE,
    register_models,
    registration_to_dict,
)
from app.schemas.stats import (
    STATS_PARAMS,
    parse_stats_query,
    register_stats_models,
    stats_to_dict,
)
from app.services import booking
from app.services import events as events_service
from app.services import registration_status as changes_service
from app.services import registrations as service
from app.services import stats as stats_service
from app.validation import NOT_BLANK, validate
from app.web.ratelimit import booking_limit
from app.web.requests import json_body, no_content, query_list_params, search_list_params

ns = Namespace("registrations", description="Registration (挂号) operations")
m = register_models(ns)
error = error_model(ns)
LIST_PARAMS = list_params_doc(REGISTRATION_SORTABLE)
IDEMPOTENCY_HEADER = "Idempotency-Key"


def idempotency_key() -> str | None:
    """The request's Idempotency-Key header (1..255 characters), or None."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not key.strip() or len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        problem = f"must be 1-{IDEMPOTENCY_KEY_MAX_LENGTH} characters"
        raise ValidationFailed(f"{IDEMPOTENCY_HEADER} {problem}", "invalid_idempotency_key",
                               {IDEMPOTENCY_HEADER: problem})
    return key


@ns.route("/")
class RegistrationList(Resource):
    @ns.doc(params=LIST_PARAMS)
    @ns.response(200, "Registrations", m["list"])
    @ns.response(400, "Bad list parameters", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @admin_required
    def get(self):
        """List all registrations (admin only)."""
        page = service.list_registrations(query_list_params(REGISTRATION_SORTABLE))
        return page.envelope(registration_to_dict)

    @ns.doc(params={IDEMPOTENCY_HEADER: {
        "in": "header", "type": "string", "minLength": 1,
        "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH, "pattern": NOT_BLANK,
        "description": "Makes retries safe: the same key and body get the first response "
                       "again; the same key with another body is a 409. Kept 24 hours.",
    }})
    @ns.expect(m["create"])
    @ns.response(201, "Booked (or the replay of an earlier booking with this key)",
                 m["registration"])
    @ns.response(400, "Invalid input or Idempotency-Key, or a slot_id that is no slot of "
                      "the schedule (invalid_slot)", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "A doctor booking a patient it sees but does not own, or the person "
                      "is suspended for missed visits (booking_suspended, with until)", error)
    @ns.response(404, "No such patient (or not the caller's), or no such schedule", error)
    @ns.response(409, "schedule_started, schedule_suspended, not_yet_released (with "
                      "release_at), booking_closed, duplicate_registration, schedule_full, "
                      "slot_full, id_number_required, daily_department_limit, "
                      "too_many_active or idempotency_key_reused", error)
    @ns.response(413, "Body too large", error)
    @ns.response(429, "Too many bookings from this account and address; see Retry-After",
                 error)
    @login_required
    @booking_limit
    def post(self):
        """Book a registration for one of the caller's patients (admins: any patient)."""
        key = idempotency_key()
        data = validate(REGISTRATION_CREATE, json_body())
        outcome = booking.book_registration(
            current_actor(), patient_id=data["patient_id"], schedule_id=data["schedule_id"],
            slot_id=data.get("slot_id"), notes=data.get("notes"), idempotency_key=key,
            render=registration_to_dict)
        headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
        return outcome.body, outcome.status, headers


@ns.route("/search")
class RegistrationSearch(Resource):
    @ns.expect(m["search"])
    @ns.response(200, "Matching registrations (non-admins: only their own)", m["list"])
    @ns.response(400, "Bad search body", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(413, "Body too large", error)
    @login_required
    def post(self):
        """Search registrations by notes, patient, doctor, department or status."""
        page = service.search_registrations(current_actor(),
                                            search_list_params(REGISTRATION_SORTABLE))
        return page.envelope(registration_to_dict)


@ns.route("/status/<string:status>")
@ns.param("status", "scheduled, checked_in, completed, cancelled or no_show",
          enum=list(STATUSES))
class RegistrationsByStatus(Resource):
    @ns.doc(params=LIST_PARAMS)
    @ns.response(200, "Registrations in that status", m["list"])
    @ns.response(400, "Unknown status or bad list parameters", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @admin_required
    def get(self, status: str):
        """List registrations in one status (admin only)."""
        params = query_list_params(REGISTRATION_SORTABLE)
        page = service.list_registrations_by_status(status, params)
        return page.envelope(registration_to_dict)


@ns.route("/<int:registration_id>")
@ns.param("registration_id", "The registration identifier")
class RegistrationItem(Resource):
    @ns.response(200, "The registration", m["registration"])
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(404, "No such registration, or not the caller's", error)
    @login_required
    def get(self, registration_id: int):
        """Fetch a registration (owner, admin, or the doctor of its schedule)."""
        registration = service.get_registration(current_actor(), registration_id)
        return registration_to_dict(registration)

    @ns.expect(m["update"])
    @ns.response(200, "Updated", m["registration"])
    @ns.response(400, "Invalid input", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "(Doctors) a status other than completed or no_show", error)
    @ns.response(404, "No such registration, or not the caller's", error)
    @ns.response(409, "invalid_status_transition, schedule_full, duplicate_registration or "
                      "(doctors) schedule_not_started", error)
    @ns.response(413, "Body too large", error)
    @login_required
    def put(self, registration_id: int):
        """Update a registration: owners notes; its schedule's doctor the status; admins both."""
        actor = current_actor()
        with_status = actor.is_admin or actor.doctor_id is not None
        spec = REGISTRATION_ADMIN_UPDATE if with_status else REGISTRATION_OWNER_UPDATE
        changes = validate(spec, json_body(), partial=True)
        registration = changes_service.update_registration(actor, registration_id, changes)
        return registration_to_dict(registration)

    @ns.response(204, "Deleted; an active registration frees its slot")
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "The schedule's doctor is not the patient's owner", error)
    @ns.response(404, "No such registration, or not the caller's", error)
    @ns.response(409, "(Owners) a scheduled registration whose schedule has started", error)
    @login_required
    def delete(self, registration_id: int):
        """Delete a registration (owner or admin)."""
        changes_service.delete_registration(current_actor(), registration_id)
        return no_content()


@ns.route("/<int:registration_id>/cancel")
@ns.param("registration_id", "The registration identifier")
class RegistrationCancel(Resource):
    @ns.response(200, "Cancelled; the slot is free again", m["registration"])
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "The schedule's doctor is not the patient's owner", error)
    @ns.response(404, "No such registration, or not the caller's", error)
    @ns.response(409, "Not scheduled, or (owners) the schedule has started", error)
    @login_required
    def put(self, registration_id: int):
        """Cancel a registration (owner before the schedule starts, admin any time)."""
        registration = changes_service.cancel_registration(current_actor(), registration_id)
        return registration_to_dict(registration)


@ns.route("/<int:registration_id>/complete")
@ns.param("registration_id", "The registration identifier")
class RegistrationComplete(Resource):
    @ns.response(200, "Completed", m["registration"])
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins and the schedule's doctor only (not the patient's owner)", error)
    @ns.response(404, "No such registration, or not the caller's", error)
    @ns.response(409, "Not scheduled, or (doctors) the schedule has not started", error)
    @login_required
    def put(self, registration_id: int):
        """Mark a registration completed (admin, or the schedule's doctor once it started)."""
        registration = changes_service.complete_registration(current_actor(), registration_id)
        return registration_to_dict(registration)


@ns.route("/<int:registration_id>/check_in")
@ns.param("registration_id", "The registration identifier")
class RegistrationCheckIn(Resource):
    @ns.response(200, "Checked in", m["registration"])
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "The schedule's doctor is not the patient's owner", error)
    @ns.response(404, "No such registration, or not the caller's", error)
    @ns.response(409, "Not scheduled (invalid_status_transition), or outside the check-in "
                      "window (check_in_closed)", error)
    @login_required
    def put(self, registration_id: int):
        """Check in at the clinic (签到; owner or admin): from check_in_opens_minutes before
        the visit start until the schedule's end."""
        registration = changes_service.check_in_registration(current_actor(), registration_id)
        return registration_to_dict(registration)


event_m = event_models(ns)
event_list = list_model(ns, "EventList", event_m["event"])


@ns.route("/<int:registration_id>/events")
@ns.param("registration_id", "The registration identifier")
class RegistrationEvents(Resource):
    @ns.doc(params=list_params_doc(EVENT_SORTABLE))
    @ns.response(200, "The registration's history, oldest first", event_list)
    @ns.response(400, "Bad list parameters", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "The schedule's doctor is not the patient's owner", error)
    @ns.response(404, "No such registration, or not the caller's", error)
    @login_required
    def get(self, registration_id: int):
        """A registration's history: every change, who made it and when (owner or admin)."""
        page = events_service.registration_events(current_actor(), registration_id,
                                                  query_list_params(EVENT_SORTABLE))
        return page.envelope(event_to_dict)


stats_models = register_stats_models(ns)


@ns.route("/stats")
class RegistrationStats(Resource):
    @ns.doc(params=STATS_PARAMS)
    @ns.response(200, "Registrations counted by status per group", stats_models["stats"])
    @ns.response(400, "Missing or unknown group_by, bad date or date_from after date_to", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @admin_required
    def get(self):
        """Registration statistics by department, doctor, date or status (admin only)."""
        query = parse_stats_query(request.args)
        return stats_to_dict(query, stats_service.registration_stats(query))
