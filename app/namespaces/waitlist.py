"""The waitlist namespace: leaving a waitlist (joining and listing live with schedules and
patients)."""
from __future__ import annotations

from flask_restx import Namespace, Resource

from app.identity.auth import current_actor, login_required
from app.schemas.common import error_model
from app.services import waitlist
from app.web.requests import no_content

ns = Namespace("waitlist", description="Waitlist (候补) entries")
error = error_model(ns)


@ns.route("/<int:entry_id>")
@ns.param("entry_id", "The waitlist entry identifier")
class WaitlistItem(Resource):
    @ns.response(204, "Left the waitlist (the entry stays, as left)")
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(404, "No such entry, or not the caller's", error)
    @ns.response(409, "No longer waiting (not_waiting)", error)
    @login_required
    def delete(self, entry_id: int):
        """Leave a waitlist (the patient's owner or an admin)."""
        waitlist.leave_waitlist(current_actor(), entry_id)
        return no_content()
