"""Idempotency keys: a retried request with the same key gets the first response again.

A key is claimed by inserting its row in the same transaction as the work it protects. A
concurrent request with the same key waits on that row (primary key user_id, key) until
the first transaction ends: after a commit it finds the stored response, after a rollback
(the first attempt failed) it claims the key itself. So a failed attempt never poisons a key
and two simultaneous requests never both do the work.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert

from app.errors import Conflict
from app.extensions import db
from app.models import IdempotencyKey

KEY_TTL = dt.timedelta(hours=24)
keys = IdempotencyKey.__table__


@dataclass(frozen=True)
class StoredResponse:
    """The response first given to a request carrying an idempotency key."""

    status: int
    body: Any


def fingerprint(operation: str, payload: Mapping[str, Any]) -> str:
    """A stable hash of what a request asks for (its operation and cleaned input)."""
    canonical = json.dumps({"op": operation, "input": payload}, sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _this_key(user_id: int, key: str):
    return (keys.c.user_id == user_id) & (keys.c.key == key)


def claim_key(user_id: int, key: str, request_hash: str) -> StoredResponse | None:
    """Claim `key` for the current transaction, or return the response already stored for it.

    An entry older than KEY_TTL is taken over as if it did not exist. The same key with a
    different request is a 409.
    """
    stmt = insert(keys).values(user_id=user_id, key=key, request_hash=request_hash)
    stmt = stmt.on_conflict_do_update(
        index_elements=[keys.c.user_id, keys.c.key],
        set_={"request_hash": stmt.excluded.request_hash, "status_code": None,
              "response_body": None, "created_at": func.now()},
        where=keys.c.created_at < func.now() - KEY_TTL,
    ).returning(keys.c.user_id)
    if db.session.execute(stmt).first() is not None:
        return None
    # A live entry exists (committed: an uncommitted one made the insert wait).
    row = db.session.execute(
        select(keys.c.request_hash, keys.c.status_code, keys.c.response_body)
        .where(_this_key(user_id, key))
    ).one()
    if row.request_hash != request_hash:
        raise Conflict("This Idempotency-Key was already used with a different request",
                       "idempotency_key_reused",
                       {"Idempotency-Key": "already used with a different request"})
    if row.status_code is None:
        raise Conflict("A request with this Idempotency-Key is still being processed",
                       "idempotency_key_in_progress")
    return StoredResponse(status=row.status_code, body=row.response_body)


def store_response(user_id: int, key: str, status: int, body: Any) -> None:
    """Remember the response of the request that claimed `key` (committed with its work)."""
    db.session.execute(
        update(keys).where(_this_key(user_id, key)).values(status_code=status,
                                                            response_body=body)
    )


def purge_expired_keys() -> int:
    """Delete entries older than KEY_TTL; returns how many (the caller commits)."""
    result = db.session.execute(delete(keys).where(keys.c.created_at < func.now() - KEY_TTL))
    return result.rowcount or 0
