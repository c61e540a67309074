"""/users/: sign-up, login, tokens, the own account, and the admin's user management."""
from __future__ import annotations

from flask_restx import Resource

from app.errors import Forbidden, Unauthorized
from app.identity.auth import (
    VERSION_CLAIM,
    admin_required,
    current_actor,
    current_user,
    login_required,
    refresh_required,
    token_claims,
)
from app.identity.tokens import FAMILY_CLAIM, mint_pair
from app.namespaces.users import ns
from app.schemas.common import error_model, list_model, list_params_doc, search_model
from app.schemas.users import (
    ADMIN_CHANGE,
    CHANGE_OWN_PASSWORD,
    CHANGE_PASSWORD,
    LOGIN,
    USER_ADMIN_UPDATE,
    USER_CREATE,
    USER_SORTABLE,
    USER_UPDATE,
    register_models,
    user_to_dict,
)
from app.services import sessions
from app.services import users as service
from app.validation import validate
from app.web.ratelimit import login_limit, register_limit
from app.web.requests import json_body, no_content, query_list_params, search_list_params

m = register_models(ns)
error = error_model(ns)
user_list = list_model(ns, "UserList", m["user"])
user_search = search_model(ns, "UserSearch", USER_SORTABLE)


def tokens_for(user) -> dict:
    """A fresh access/refresh token pair (a new refresh family) plus the user."""
    pair = mint_pair(user)
    sessions.record_refresh_token(user.id, pair.refresh_jti, pair.family,
                                  pair.refresh_expires_at)
    return {"access_token": pair.access_token, "refresh_token": pair.refresh_token,
            "user": user_to_dict(user)}


def self_or_admin(user_id: int) -> None:
    """404 for an unknown user; 403 when a non-admin names another user."""
    service.get_user(user_id)
    actor = current_actor()
    if actor.id != user_id and not actor.is_admin:
        raise Forbidden("You may only act on your own account", "not_self")


@ns.route("/register")
class UserRegister(Resource):
    @ns.doc(security=[])
    @ns.expect(m["create"])
    @ns.response(201, "Created", m["user"])
    @ns.response(400, "Invalid input", error)
    @ns.response(409, "Username or phone number taken", error)
    @ns.response(413, "Body too large", error)
    @ns.response(429, "Rate limited", error)
    @register_limit
    def post(self):
        """Register a new user account."""
        data = validate(USER_CREATE, json_body())
        user = service.create_user(**data)
        return user_to_dict(user), 201


@ns.route("/login")
class UserLogin(Resource):
    @ns.doc(security=[])
    @ns.expect(m["login"])
    @ns.response(200, "Logged in", m["tokens"])
    @ns.response(400, "Invalid input", error)
    @ns.response(401, "Wrong username or password", error)
    @ns.response(413, "Body too large", error)
    @ns.response(429, "Too many failed attempts", error)
    @login_limit
    def post(self):
        """Log in and receive an access and a refresh token."""
        data = validate(LOGIN, json_body())
        user = service.authenticate(data["username"], data["password"])
        return tokens_for(user)


@ns.route("/refresh")
class UserRefresh(Resource):
    @ns.response(200, "A new access token and the refresh token that replaces this one",
                 m["access"])
    @ns.response(401, "Missing, expired, revoked, already used or wrong-type token", error)
    @refresh_required
    def post(self):
        """Exchange a refresh token (spent by this) for a new access and refresh token."""
        claims = token_claims()
        family = claims.get(FAMILY_CLAIM)
        if not isinstance(family, str):
            raise Unauthorized("This refresh token predates rotation; log in again",
                               "invalid_token")
        user = current_user()
        pair = mint_pair(user, family)
        sessions.rotate_refresh_token(user.id, claims.get(VERSION_CLAIM), claims["jti"],
                                      pair.refresh_jti, pair.refresh_expires_at)
        return {"access_token": pair.access_token, "refresh_token": pair.refresh_token}


@ns.route("/logout")
class UserLogout(Resource):
    @ns.response(204, "Logged out; every earlier token is revoked")
    @ns.response(401, "Missing or invalid token", error)
    @login_required
    def post(self):
        """Revoke every token issued to the caller."""
        service.logout(current_actor().id)
        return no_content()


