"""schemathesis hooks for .ci/fuzz (loaded through .ci/schemathesis.toml).

1. A few rules compare a field with another field, with the clock or with a stored password,
   which a Swagger 2.0 schema cannot state. A schema-valid request that breaks one of them is
   answered 400 with a specific error; positive_data_acceptance would count that as a valid
   request rejected. Exactly these errors are let through; any other 400 to schema-valid data
   still fails the run.
2. Every GET documents If-None-Match, and `If-None-Match: *` gets a 304, which has no body and
   so no Content-Type; content_type_conformance would still ask for the documented one.
3. The run authenticates as one admin. Deleting that account (possible once the run has created
   other admins through POST /users/) would turn every later request into a 401, so a request
   to delete it is pointed at an id that does not exist instead.
"""
from __future__ import annotations

import json
import os

import schemathesis

FUTURE_BIRTHDAY = ("validation_error", "birthday", "must not be in the future")
TIME_RANGE = ("invalid_time_range", "end_time", "must be after start_time")
DATE_RANGE = ("validation_error", "date_to", "must not be before date_from")
# A resident ID number of the documented shape may still fail its check character, hold no
# real date, disagree with the birthday or gender, or be required by the booking policy.
ID_NUMBER = {("validation_error", "id_number", problem) for problem in (
    "has a wrong check character", "holds no real birth date", "does not match the birthday",
    "does not match the gender", "is required",
    "does not match the birthday; send id_number again with it",
    "does not match the gender; send id_number again with it",
    "can be replaced but not removed")}
WRONG_OLD_PASSWORD = ("wrong_password", "old_password", "is wrong")
# Operation -> the (code, field, problem) of its 400 answers to rules outside the schema.
RULES_OUTSIDE_THE_SCHEMA = {
    ("POST", "/patients/"): {FUTURE_BIRTHDAY, *ID_NUMBER},
    ("PUT", "/patients/{patient_id}"): {FUTURE_BIRTHDAY, *ID_NUMBER},
    ("POST", "/schedules/"): {TIME_RANGE},
    ("PUT", "/schedules/{schedule_id}"): {TIME_RANGE},
    ("GET", "/schedules/"): {DATE_RANGE},
    ("GET", "/doctors/{doctor_id}/schedules"): {DATE_RANGE},
    ("GET", "/departments/{department_id}/schedules"): {DATE_RANGE},
    ("GET", "/registrations/stats"): {("invalid_date_range", "date_from",
                                       "must not be after date_to")},
    # a slot_id must name a slot of the booked schedule (the API reference makes it a 400)
    ("POST", "/registrations/"): {("invalid_slot", "slot_id", "is not a slot of this schedule")},
    ("POST", "/users/me/change_password"): {WRONG_OLD_PASSWORD},
    # acting on oneself needs old_password, which the schema cannot make conditional
    ("POST", "/users/{user_id}/change_password"): {WRONG_OLD_PASSWORD,
                                                   ("validation_error", "old_password",
                                                    "is required")},
}
MISSING_USER_ID = 2**31 - 2
ADMIN_ID = os.environ.get("FUZZ_ADMIN_ID")
ACCEPTED_LOG = os.environ.get("FUZZ_ACCEPTED_LOG")


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    """Keep every failure except the kinds described in 1. and 2. above."""
    if failure.code == "ST104" and response.status_code == 304 and not response.content:
        # A 304 has no body, hence no Content-Type (RFC 9110 15.4.5).
        return _accepted(case, "304 without Content-Type")
    if failure.code != "ST202" or response.status_code != 400:
        return True
    try:
        body = json.loads(response.content)
    except ValueError:
        return True
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, dict) or len(errors) != 1:
        return True
    field, problem = next(iter(errors.items()))
    rules = RULES_OUTSIDE_THE_SCHEMA.get((case.method.upper(), case.operation.path), set())
    if (body.get("code"), field, problem) not in rules:
        return True
    return _accepted(case, f"400 {body.get('code')} {field} {problem}")


def _accepted(case, what: str) -> bool:
    """Note an accepted answer in FUZZ_ACCEPTED_LOG; False drops the failure."""
    if ACCEPTED_LOG:
        with open(ACCEPTED_LOG, "a", encoding="utf-8") as log:
            log.write(f"{case.method.upper()} {case.operation.path}: {what}\n")
    return False


@schemathesis.hook
def before_call(context, case, kwargs) -> None:
    """Never delete the admin account the run is authenticated as."""
    if (ADMIN_ID is not None and case.method.upper() == "DELETE"
            and case.operation.path == "/users/{user_id}"
            and str((case.path_parameters or {}).get("user_id")) == ADMIN_ID):
        case.path_parameters["user_id"] = MISSING_USER_ID
