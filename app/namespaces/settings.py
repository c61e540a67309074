"""The settings namespace: the hospital's booking policy (号源规则)."""
from __future__ import annotations

from flask_restx import Namespace, Resource

from app.identity.auth import admin_required, login_required
from app.schemas.common import error_model
from app.schemas.settings import POLICY_UPDATE, policy_to_dict, register_models
from app.services import policy as service
from app.validation import validate
from app.web.requests import json_body

ns = Namespace("settings", description="Hospital-wide settings")
m = register_models(ns)
error = error_model(ns)


@ns.route("/booking")
class BookingPolicy(Resource):
    @ns.response(200, "The booking policy", m["policy"])
    @ns.response(401, "Missing or invalid token", error)
    @login_required
    def get(self):
        """The booking policy: release (放号), booking cutoff and cancel deadline."""
        return policy_to_dict(service.get_policy())

    @ns.expect(m["update"])
    @ns.response(200, "The whole policy after the change", m["policy"])
    @ns.response(400, "A value out of range or of the wrong type (nothing changes)", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @ns.response(413, "Body too large", error)
    @admin_required
    def put(self):
        """Change the booking policy (admin only; partial: absent fields keep their value)."""
        changes = validate(POLICY_UPDATE, json_body(), partial=True)
        return policy_to_dict(service.update_policy(changes))