@ns.route("/me")
class UserMe(Resource):
    @ns.response(200, "The caller", m["user"])
    @ns.response(401, "Missing or invalid token", error)
    @login_required
    def get(self):
        """Get the current user's information."""
        return user_to_dict(service.get_user(current_actor().id))

    @ns.expect(m["self_update"])
    @ns.response(200, "Updated", m["user"])
    @ns.response(400, "Invalid input", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(409, "Username or phone number taken", error)
    @ns.response(413, "Body too large", error)
    @login_required
    def put(self):
        """Update the current user's information."""
        changes = validate(USER_UPDATE, json_body(), partial=True)
        return user_to_dict(service.update_user(current_actor().id, changes))

    @ns.response(204, "Deleted with its patients and registrations")
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(409, "The last administrator cannot be deleted", error)
    @login_required
    def delete(self):
        """Delete the current user."""
        service.delete_user(current_actor().id)
        return no_content()


@ns.route("/me/change_password")
class UserMeChangePassword(Resource):
    @ns.expect(m["change_own_password"])
    @ns.response(200, "Changed; earlier tokens stop working", m["user"])
    @ns.response(400, "Invalid input or wrong old password", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(413, "Body too large", error)
    @login_required
    def post(self):
        """Change the current user's password."""
        data = validate(CHANGE_OWN_PASSWORD, json_body())
        actor = current_actor()
        user = service.change_password(actor, actor.id, data["new_password"],
                                       data["old_password"])
        return user_to_dict(user)


@ns.route("/")
class UserList(Resource):
    @ns.doc(params=list_params_doc(USER_SORTABLE))
    @ns.response(200, "Users", user_list)
    @ns.response(400, "Bad list parameters", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @admin_required
    def get(self):
        """List all users (admin only)."""
        page = service.list_users(query_list_params(USER_SORTABLE))
        return page.envelope(user_to_dict)

    @ns.expect(m["create"])
    @ns.response(201, "Created an admin user", m["user"])
    @ns.response(400, "Invalid input", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @ns.response(409, "Username or phone number taken", error)
    @ns.response(413, "Body too large", error)
    @admin_required
    def post(self):
        """Create a new admin user (admin only)."""
        data = validate(USER_CREATE, json_body())
        return user_to_dict(service.create_user(**data, is_admin=True)), 201


@ns.route("/search")
class UserSearch(Resource):
    @ns.expect(user_search)
    @ns.response(200, "Matching users", user_list)
    @ns.response(400, "Bad search body", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @ns.response(413, "Body too large", error)
    @admin_required
    def post(self):
        """Search users by username or phone number (admin only)."""
        page = service.search_users(search_list_params(USER_SORTABLE))
        return page.envelope(user_to_dict)


def _admin_change(action):
    data = validate(ADMIN_CHANGE, json_body())
    return user_to_dict(action(current_actor(), data["user_id"], data["admin_password"]))


@ns.route("/grant_admin")
class UserGrantAdmin(Resource):
    @ns.expect(m["admin_change"])
    @ns.response(200, "Granted", m["user"])
    @ns.response(400, "Invalid input", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only, or wrong admin_password", error)
    @ns.response(404, "No such user", error)
    @ns.response(413, "Body too large", error)
    @admin_required
    def post(self):
        """Grant admin privileges to a user (admin only)."""
        return _admin_change(service.grant_admin)


@ns.route("/revoke_admin")
class UserRevokeAdmin(Resource):
    @ns.expect(m["admin_change"])
    @ns.response(200, "Revoked", m["user"])
    @ns.response(400, "Invalid input", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only, or wrong admin_password", error)
    @ns.response(404, "No such user", error)
    @ns.response(409, "The last administrator", error)
    @ns.response(413, "Body too large", error)
    @admin_required
    def post(self):
        """Revoke admin privileges from a user (admin only)."""
        return _admin_change(service.revoke_admin)


@ns.route("/<int:user_id>")
@ns.param("user_id", "The user identifier")
class UserItem(Resource):
    @ns.response(200, "The user", m["user"])
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @ns.response(404, "No such user", error)
    @admin_required
    def get(self, user_id: int):
        """Fetch a user given its identifier (admin only)."""
        return user_to_dict(service.get_user(user_id))

    @ns.expect(m["update"])
    @ns.response(200, "Updated", m["user"])
    @ns.response(400, "Invalid input", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @ns.response(404, "No such user, or no such doctor (doctor_id)", error)
    @ns.response(409, "Username or phone number taken, or the doctor is linked to another "
                      "account", error)
    @ns.response(413, "Body too large", error)
    @admin_required
    def put(self, user_id: int):
        """Update a user given its identifier; doctor_id links or unlinks a doctor (admin only)."""
        changes = validate(USER_ADMIN_UPDATE, json_body(), partial=True)
        return user_to_dict(service.update_user(user_id, changes))

    @ns.response(204, "Deleted with its patients and registrations")
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @ns.response(404, "No such user", error)
    @ns.response(409, "The last administrator", error)
    @admin_required
    def delete(self, user_id: int):
        """Delete a user given its identifier (admin only)."""
        service.delete_user(user_id)
        return no_content()


@ns.route("/<int:user_id>/change_password")
@ns.param("user_id", "The user identifier")
class UserChangePassword(Resource):
    @ns.expect(m["change_password"])
    @ns.response(200, "Changed; the user's earlier tokens stop working", m["user"])
    @ns.response(400, "Invalid input or wrong old password", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Only the user or an admin", error)
    @ns.response(404, "No such user", error)
    @ns.response(413, "Body too large", error)
    @login_required
    def post(self, user_id: int):
        """Change a user's password (the user, or an admin)."""
        self_or_admin(user_id)
        data = validate(CHANGE_PASSWORD, json_body())
        user = service.change_password(current_actor(), user_id, data["new_password"],
                                       data.get("old_password"))
        return user_to_dict(user)
