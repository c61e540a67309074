"""Refresh-token rotation: each refresh token is exchanged once; reuse revokes its family.

A login starts a family. Exchanging a refresh token spends it and records its successor in
the same family, in one transaction with the token's row locked, so two exchanges of one
token at once cannot both succeed. Presenting a spent token means it was copied: every token
of the family is revoked, the legitimate holder's current one included, and both parties
must log in again.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select, update

from app.errors import Unauthorized
from app.extensions import db
from app.models import RefreshToken, User
from app.services.common import commit


def record_refresh_token(user_id: int, jti: str, family: str, expires_at: dt.datetime) -> None:
    """Remember a refresh token issued at login (the first of its family)."""
    db.session.add(RefreshToken(jti=jti, family=family, user_id=user_id, expires_at=expires_at))
    commit()


def rotate_refresh_token(user_id: int, token_version: int | None, jti: str, new_jti: str,
                         new_expires_at: dt.datetime) -> None:
    """Spend refresh token `jti` and record `new_jti` in its family, or refuse with 401."""
    token = db.session.execute(
        select(RefreshToken).where(RefreshToken.jti == jti).with_for_update()
    ).scalar_one_or_none()
    current_version = db.session.scalar(select(User.token_version).where(User.id == user_id))
    if token is None or token.user_id != user_id:
        db.session.rollback()
        raise Unauthorized("Unknown refresh token; log in again", "invalid_token")
    if current_version is None or current_version != token_version:
        db.session.rollback()
        raise Unauthorized("Token has been revoked", "invalid_token")
    if token.revoked_at is not None:
        db.session.rollback()
        raise Unauthorized("Token has been revoked", "invalid_token")
    if token.spent_at is not None:
        db.session.execute(update(RefreshToken)
                           .where(RefreshToken.family == token.family,
                                  RefreshToken.revoked_at.is_(None))
                           .values(revoked_at=func.now()))
        commit()
        raise Unauthorized("This refresh token was already used; every token of its login "
                           "is revoked — log in again", "token_reused")
    token.spent_at = func.now()
    db.session.add(RefreshToken(jti=new_jti, family=token.family, user_id=user_id,
                                expires_at=new_expires_at))
    commit()


def purge_expired_refresh_tokens() -> int:
    """Delete refresh tokens past their expiry (they can no longer be presented)."""
    result = db.session.execute(delete(RefreshToken).where(RefreshToken.expires_at < func.now()))
    return result.rowcount
