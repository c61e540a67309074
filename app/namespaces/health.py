"""GET /health: is the service up and can it reach its database?"""
from __future__ import annotations

from flask_restx import Namespace, Resource, fields

from app.services.health import database_ok

ns = Namespace("health", path="/health", description="Liveness and database health")
health_model = ns.model("Health", {
    "status": fields.String(required=True, enum=["ok", "degraded"]),
    "database": fields.String(required=True, enum=["ok", "unavailable"]),
})


@ns.route("")
class Health(Resource):
    @ns.doc(security=[])
    @ns.response(200, "The service and its database are up", health_model)
    @ns.response(503, "The database is unavailable", health_model)
    def get(self):
        """Check the service and its database."""
        if database_ok():
            return {"status": "ok", "database": "ok"}, 200
        return {"status": "degraded", "database": "unavailable"}, 503, {"Retry-After": "5"}
