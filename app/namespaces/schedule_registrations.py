"""/schedules/{id}/registrations."""
from __future__ import annotations

from flask_restx import Resource

from ..auth import current_actor, login_required
from ..http import query_list_params
from ..schemas.common import error_model, list_params_doc
from ..schemas.registrations import (
    REGISTRATION_SORTABLE,
    registration_models,
    registration_to_dict,
)
from ..services import registrations as service
from .schedules import ns

registration_list = registration_models(ns)["list"]
error = error_model(ns)


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
        page = service.list_schedule_registrations(current_actor(), schedule_id,
                                                   query_list_params(REGISTRATION_SORTABLE))
        return page.envelope(registration_to_dict)
