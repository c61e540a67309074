"""The schedules namespace: doctors' sessions (排班)."""
from __future__ import annotations

from flask import request
from flask_restx import Namespace, Resource

from app.identity.auth import admin_required, current_actor, login_required
from app.schemas.common import error_model, list_model, list_params_doc, search_model
from app.schemas.filters import query_bool
from app.schemas.registrations import (
    REGISTRATION_SORTABLE,
    registration_models,
    registration_to_dict,
)
from app.schemas.schedules import (
    SCHEDULE_CREATE,
    SCHEDULE_SORTABLE,
    SCHEDULE_UPDATE,
    SLOT_SORTABLE,
    filter_params_doc,
    register_models,
    schedule_filter_values,
    schedule_to_dict,
    slot_to_dict,
)
from app.schemas.waitlist import (
    SUSPEND,
    WAITLIST_JOIN,
    WAITLIST_SORTABLE,
    entry_to_dict,
)
from app.schemas.waitlist import register_models as waitlist_models
from app.services import registrations as registration_service
from app.services import schedules as service
from app.services import stop_clinic, waitlist
from app.validation import validate
from app.web.requests import json_body, no_content, query_list_params, search_list_params

ns = Namespace("schedules", description="Doctor schedule operations")
m = register_models(ns)
error = error_model(ns)
schedule_list = list_model(ns, "ScheduleList", m["schedule"])
schedule_search = search_model(ns, "ScheduleSearch", SCHEDULE_SORTABLE)
slot_list = list_model(ns, "ScheduleSlotList", m["slot"])
FORCE_DOC = {"force": {"description": "Delete even with future scheduled registrations "
                                      "(they are deleted too)", "type": "boolean",
                       "default": False, "allowEmptyValue": True}}


