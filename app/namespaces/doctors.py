"""The doctors namespace: doctors and their departments and schedules."""
from __future__ import annotations

from flask import request
from flask_restx import Namespace, Resource

from app.identity.auth import admin_required, login_required
from app.schemas.common import error_model, list_model, list_params_doc, search_model
from app.schemas.departments import DEPARTMENT_SORTABLE, department_fields, department_to_dict
from app.schemas.doctors import (
    DOCTOR_CREATE,
    DOCTOR_SORTABLE,
    DOCTOR_UPDATE,
    doctor_to_dict,
    register_models,
)
from app.schemas.filters import query_bool
from app.schemas.schedules import (
    SCHEDULE_SORTABLE,
    filter_params_doc,
    schedule_fields,
    schedule_filter_values,
    schedule_to_dict,
)
from app.services import departments as department_service
from app.services import doctors as service
from app.services import schedules as schedule_service
from app.validation import validate
from app.web.requests import json_body, no_content, query_list_params, search_list_params

ns = Namespace("doctors", description="Doctor operations")
m = register_models(ns)
error = error_model(ns)
doctor_list = list_model(ns, "DoctorList", m["doctor"])
doctor_search = search_model(ns, "DoctorSearch", DOCTOR_SORTABLE)
department_list = list_model(ns, "DepartmentList", ns.model("Department", department_fields()))
schedule_list = list_model(ns, "ScheduleList", ns.model("Schedule", schedule_fields()))
FORCE_DOC = {"force": {"description": "Delete even with future scheduled registrations "
                                      "(they are deleted too)", "type": "boolean",
                       "default": False, "allowEmptyValue": True}}


@ns.route("/")
class DoctorList(Resource):
    @ns.doc(params=list_params_doc(DOCTOR_SORTABLE))
    @ns.response(200, "Doctors", doctor_list)
    @ns.response(400, "Bad list parameters", error)
    @ns.response(401, "Missing or invalid token", error)
    @login_required
    def get(self):
        """List all doctors."""
        page = service.list_doctors(query_list_params(DOCTOR_SORTABLE))
        return page.envelope(doctor_to_dict)

    @ns.expect(m["create"])
    @ns.response(201, "Created", m["doctor"])
    @ns.response(400, "Invalid input", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @ns.response(409, "Phone number already taken", error)
    @ns.response(413, "Body too large", error)
    @admin_required
    def post(self):
        """Create a new doctor (admin only)."""
        data = validate(DOCTOR_CREATE, json_body())
        return doctor_to_dict(service.create_doctor(**data)), 201


@ns.route("/search")
class DoctorSearch(Resource):
    @ns.expect(doctor_search)
    @ns.response(200, "Matching doctors", doctor_list)
    @ns.response(400, "Bad search body", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(413, "Body too large", error)
    @login_required
    def post(self):
        """Search doctors by name, email, phone number or description."""
        page = service.search_doctors(search_list_params(DOCTOR_SORTABLE))
        return page.envelope(doctor_to_dict)


@ns.route("/<int:doctor_id>")
@ns.param("doctor_id", "The doctor identifier")
class DoctorItem(Resource):
    @ns.response(200, "The doctor", m["doctor"])
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(404, "No such doctor", error)
    @login_required
    def get(self, doctor_id: int):
        """Fetch a doctor given its identifier."""
        return doctor_to_dict(service.get_doctor(doctor_id))

    @ns.expect(m["update"])
    @ns.response(200, "Updated", m["doctor"])
    @ns.response(400, "Invalid input", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @ns.response(404, "No such doctor", error)
    @ns.response(409, "Phone number already taken", error)
    @ns.response(413, "Body too large", error)
    @admin_required
    def put(self, doctor_id: int):
        """Update a doctor given its identifier (admin only)."""
        changes = validate(DOCTOR_UPDATE, json_body(), partial=True)
        return doctor_to_dict(service.update_doctor(doctor_id, changes))

    @ns.doc(params=FORCE_DOC)
    @ns.response(204, "Deleted with their schedules and those schedules' registrations")
    @ns.response(400, "Bad force flag", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @ns.response(404, "No such doctor", error)
    @ns.response(409, "Future scheduled registrations exist (use force=true)", error)
    @admin_required
    def delete(self, doctor_id: int):
        """Delete a doctor given its identifier (admin only)."""
        force = query_bool(request.args, "force", default=False)
        service.delete_doctor(doctor_id, force=force)
        return no_content()


@ns.route("/<int:doctor_id>/departments")
@ns.param("doctor_id", "The doctor identifier")
class DoctorDepartments(Resource):
    @ns.doc(params=list_params_doc(DEPARTMENT_SORTABLE))
    @ns.response(200, "The doctor's departments", department_list)
    @ns.response(400, "Bad list parameters", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(404, "No such doctor", error)
    @login_required
    def get(self, doctor_id: int):
        """List the departments a doctor is affiliated with."""
        page = department_service.list_doctor_departments(
            doctor_id, query_list_params(DEPARTMENT_SORTABLE))
        return page.envelope(department_to_dict)


@ns.route("/<int:doctor_id>/schedules")
@ns.param("doctor_id", "The doctor identifier")
class DoctorSchedules(Resource):
    @ns.doc(params={**list_params_doc(SCHEDULE_SORTABLE),
                    **filter_params_doc(parent="doctor_id")})
    @ns.response(200, "The doctor's schedules", schedule_list)
    @ns.response(400, "Bad list parameters or filters", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(404, "No such doctor", error)
    @login_required
    def get(self, doctor_id: int):
        """List the schedules of a doctor."""
        params = query_list_params(SCHEDULE_SORTABLE)
        filters = schedule_service.ScheduleFilters(
            **schedule_filter_values(request.args, parent="doctor_id"))
        page = schedule_service.list_doctor_schedules(doctor_id, params, filters)
        return page.envelope(schedule_to_dict)
