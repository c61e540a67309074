"""Domain exceptions and the one place that turns any exception into the error shape.

Every error body is ``{"message": ..., "code": ..., "errors"?: {...}}`` (contract §1).
"""
from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, g, has_request_context, jsonify, request
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt.exceptions import ExpiredSignatureError, PyJWTError
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """Base of the domain exceptions; carries the HTTP status and a stable code."""

    status = 500
    code = "internal_error"

    def __init__(
        self,
        message: str,
        code: str | None = None,
        errors: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.errors = errors
        self.headers = headers or {}
        # Values that travel as top-level keys beside message and code (e.g. release_at).
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        """The JSON body of this error."""
        return {**self.extra, **error_body(self.message, self.code, self.errors)}


class ValidationFailed(ApiError):
    """400: the input is malformed or breaks a field rule."""

    status = 400
    code = "validation_error"


class InvalidText(ValidationFailed, ValueError):
    """400: input text holds a lone UTF-16 surrogate (e.g. the JSON escape \\ud800).

    It is no character, so it can be neither stored nor sent back in UTF-8. A ValueError
    too, so that parsers asked to be silent (request.get_json(silent=True)) give None.
    """

    code = "invalid_text"


class Unauthorized(ApiError):
    """401: no valid credentials."""

    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    """403: authenticated but not allowed."""

    status = 403
    code = "forbidden"


class NotFound(ApiError):
    """404: no such resource, or not one the caller may see."""

    status = 404
    code = "not_found"


class Conflict(ApiError):
    """409: the request conflicts with the current state."""

    status = 409
    code = "conflict"


class UnsupportedMediaType(ApiError):
    """415: a body that is not declared as JSON in UTF-8."""

    status = 415
    code = "unsupported_media_type"


class ServiceUnavailable(ApiError):
    """503: a dependency (the database) is unavailable."""

    status = 503
    code = "service_unavailable"


def error_body(message: str, code: str, errors: dict[str, str] | None = None) -> dict[str, Any]:
    """Build the contract's error shape, with the request id when there is one."""
    body: dict[str, Any] = {"message": message, "code": code}
    if errors:
        body["errors"] = errors
    request_id = g.get("request_id") if g else None
    if request_id:
        body["request_id"] = request_id
    return body


# Constraint name -> (status, code, message, field). Services check first for a friendly
# message; this table answers when a concurrent writer got there between check and write.
CONSTRAINT_ERRORS: dict[str, tuple[int, str, str, str | None]] = {
    "uq_users_username_lower": (409, "duplicate_username", "Username is already taken", "username"),
    "uq_users_phone_number": (409, "duplicate_phone_number", "Phone number is already registered",
                              "phone_number"),
    "uq_users_doctor_id": (409, "doctor_already_linked", "Doctor is linked to another account",
                           "doctor_id"),
    "uq_departments_name": (409, "duplicate_name", "Department name already exists", "name"),
    "uq_doctors_phone_number": (409, "duplicate_phone_number",
                                "A doctor with this phone number already exists", "phone_number"),
    "pk_affiliations": (409, "affiliation_exists", "Affiliation already exists", None),
    "uq_patients_user_id_name_birthday": (
        409, "duplicate_patient", "This account already has a patient with that name and birthday",
        "name"),
    "uq_patients_user_id_person_id": (
        409, "duplicate_id_number", "This account already has a patient with that ID number",
        "id_number"),
    "uq_registrations_active_patient_schedule": (
        409, "duplicate_registration",
        "The patient already has an active registration on this schedule", "patient_id"),
    "ck_schedules_capacity": (409, "schedule_full", "Schedule is full", "schedule_id"),
    "ck_schedule_slots_capacity": (409, "slot_full", "The time slot is full", "slot_id"),
    "ck_schedules_slots_unbooked": (
        409, "schedule_has_bookings",
        "The schedule holds active registrations; its times and slots cannot change",
        "slot_minutes"),
    "ex_schedules_doctor_overlap": (409, "schedule_overlap",
                                    "The doctor already has a schedule overlapping this time",
                                    "start_time"),
    "ck_schedules_time_order": (400, "validation_error", "start_time must be before end_time",
                                "start_time"),
}


def integrity_to_api_error(exc: IntegrityError,
                           meanings: dict[str, ApiError] | None = None) -> ApiError:
    """Translate a constraint violation into the domain error it stands for.

    `meanings` gives a constraint another meaning in one operation's context (a slot's
    capacity CHECK refusing a schedule edit means "below booked", not "slot full").
    """
    diag = getattr(exc.orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    pgcode = getattr(exc.orig, "pgcode", None)
    if meanings and name in meanings:
        return meanings[name]
    if name in CONSTRAINT_ERRORS:
        status, code, message, field = CONSTRAINT_ERRORS[name]
        errors = {field: message} if field else None
        cls = ValidationFailed if status == 400 else Conflict
        return cls(message, code, errors)
    if pgcode == "23503":  # foreign_key_violation: a referenced row is gone
        return NotFound("A referenced resource does not exist", "not_found")
    log.warning("Unmapped integrity error on constraint %s: %s", name, pgcode)
    return Conflict("The request conflicts with the current state", "conflict")


def _dbapi_to_api_error(exc: DBAPIError) -> ApiError | None:
    pgcode = getattr(exc.orig, "pgcode", None)
    if pgcode in {"40001", "40P01", "55P03"}:  # serialization failure, deadlock, lock timeout
        return Conflict("A concurrent change got in the way; please retry", "retry_conflict")
    if pgcode == "57014":  # statement timeout
        return ServiceUnavailable("The database took too long to answer", "database_timeout",
                                  headers={"Retry-After": "1"})
    if pgcode and pgcode.startswith("22"):  # data exception: a value out of range for its column
        return ValidationFailed("A value is out of range", "invalid_value")
    if isinstance(exc, OperationalError) or exc.connection_invalidated or pgcode is None:
        return ServiceUnavailable("The database is unavailable", "database_unavailable",
                                  headers={"Retry-After": "5"})
    return None


HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def _respond(body: dict[str, Any], status: int, headers: dict[str, str] | None = None):
    response = jsonify(body)
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def to_response_parts(exc: BaseException) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Map any exception to (body, status, headers) in the contract's shape.

    Every 401 carries the Bearer challenge (RFC 6750, RFC 9110 section 11.6.1).
    """
    body, status, headers = _response_parts(exc)
    if status == 401:
        headers = {**headers, "WWW-Authenticate": bearer_challenge(body["code"])}
    return body, status, headers


def bearer_challenge(code: str) -> str:
    """`Bearer error="invalid_token"` when a token was sent and refused, else `Bearer`.

    A request without credentials gets no error code (RFC 6750 section 3.1), and neither does
    a wrong password at login, which is not a token problem.
    """
    sent = has_request_context() and bool(request.headers.get("Authorization"))
    if not sent or code == "invalid_credentials":
        return "Bearer"
    return 'Bearer error="invalid_token"'


def _response_parts(exc: BaseException) -> tuple[dict[str, Any], int, dict[str, str]]:
    if isinstance(exc, ApiError):
        return exc.body(), exc.status, exc.headers
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        code = HTTP_CODES.get(status, HTTPStatus(status).phrase.lower().replace(" ", "_"))
        message = HTTPStatus(status).phrase
        if status == 405:
            message = "Method not allowed on this URL"
        elif status == 404:
            message = "No such URL"
        elif status == 413:
            message = "Request body is too large"
        headers = {}
        if status == 405 and getattr(exc, "valid_methods", None):
            headers["Allow"] = ", ".join(exc.valid_methods)
        if status == 429:
            retry = exc.get_response().headers.get("Retry-After")
            if retry:
                headers["Retry-After"] = retry
            message = "Too many requests; slow down"
        return error_body(message, code), status, headers
    if isinstance(exc, ExpiredSignatureError):
        return error_body("Token has expired", "token_expired"), 401, {}
    if isinstance(exc, (JWTExtendedException, PyJWTError)):
        # Tokens are checked by app/identity/tokens.py, which raises Unauthorized itself;
        # this is the backstop for anything else in the JWT libraries.
        return error_body("Invalid token", "invalid_token"), 401, {}
    if isinstance(exc, IntegrityError):
        api_error = integrity_to_api_error(exc)
        return api_error.body(), api_error.status, api_error.headers
    if isinstance(exc, DBAPIError):
        api_error = _dbapi_to_api_error(exc)
        if api_error is not None:
            if api_error.status >= 500:
                log.error("Database error: %s", exc.__class__.__name__)
            return api_error.body(), api_error.status, api_error.headers
    log.exception("Unhandled exception", exc_info=exc)
    return error_body("Internal server error", "internal_error"), 500, {}


def handle_exception(exc: BaseException):
    """Flask/restx error handler: the response for any exception."""
    _rollback_quietly()
    body, status, headers = to_response_parts(exc)
    if isinstance(exc, HTTPException):
        # restx uses an exception's .data as the body when present (STYLE trap 2).
        exc.data = body
    return _respond(body, status, headers)


def restx_handler(exc: BaseException):
    """flask-restx handler: returns (body, status, headers) for Api.handle_error."""
    _rollback_quietly()
    body, status, headers = to_response_parts(exc)
    if isinstance(exc, HTTPException):
        exc.data = body
    return body, status, headers


def _rollback_quietly() -> None:
    from app.extensions import db

    if not db.session.registry.has():
        return  # no session was opened for this request (a refused booking): nothing to undo
    try:
        db.session.rollback()
    except Exception:  # the connection may be the thing that failed
        log.debug("rollback after error failed", exc_info=True)


def register_error_handlers(app: Flask, api) -> None:
    """Route every exception, inside and outside the Api, to the error shape."""
    # Most specific first, Exception last: restx picks the first match (STYLE trap 4).
    for exc_type in (ApiError, JWTExtendedException, PyJWTError, IntegrityError, DBAPIError,
                     HTTPException, Exception):
        api.errorhandler(exc_type)(restx_handler)
        app.register_error_handler(exc_type, handle_exception)