@ns.route("/")
class ScheduleList(Resource):
    @ns.doc(params={**list_params_doc(SCHEDULE_SORTABLE), **filter_params_doc()})
    @ns.response(200, "Schedules", schedule_list)
    @ns.response(400, "Bad list parameters or filters", error)
    @ns.response(401, "Missing or invalid token", error)
    @login_required
    def get(self):
        """List schedules, optionally filtered by doctor, department, dates and free slots."""
        params = query_list_params(SCHEDULE_SORTABLE)
        filters = service.ScheduleFilters(**schedule_filter_values(request.args))
        return service.list_schedules(params, filters).envelope(schedule_to_dict)

    @ns.expect(m["create"])
    @ns.response(201, "Created", m["schedule"])
    @ns.response(400, "Invalid input (e.g. start_time not before end_time)", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @ns.response(404, "No such doctor or department", error)
    @ns.response(409, "Not affiliated, or overlaps another schedule of the doctor", error)
    @ns.response(413, "Body too large", error)
    @admin_required
    def post(self):
        """Create a new schedule (admin only)."""
        data = validate(SCHEDULE_CREATE, json_body())
        return schedule_to_dict(service.create_schedule(**data)), 201


@ns.route("/search")
class ScheduleSearch(Resource):
    @ns.expect(schedule_search)
    @ns.response(200, "Matching schedules", schedule_list)
    @ns.response(400, "Bad search body", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(413, "Body too large", error)
    @login_required
    def post(self):
        """Search schedules by doctor name, department name or date (YYYY-MM-DD)."""
        page = service.search_schedules(search_list_params(SCHEDULE_SORTABLE))
        return page.envelope(schedule_to_dict)


@ns.route("/<int:schedule_id>")
@ns.param("schedule_id", "The schedule identifier")
class ScheduleItem(Resource):
    @ns.response(200, "The schedule", m["schedule"])
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(404, "No such schedule", error)
    @login_required
    def get(self, schedule_id: int):
        """Fetch a schedule given its identifier."""
        return schedule_to_dict(service.get_schedule(schedule_id))

    @ns.expect(m["update"])
    @ns.response(200, "Updated", m["schedule"])
    @ns.response(400, "Invalid input (e.g. start_time not before end_time)", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @ns.response(404, "No such schedule, doctor or department", error)
    @ns.response(409, "Not affiliated, overlapping, below the booked count "
                      "(max_below_booked, capacity_below_booked), or new times or slot length "
                      "while it holds active registrations (schedule_has_bookings)", error)
    @ns.response(413, "Body too large", error)
    @admin_required
    def put(self, schedule_id: int):
        """Update a schedule given its identifier (admin only)."""
        changes = validate(SCHEDULE_UPDATE, json_body(), partial=True)
        return schedule_to_dict(service.update_schedule(schedule_id, changes))

    @ns.doc(params=FORCE_DOC)
    @ns.response(204, "Deleted with its registrations")
    @ns.response(400, "Bad force flag", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @ns.response(404, "No such schedule", error)
    @ns.response(409, "Future scheduled registrations exist (use force=true)", error)
    @admin_required
    def delete(self, schedule_id: int):
        """Delete a schedule given its identifier (admin only)."""
        force = query_bool(request.args, "force", default=False)
        service.delete_schedule(schedule_id, force=force)
        return no_content()


registration_list = registration_models(ns)["list"]


@ns.route("/<int:schedule_id>/registrations")
@ns.param("schedule_id", "The schedule identifier")
class ScheduleRegistrations(Resource):
    @ns.doc(params=list_params_doc(REGISTRATION_SORTABLE))
    @ns.response(200, "The schedule's registrations", registration_list)
    @ns.response(400, "Bad list parameters", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins and the schedule's own doctor only", error)
    @ns.response(404, "No such schedule", error)
    @login_required
    def get(self, schedule_id: int):
        """List a schedule's registrations (admin, or the schedule's doctor)."""
        page = registration_service.list_schedule_registrations(current_actor(), schedule_id,
                                                   query_list_params(REGISTRATION_SORTABLE))
        return page.envelope(registration_to_dict)


@ns.route("/<int:schedule_id>/slots")
@ns.param("schedule_id", "The schedule identifier")
class ScheduleSlots(Resource):
    @ns.doc(params=list_params_doc(SLOT_SORTABLE))
    @ns.response(200, "The schedule's time slots (empty when it is not split)", slot_list)
    @ns.response(400, "Bad list parameters", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(404, "No such schedule", error)
    @login_required
    def get(self, schedule_id: int):
        """List a schedule's time slots (分时段) with their free places, by start time."""
        return service.list_slots(schedule_id, query_list_params(SLOT_SORTABLE)
                                  ).envelope(slot_to_dict)


waitlist_m = waitlist_models(ns)
waitlist_list = list_model(ns, "WaitlistEntryList", waitlist_m["entry"])


@ns.route("/<int:schedule_id>/suspend")
@ns.param("schedule_id", "The schedule identifier")
class ScheduleSuspend(Resource):
    @ns.expect(waitlist_m["suspend"])
    @ns.response(200, "Suspended", m["schedule"])
    @ns.response(400, "No reason, a reason over 500 characters, or a bad substitute id",
                 error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @ns.response(404, "No such schedule or substitute", error)
    @ns.response(409, "Started (schedule_started), already suspended (already_suspended), "
                      "a substitute that cannot stand in (invalid_substitute) or has too few "
                      "free places (substitute_too_small)", error)
    @ns.response(413, "Body too large", error)
    @admin_required
    def post(self, schedule_id: int):
        """Stop a session (停诊, admin only): cancel its bookings, or move them to a
        substitute session (替诊); its waitlist expires."""
        data = validate(SUSPEND, json_body())
        return schedule_to_dict(stop_clinic.suspend_schedule(
            schedule_id, data["reason"], data.get("substitute_schedule_id")))


@ns.route("/<int:schedule_id>/resume")
@ns.param("schedule_id", "The schedule identifier")
class ScheduleResume(Resource):
    @ns.response(200, "Open again", m["schedule"])
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @ns.response(404, "No such schedule", error)
    @ns.response(409, "Not suspended (not_suspended)", error)
    @admin_required
    def post(self, schedule_id: int):
        """Reopen a suspended session (admin only); cancelled bookings stay cancelled."""
        return schedule_to_dict(stop_clinic.resume_schedule(schedule_id))


@ns.route("/<int:schedule_id>/waitlist")
@ns.param("schedule_id", "The schedule identifier")
class ScheduleWaitlist(Resource):
    @ns.expect(waitlist_m["join"])
    @ns.response(201, "Waiting", waitlist_m["entry"])
    @ns.response(400, "Bad patient id", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "A doctor who sees the patient is not its owner", error)
    @ns.response(404, "No such schedule, or no such patient of the caller's", error)
    @ns.response(409, "Not full (schedule_not_full), already waiting "
                      "(duplicate_waitlist_entry), already booked (duplicate_registration), "
                      "or the booking policy refuses (schedule_started, schedule_suspended, "
                      "not_yet_released, booking_closed)", error)
    @ns.response(413, "Body too large", error)
    @login_required
    def post(self, schedule_id: int):
        """Join a full session's waitlist (候补; the patient's owner or an admin): booked
        automatically, in join order, when a place frees up."""
        data = validate(WAITLIST_JOIN, json_body())
        entry = waitlist.join_waitlist(current_actor(), schedule_id, data["patient_id"])
        return entry_to_dict(entry), 201

    @ns.doc(params=list_params_doc(WAITLIST_SORTABLE))
    @ns.response(200, "Every entry, whatever its status", waitlist_list)
    @ns.response(400, "Bad list parameters", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @ns.response(404, "No such schedule", error)
    @admin_required
    def get(self, schedule_id: int):
        """List a session's waitlist (admin only)."""
        return waitlist.list_schedule_waitlist(
            schedule_id, query_list_params(WAITLIST_SORTABLE)).envelope(entry_to_dict)
