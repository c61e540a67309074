"""Accounts: registration, login, profile, passwords and admin rights."""
from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import func, or_, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from app.errors import Conflict, Forbidden, Unauthorized, ValidationFailed
from app.extensions import db
from app.identity.actor import Actor
from app.models import Doctor, Patient, Registration, User
from app.services.common import commit, get_or_404, lock_schedules_of
from app.services.freed_places import serve_waitlists
from app.web.pagination import ListParams, Page, like_pattern, paginate

SORT_COLUMNS = {
    "id": (User.id,),
    "username": (User.username,),
    "created_at": (User.created_at,),
    "updated_at": (User.updated_at,),
}
# Verified against when the username is unknown, so both failures cost the same time.
_DUMMY_HASH: dict[str, str] = {}


def hash_password(password: str) -> str:
    """Hash with the configured method (scrypt outside the test suite)."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def _dummy_hash() -> str:
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _DUMMY_HASH:
        _DUMMY_HASH[method] = generate_password_hash("not-a-real-password", method=method)
    return _DUMMY_HASH[method]


def _same_username(username: str):
    # lower() on both sides in SQL: Python's str.lower() and PostgreSQL's differ outside
    # ASCII (e.g. "İ"), and the unique index is on PostgreSQL's.
    return func.lower(User.username) == func.lower(username)


def _check_unique(username: str | None, phone_number: str | None, exclude_id: int | None) -> None:
    errors: dict[str, str] = {}
    if username is not None:
        stmt = select(User.id).where(_same_username(username))
        if exclude_id is not None:
            stmt = stmt.where(User.id != exclude_id)
        if db.session.scalar(stmt.limit(1)) is not None:
            errors["username"] = "is already taken"
    if phone_number is not None:
        stmt = select(User.id).where(User.phone_number == phone_number)
        if exclude_id is not None:
            stmt = stmt.where(User.id != exclude_id)
        if db.session.scalar(stmt.limit(1)) is not None:
            errors["phone_number"] = "is already registered"
    if errors:
        code = "duplicate_username" if "username" in errors else "duplicate_phone_number"
        fields_text = " and ".join(errors)
        raise Conflict(f"A user with this {fields_text} already exists", code, errors)


def create_user(
    *, username: str, phone_number: str, password: str, bio: str | None = None,
    is_admin: bool = False,
) -> User:
    """Create an account (an admin one when is_admin)."""
    _check_unique(username, phone_number, None)
    user = User(username=username, phone_number=phone_number, bio=bio, is_admin=is_admin,
                password_hash=hash_password(password))
    db.session.add(user)
    commit()
    return user


def authenticate(username: str, password: str) -> User:
    """The user with this username and password; the same 401 for either being wrong."""
    user = db.session.scalar(select(User).where(_same_username(username)))
    if user is None:
        check_password_hash(_dummy_hash(), password)
        raise Unauthorized("Invalid username or password", "invalid_credentials")
    if not check_password_hash(user.password_hash, password):
        raise Unauthorized("Invalid username or password", "invalid_credentials")
    return user


def get_user(user_id: int) -> User:
    """A user by id, or 404."""
    return get_or_404(User, user_id, "User")


def update_user(user_id: int, changes: dict[str, Any]) -> User:
    """Apply username / phone_number / bio changes, and doctor_id (link or unlink) if given.

    Which keys a caller may send is the caller's business: PUT /users/me never passes
    doctor_id, PUT /users/{id} (admins) may.
    """
    user = get_user(user_id)
    _check_unique(changes.get("username"), changes.get("phone_number"), user.id)
    if "doctor_id" in changes:
        _check_doctor_link(changes["doctor_id"], user.id)
    for key in ("username", "phone_number", "bio", "doctor_id"):
        if key in changes:
            setattr(user, key, changes[key])
    commit()
    return user


def _check_doctor_link(doctor_id: int | None, user_id: int) -> None:
    """404 for an unknown doctor, 409 when another account already acts as that doctor."""
    if doctor_id is None:
        return
    get_or_404(Doctor, doctor_id, "Doctor")
    linked = db.session.scalar(
        select(User.id).where(User.doctor_id == doctor_id, User.id != user_id).limit(1))
    if linked is not None:
        # The unique constraint uq_users_doctor_id gives the same answer under a race.
        raise Conflict(f"Doctor {doctor_id} is linked to another account",
                       "doctor_already_linked", {"doctor_id": "is linked to another account"})


def _lock_admin_ids() -> list[int]:
    """Lock every admin row so that 'last admin' checks cannot race each other."""
    return list(db.session.scalars(
        select(User.id).where(User.is_admin.is_(True)).order_by(User.id).with_for_update()
    ))


def _ensure_not_last_admin(user: User, action: str) -> None:
    if not user.is_admin:
        return
    admin_ids = _lock_admin_ids()
    if admin_ids == [user.id]:
        db.session.rollback()
        raise Conflict(f"Cannot {action} the last administrator", "last_admin")


def delete_user(user_id: int) -> None:
    """Delete an account with its patients and registrations (not the last admin)."""
    user = get_user(user_id)
    _ensure_not_last_admin(user, "delete")
    freed = lock_schedules_of(Registration.patient_id.in_(
        select(Patient.id).where(Patient.user_id == user.id)))
    db.session.delete(user)
    serve_waitlists(freed)
    commit()


def _bump_token_version(user_id: int) -> None:
    db.session.execute(
        update(User).where(User.id == user_id).values(token_version=User.token_version + 1)
    )


def change_password(
    actor: Actor, user_id: int, new_password: str, old_password: str | None
) -> User:
    """Set a new password; acting on oneself needs the old one. Earlier tokens stop working."""
    user = get_user(user_id)
    if actor.id == user.id:
        if old_password is None:
            raise ValidationFailed("old_password is required to change your own password",
                                   errors={"old_password": "is required"})
        if not check_password_hash(user.password_hash, old_password):
            raise ValidationFailed("old_password is wrong", "wrong_password",
                                   {"old_password": "is wrong"})
    user.password_hash = hash_password(new_password)
    _bump_token_version(user.id)
    commit()
    db.session.refresh(user)
    return user


def logout(user_id: int) -> None:
    """Revoke every token issued to this user so far."""
    _bump_token_version(user_id)
    commit()


def _step_up(actor: Actor, admin_password: str) -> None:
    acting = get_user(actor.id)
    if not check_password_hash(acting.password_hash, admin_password):
        raise Forbidden("admin_password is wrong", "wrong_admin_password",
                        {"admin_password": "is wrong"})


def grant_admin(actor: Actor, user_id: int, admin_password: str) -> User:
    """Make a user an admin (after re-checking the acting admin's password)."""
    _step_up(actor, admin_password)
    user = get_user(user_id)
    user.is_admin = True
    commit()
    return user


def revoke_admin(actor: Actor, user_id: int, admin_password: str) -> User:
    """Take admin rights away; the last admin keeps them (409)."""
    _step_up(actor, admin_password)
    user = get_user(user_id)
    _ensure_not_last_admin(user, "revoke")
    user.is_admin = False
    commit()
    return user


def list_users(params: ListParams) -> Page:
    """All users, paged."""
    return paginate(db.session, select(User), params, SORT_COLUMNS, (User.id,))


def search_users(params: ListParams) -> Page:
    """Users whose username or phone number contains the query."""
    pattern = like_pattern(params.query or "")
    stmt = select(User).where(or_(User.username.ilike(pattern), User.phone_number.ilike(pattern)))
    return paginate(db.session, stmt, params, SORT_COLUMNS, (User.id,))
