"""/users/{id}/patients[/search] and /users/{id}/registrations[/search]."""
from __future__ import annotations

from flask_restx import Resource

from app.identity.auth import login_required
from app.namespaces.users import ns
from app.namespaces.users.accounts import self_or_admin
from app.schemas.common import error_model, list_params_doc
from app.schemas.patients import PATIENT_SORTABLE, patient_models, patient_to_dict
from app.schemas.registrations import (
    REGISTRATION_SORTABLE,
    registration_models,
    registration_to_dict,
)
from app.services import patients as patient_service
from app.services import registrations as registration_service
from app.web.requests import query_list_params, search_list_params

patient_m = patient_models(ns)
registration_m = registration_models(ns)
error = error_model(ns)


@ns.route("/<int:user_id>/patients")
@ns.param("user_id", "The user identifier")
class UserPatients(Resource):
    @ns.doc(params=list_params_doc(PATIENT_SORTABLE))
    @ns.response(200, "The user's patients", patient_m["list"])
    @ns.response(400, "Bad list parameters", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Only the user or an admin", error)
    @ns.response(404, "No such user", error)
    @login_required
    def get(self, user_id: int):
        """List a user's patients (the user, or an admin)."""
        self_or_admin(user_id)
        page = patient_service.list_user_patients(user_id, query_list_params(PATIENT_SORTABLE))
        return page.envelope(patient_to_dict)


@ns.route("/<int:user_id>/patients/search")
@ns.param("user_id", "The user identifier")
class UserPatientSearch(Resource):
    @ns.expect(patient_m["search"])
    @ns.response(200, "The user's matching patients", patient_m["list"])
    @ns.response(400, "Bad search body", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Only the user or an admin", error)
    @ns.response(404, "No such user", error)
    @ns.response(413, "Body too large", error)
    @login_required
    def post(self, user_id: int):
        """Search a user's patients by name or phone number (the user, or an admin)."""
        self_or_admin(user_id)
        page = patient_service.search_user_patients(user_id,
                                                    search_list_params(PATIENT_SORTABLE))
        return page.envelope(patient_to_dict)


@ns.route("/<int:user_id>/registrations")
@ns.param("user_id", "The user identifier")
class UserRegistrations(Resource):
    @ns.doc(params=list_params_doc(REGISTRATION_SORTABLE))
    @ns.response(200, "Registrations of the user's patients", registration_m["list"])
    @ns.response(400, "Bad list parameters", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Only the user or an admin", error)
    @ns.response(404, "No such user", error)
    @login_required
    def get(self, user_id: int):
        """List the registrations of a user's patients (the user, or an admin)."""
        self_or_admin(user_id)
        page = registration_service.list_user_registrations(
            user_id, query_list_params(REGISTRATION_SORTABLE))
        return page.envelope(registration_to_dict)


@ns.route("/<int:user_id>/registrations/search")
@ns.param("user_id", "The user identifier")
class UserRegistrationSearch(Resource):
    @ns.expect(registration_m["search"])
    @ns.response(200, "Matching registrations of the user's patients", registration_m["list"])
    @ns.response(400, "Bad search body", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Only the user or an admin", error)
    @ns.response(404, "No such user", error)
    @ns.response(413, "Body too large", error)
    @login_required
    def post(self, user_id: int):
        """Search the registrations of a user's patients (the user, or an admin)."""
        self_or_admin(user_id)
        page = registration_service.search_user_registrations(
            user_id, search_list_params(REGISTRATION_SORTABLE))
        return page.envelope(registration_to_dict)
