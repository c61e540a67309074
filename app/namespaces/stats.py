"""The stats namespace: the admin dashboard's totals."""
from __future__ import annotations

from flask_restx import Namespace, Resource

from app.identity.auth import admin_required
from app.schemas.common import error_model
from app.schemas.stats import overview_to_dict, register_overview_models
from app.services import stats as service

ns = Namespace("stats", description="Statistics for the admin dashboard")
m = register_overview_models(ns)
error = error_model(ns)


@ns.route("/overview")
class StatsOverview(Resource):
    @ns.response(200, "Totals", m["overview"])
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @admin_required
    def get(self):
        """Totals of the main tables and registrations by status (admin only)."""
        return overview_to_dict(service.overview())
