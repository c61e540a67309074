"""/registrations/stats (挂号统计)."""
from __future__ import annotations

from flask import request
from flask_restx import Resource

from ..auth import admin_required
from ..schemas.common import error_model
from ..schemas.stats import (
    STATS_PARAMS,
    parse_stats_query,
    register_stats_models,
    stats_to_dict,
)
from ..services import stats as service
from .registrations import ns

m = register_stats_models(ns)
error = error_model(ns)


@ns.route("/stats")
class RegistrationStats(Resource):
    @ns.doc(params=STATS_PARAMS)
    @ns.response(200, "Registrations counted by status per group", m["stats"])
    @ns.response(400, "Missing or unknown group_by, bad date or date_from after date_to", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @admin_required
    def get(self):
        """Registration statistics by department, doctor, date or status (admin only)."""
        query = parse_stats_query(request.args)
        return stats_to_dict(query, service.registration_stats(query))
