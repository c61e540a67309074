"""The departments namespace: 科室 and their doctors and schedules."""
from __future__ import annotations

from flask import request
from flask_restx import Namespace, Resource

from app.identity.auth import admin_required, login_required
from app.schemas.common import error_model, list_model, list_params_doc, search_model
from app.schemas.departments import (
    DEPARTMENT_CREATE,
    DEPARTMENT_SORTABLE,
    DEPARTMENT_UPDATE,
    department_to_dict,
    register_models,
)
from app.schemas.doctors import DOCTOR_SORTABLE, doctor_fields, doctor_to_dict
from app.schemas.filters import query_bool
from app.schemas.schedules import (
    SCHEDULE_SORTABLE,
    filter_params_doc,
    schedule_fields,
    schedule_filter_values,
    schedule_to_dict,
)
from app.services import departments as service
from app.services import doctors as doctor_service
from app.services import schedules as schedule_service
from app.validation import validate
from app.web.requests import json_body, no_content, query_list_params, search_list_params

ns = Namespace("departments", description="Department operations")
m = register_models(ns)
error = error_model(ns)
department_list = list_model(ns, "DepartmentList", m["department"])
department_search = search_model(ns, "DepartmentSearch", DEPARTMENT_SORTABLE)
doctor_list = list_model(ns, "DoctorList", ns.model("Doctor", doctor_fields()))
schedule_list = list_model(ns, "ScheduleList", ns.model("Schedule", schedule_fields()))
FORCE_DOC = {"force": {"description": "Delete even with future scheduled registrations "
                                      "(they are deleted too)", "type": "boolean",
                       "default": False, "allowEmptyValue": True}}


@ns.route("/")
class DepartmentList(Resource):
    @ns.doc(params=list_params_doc(DEPARTMENT_SORTABLE))
    @ns.response(200, "Departments", department_list)
    @ns.response(400, "Bad list parameters", error)
    @ns.response(401, "Missing or invalid token", error)
    @login_required
    def get(self):
        """List all departments."""
        page = service.list_departments(query_list_params(DEPARTMENT_SORTABLE))
        return page.envelope(department_to_dict)

    @ns.expect(m["create"])
    @ns.response(201, "Created", m["department"])
    @ns.response(400, "Invalid input", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @ns.response(409, "Name already taken", error)
    @ns.response(413, "Body too large", error)
    @admin_required
    def post(self):
        """Create a new department (admin only)."""
        data = validate(DEPARTMENT_CREATE, json_body())
        return department_to_dict(service.create_department(**data)), 201


@ns.route("/search")
class DepartmentSearch(Resource):
    @ns.expect(department_search)
    @ns.response(200, "Matching departments", department_list)
    @ns.response(400, "Bad search body", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(413, "Body too large", error)
    @login_required
    def post(self):
        """Search departments by name or description."""
        page = service.search_departments(search_list_params(DEPARTMENT_SORTABLE))
        return page.envelope(department_to_dict)


@ns.route("/<int:department_id>")
@ns.param("department_id", "The department identifier")
class DepartmentItem(Resource):
    @ns.response(200, "The department", m["department"])
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(404, "No such department", error)
    @login_required
    def get(self, department_id: int):
        """Fetch a department given its identifier."""
        return department_to_dict(service.get_department(department_id))

    @ns.expect(m["update"])
    @ns.response(200, "Updated", m["department"])
    @ns.response(400, "Invalid input", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @ns.response(404, "No such department", error)
    @ns.response(409, "Name already taken", error)
    @ns.response(413, "Body too large", error)
    @admin_required
    def put(self, department_id: int):
        """Update a department given its identifier (admin only)."""
        changes = validate(DEPARTMENT_UPDATE, json_body(), partial=True)
        return department_to_dict(service.update_department(department_id, changes))

    @ns.doc(params=FORCE_DOC)
    @ns.response(204, "Deleted with its schedules and their registrations")
    @ns.response(400, "Bad force flag", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @ns.response(404, "No such department", error)
    @ns.response(409, "Future scheduled registrations exist (use force=true)", error)
    @admin_required
    def delete(self, department_id: int):
        """Delete a department given its identifier (admin only)."""
        force = query_bool(request.args, "force", default=False)
        service.delete_department(department_id, force=force)
        return no_content()


@ns.route("/<int:department_id>/doctors")
@ns.param("department_id", "The department identifier")
class DepartmentDoctors(Resource):
    @ns.doc(params=list_params_doc(DOCTOR_SORTABLE))
    @ns.response(200, "The department's doctors", doctor_list)
    @ns.response(400, "Bad list parameters", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(404, "No such department", error)
    @login_required
    def get(self, department_id: int):
        """List the doctors affiliated with a department."""
        page = doctor_service.list_department_doctors(department_id,
                                                      query_list_params(DOCTOR_SORTABLE))
        return page.envelope(doctor_to_dict)


@ns.route("/<int:department_id>/schedules")
@ns.param("department_id", "The department identifier")
class DepartmentSchedules(Resource):
    @ns.doc(params={**list_params_doc(SCHEDULE_SORTABLE),
                    **filter_params_doc(parent="department_id")})
    @ns.response(200, "The department's schedules", schedule_list)
    @ns.response(400, "Bad list parameters or filters", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(404, "No such department", error)
    @login_required
    def get(self, department_id: int):
        """List the schedules of a department."""
        params = query_list_params(SCHEDULE_SORTABLE)
        filters = schedule_service.ScheduleFilters(
            **schedule_filter_values(request.args, parent="department_id"))
        page = schedule_service.list_department_schedules(department_id, params, filters)
        return page.envelope(schedule_to_dict)
