"""The patients namespace: an account's family members who can be registered."""
from __future__ import annotations

from flask_restx import Namespace, Resource

from app.identity.auth import admin_required, current_actor, login_required
from app.schemas.common import error_model, list_model, list_params_doc
from app.schemas.patients import (
    PARDON,
    PATIENT_CREATE,
    PATIENT_SORTABLE,
    PATIENT_UPDATE,
    credit_models,
    credit_to_dict,
    patient_to_dict,
    register_models,
)
from app.schemas.registrations import (
    REGISTRATION_SORTABLE,
    registration_models,
    registration_to_dict,
)
from app.schemas.waitlist import WAITLIST_SORTABLE, entry_to_dict
from app.schemas.waitlist import register_models as waitlist_models
from app.services import credit as credit_service
from app.services import patients as service
from app.services import registrations as registration_service
from app.services import waitlist as waitlist_service
from app.validation import validate
from app.web.requests import json_body, no_content, query_list_params, search_list_params

ns = Namespace("patients", description="Patient operations")
m = register_models(ns)
registration_list = registration_models(ns)["list"]
error = error_model(ns)


@ns.route("/")
class PatientList(Resource):
    @ns.doc(params=list_params_doc(PATIENT_SORTABLE))
    @ns.response(200, "Patients", m["list"])
    @ns.response(400, "Bad list parameters", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @admin_required
    def get(self):
        """List all patients (admin only; users list theirs via /users/{id}/patients)."""
        page = service.list_patients(query_list_params(PATIENT_SORTABLE))
        return page.envelope(patient_to_dict)

    @ns.expect(m["create"])
    @ns.response(201, "Created", m["patient"])
    @ns.response(400, "Invalid input", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "user_id names another account and the caller is not an admin", error)
    @ns.response(404, "No such user (admins giving user_id)", error)
    @ns.response(409, "The account already has a patient with this name and birthday "
                      "(duplicate_patient) or this ID number (duplicate_id_number)", error)
    @ns.response(413, "Body too large", error)
    @login_required
    def post(self):
        """Create a patient for the caller (admins: for any account via user_id)."""
        data = validate(PATIENT_CREATE, json_body())
        return patient_to_dict(service.create_patient(current_actor(), **data)), 201


@ns.route("/search")
class PatientSearch(Resource):
    @ns.expect(m["search"])
    @ns.response(200, "Matching patients", m["list"])
    @ns.response(400, "Bad search body", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @ns.response(413, "Body too large", error)
    @admin_required
    def post(self):
        """Search patients by name or phone number (admin only)."""
        page = service.search_patients(search_list_params(PATIENT_SORTABLE))
        return page.envelope(patient_to_dict)


@ns.route("/<int:patient_id>")
@ns.param("patient_id", "The patient identifier")
class PatientItem(Resource):
    @ns.response(200, "The patient", m["patient"])
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(404, "No such patient, or not the caller's", error)
    @login_required
    def get(self, patient_id: int):
        """Fetch a patient (owner, admin, or the doctor of one of its registrations)."""
        patient = service.get_patient(current_actor(), patient_id, for_reading=True)
        return patient_to_dict(patient)

    @ns.expect(m["update"])
    @ns.response(200, "Updated", m["patient"])
    @ns.response(400, "Invalid input", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "A doctor who sees the patient is not its owner", error)
    @ns.response(404, "No such patient, or not the caller's", error)
    @ns.response(409, "The account already has a patient with this name and birthday "
                      "(duplicate_patient) or this ID number (duplicate_id_number)", error)
    @ns.response(413, "Body too large", error)
    @login_required
    def put(self, patient_id: int):
        """Update a patient, partially (owner or admin; user_id is ignored)."""
        changes = validate(PATIENT_UPDATE, json_body(), partial=True)
        return patient_to_dict(service.update_patient(current_actor(), patient_id, changes))

    @ns.response(204, "Deleted with its registrations")
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "A doctor who sees the patient is not its owner", error)
    @ns.response(404, "No such patient, or not the caller's", error)
    @login_required
    def delete(self, patient_id: int):
        """Delete a patient and its registrations (owner or admin)."""
        service.delete_patient(current_actor(), patient_id)
        return no_content()


@ns.route("/<int:patient_id>/registrations")
@ns.param("patient_id", "The patient identifier")
class PatientRegistrations(Resource):
    @ns.doc(params=list_params_doc(REGISTRATION_SORTABLE))
    @ns.response(200, "The patient's registrations", registration_list)
    @ns.response(400, "Bad list parameters", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "A doctor who sees the patient is not its owner", error)
    @ns.response(404, "No such patient, or not the caller's", error)
    @login_required
    def get(self, patient_id: int):
        """List a patient's registrations (owner or admin)."""
        page = registration_service.list_patient_registrations(
            current_actor(), patient_id, query_list_params(REGISTRATION_SORTABLE))
        return page.envelope(registration_to_dict)


credit_m = credit_models(ns)


@ns.route("/<int:patient_id>/credit")
@ns.param("patient_id", "The patient identifier")
class PatientCredit(Resource):
    @ns.response(200, "The person's no-show credit", credit_m["credit"])
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "A doctor who sees the patient is not its owner", error)
    @ns.response(404, "No such patient, or not the caller's", error)
    @login_required
    def get(self, patient_id: int):
        """No-shows counting against the person (爽约) and any booking suspension."""
        return credit_to_dict(credit_service.patient_credit(current_actor(), patient_id))


@ns.route("/<int:patient_id>/credit/pardon")
@ns.param("patient_id", "The patient identifier")
class PatientCreditPardon(Resource):
    @ns.expect(credit_m["pardon"])
    @ns.response(200, "The credit after the pardon", credit_m["credit"])
    @ns.response(400, "No reason, or a reason over 500 characters", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @ns.response(404, "No such patient", error)
    @ns.response(413, "Body too large", error)
    @admin_required
    def post(self, patient_id: int):
        """Forgive the person's no-shows so far (admin only); they stay no_show."""
        data = validate(PARDON, json_body())
        return credit_to_dict(credit_service.pardon(current_actor(), patient_id,
                                                    data["reason"]))


waitlist_m = waitlist_models(ns)
waitlist_list = list_model(ns, "WaitlistEntryList", waitlist_m["entry"])


@ns.route("/<int:patient_id>/waitlist")
@ns.param("patient_id", "The patient identifier")
class PatientWaitlist(Resource):
    @ns.doc(params=list_params_doc(WAITLIST_SORTABLE))
    @ns.response(200, "The patient's waitlist entries", waitlist_list)
    @ns.response(400, "Bad list parameters", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "A doctor who sees the patient is not its owner", error)
    @ns.response(404, "No such patient, or not the caller's", error)
    @login_required
    def get(self, patient_id: int):
        """List a patient's waitlist entries (owner or admin)."""
        page = waitlist_service.list_patient_waitlist(current_actor(), patient_id,
                                                      query_list_params(WAITLIST_SORTABLE))
        return page.envelope(entry_to_dict)
