"""The flask-restx Api object: Swagger at / and the Bearer "Authorize" button."""
from flask_restx import Api

AUTHORIZATIONS = {
    "Bearer": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "Paste `Bearer <access_token>` from POST /users/login.",
    }
}


def make_api() -> Api:
    """A new Api per app (tests build several apps; an Api binds to one)."""
    return Api(
        title="Hospital Registration API",
        version="1.0",
        description=(
            "医院挂号管理系统 — accounts, patients, departments, doctors, schedules and "
            "registrations. Errors always look like "
            '`{"message": ..., "code": ..., "errors"?: {...}}`.'
        ),
        doc="/",
        authorizations=AUTHORIZATIONS,
        security="Bearer",
        catch_all_404s=False,
        validate=False,
        ordered=True,
    )
