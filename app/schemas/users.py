"""Users: input specs, Swagger models and the serializer."""
from __future__ import annotations

from typing import Any

from flask_restx import Namespace, fields

from app.models import User
from app.schemas.common import PHONE_HINT, PHONE_PATTERN, iso, nullable
from app.validation import Field, restx_model

USER_SORTABLE = ("id", "username", "created_at", "updated_at")
USERNAME_PATTERN = r"[\w.\-]{3,64}"
PASSWORD_MIN, PASSWORD_MAX = 8, 128

USERNAME = Field(required=True, min_length=3, max_length=64, pattern=USERNAME_PATTERN,
                 pattern_hint="must be 3-64 letters, digits or _ . -", example="zhang_san")
PHONE = Field(required=True, pattern=PHONE_PATTERN, pattern_hint=PHONE_HINT,
              example="+86 138 0013 8000")
PASSWORD = Field(required=True, min_length=PASSWORD_MIN, max_length=PASSWORD_MAX, strip=False,
                 description="At least 8 characters", example="correct-horse-battery")
BIO = Field(nullable=True, max_length=2000, strip=False, description="At most 2000 characters")

USER_CREATE = {"username": USERNAME, "phone_number": PHONE, "password": PASSWORD, "bio": BIO}
USER_UPDATE = {"username": USERNAME, "phone_number": PHONE, "bio": BIO}
# PUT /users/{id} (admins): the profile plus the doctor link; PUT /users/me ignores the link.
USER_ADMIN_UPDATE = {
    **USER_UPDATE,
    "doctor_id": Field(kind="integer", nullable=True, minimum=1, maximum=2**31 - 1,
                       description="Admins only (PUT /users/{id}): link the account to this "
                                   "doctor (doctor role), or null to unlink; ignored in PUT "
                                   "/users/me"),
}
LOGIN = {
    "username": Field(required=True, min_length=1, max_length=64),
    "password": Field(required=True, min_length=1, max_length=PASSWORD_MAX, strip=False),
}
CHANGE_OWN_PASSWORD = {
    "old_password": Field(required=True, min_length=1, max_length=PASSWORD_MAX, strip=False),
    "new_password": PASSWORD,
}
CHANGE_PASSWORD = {
    "new_password": PASSWORD,
    "old_password": Field(min_length=1, max_length=PASSWORD_MAX, strip=False,
                          description="Required when changing your own password"),
}
ADMIN_CHANGE = {
    # No maximum: an id no user can have is a 404 like any other unknown id (contract §1).
    "user_id": Field(kind="integer", required=True, minimum=1),
    "admin_password": Field(required=True, min_length=1, max_length=PASSWORD_MAX, strip=False,
                            description="The acting admin's own password (step-up check)"),
}


def user_to_dict(user: User) -> dict[str, Any]:
    """A User as the API shows it: never the password or its hash."""
    return {
        "id": user.id,
        "is_admin": user.is_admin,
        "username": user.username,
        "phone_number": user.phone_number,
        "bio": user.bio,
        "doctor_id": user.doctor_id,
        "created_at": iso(user.created_at),
        "updated_at": iso(user.updated_at),
    }


def register_models(ns: Namespace) -> dict[str, Any]:
    """Swagger models of the users namespace."""
    user = ns.model("User", {
        "id": fields.Integer(readonly=True),
        "is_admin": fields.Boolean(readonly=True),
        "username": fields.String(),
        "phone_number": fields.String(),
        "bio": nullable(fields.String()),
        "doctor_id": nullable(fields.Integer(readonly=True,
                                             description="Linked doctor (doctor role)")),
        "created_at": fields.DateTime(readonly=True),
        "updated_at": fields.DateTime(readonly=True),
    })
    return {
        "user": user,
        "create": restx_model(ns, "UserCreate", USER_CREATE),
        "update": restx_model(ns, "UserUpdate", USER_ADMIN_UPDATE, partial=True),
        "self_update": restx_model(ns, "UserSelfUpdate", USER_UPDATE, partial=True),
        "login": restx_model(ns, "Login", LOGIN),
        "tokens": ns.model("LoginResult", {
            "access_token": fields.String(required=True),
            "refresh_token": fields.String(required=True),
            "user": fields.Nested(user, required=True),
        }),
        "access": ns.model("RefreshedTokens", {
            "access_token": fields.String(required=True),
            "refresh_token": fields.String(
                required=True, description="Replaces the refresh token just used, which is "
                "spent: presenting it again revokes every token of its login"),
        }),
        "change_own_password": restx_model(ns, "ChangeOwnPassword", CHANGE_OWN_PASSWORD),
        "change_password": restx_model(ns, "ChangePassword", CHANGE_PASSWORD),
        "admin_change": restx_model(ns, "AdminChange", ADMIN_CHANGE),
    }
