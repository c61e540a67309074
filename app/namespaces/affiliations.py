"""The affiliations namespace: which doctors work in which departments."""
from __future__ import annotations

from flask import request
from flask_restx import Namespace, Resource

from app.identity.auth import admin_required
from app.schemas.affiliations import (
    AFFILIATION_CREATE,
    AFFILIATION_SORTABLE,
    affiliation_row_to_dict,
    register_models,
)
from app.schemas.common import ID_QUERY_PARAM, error_model, list_model, list_params_doc
from app.schemas.filters import query_id
from app.services import affiliations as service
from app.validation import validate
from app.web.requests import json_body, no_content, query_list_params

ns = Namespace("affiliations", description="Doctor-department affiliation operations")
m = register_models(ns)
error = error_model(ns)
affiliation_list = list_model(ns, "AffiliationList", m["affiliation"])
FILTER_DOC = {
    "doctor_id": {"description": "Only this doctor's affiliations", **ID_QUERY_PARAM},
    "department_id": {"description": "Only this department's affiliations", **ID_QUERY_PARAM},
}


@ns.route("/")
class AffiliationList(Resource):
    @ns.doc(params={**list_params_doc(AFFILIATION_SORTABLE), **FILTER_DOC})
    @ns.response(200, "Affiliations with their doctor and department", affiliation_list)
    @ns.response(400, "Bad list parameters or filters", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @admin_required
    def get(self):
        """List doctor-department affiliations (admin only)."""
        params = query_list_params(AFFILIATION_SORTABLE)
        page = service.list_affiliations(
            params,
            doctor_id=query_id(request.args, "doctor_id"),
            department_id=query_id(request.args, "department_id"),
        )
        return page.envelope(affiliation_row_to_dict)

    @ns.expect(m["create"])
    @ns.response(201, "Created", m["affiliation"])
    @ns.response(400, "Invalid input", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @ns.response(404, "No such doctor or department", error)
    @ns.response(409, "Already affiliated", error)
    @ns.response(413, "Body too large", error)
    @admin_required
    def post(self):
        """Affiliate a doctor with a department (admin only)."""
        data = validate(AFFILIATION_CREATE, json_body())
        row = service.create_affiliation(data["doctor_id"], data["department_id"])
        return affiliation_row_to_dict(row), 201


@ns.route("/<int:doctor_id>/<int:department_id>")
@ns.param("doctor_id", "The doctor identifier")
@ns.param("department_id", "The department identifier")
class AffiliationItem(Resource):
    @ns.response(204, "Deleted")
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @ns.response(404, "No such affiliation", error)
    @ns.response(409, "The doctor still has schedules from today on in the department", error)
    @admin_required
    def delete(self, doctor_id: int, department_id: int):
        """Remove a doctor from a department (admin only)."""
        service.delete_affiliation(doctor_id, department_id)
        return no_content()
