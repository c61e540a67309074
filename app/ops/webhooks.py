"""Webhooks: every event POSTed to WEBHOOK_URL, signed, at least once, in order per
registration, by one process at a time.

Each run of the job (every WEBHOOK_INTERVAL_SECONDS, in every process that runs jobs):

1. Queue: under the lock of the one webhook_cursor row, the events after the cursor and up
   to the feed's horizon (event_feed_horizon(): none can still commit below it) become
   webhook_deliveries rows; the cursor moves on. The first run starts from the newest
   event: history from before webhooks were configured is not sent.
2. Claim: in one statement, up to WEBHOOK_BATCH due deliveries whose event is the oldest
   undelivered one of its registration (order_key), not leased by anyone, taken with FOR
   UPDATE SKIP LOCKED and leased to this process for as long as the batch may take. Another
   process skips them, and skips every later event of those registrations.
3. Deliver: POST the event (compact JSON, sorted keys) with X-Signature: sha256=<hex
   HMAC-SHA256 of the body with WEBHOOK_SECRET>. A 2xx marks it delivered; anything else
   (an error status, a refused connection, a timeout) counts an attempt and schedules the
   next after WEBHOOK_BACKOFF_SECONDS x 2^(attempts - 1), at most
   WEBHOOK_BACKOFF_MAX_SECONDS. Until then the registration's later events wait.

A receiver sees an event twice only after a failure: its 2xx was lost (a timeout, a dropped
connection), or the process died after posting and before recording it, and the lease ran
out. Receivers therefore deduplicate by the event's id.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select, text

from app.extensions import db
from app.models import Event
from app.schemas.events import event_to_dict

log = logging.getLogger(__name__)
WEBHOOK_JOB = "webhooks"
USER_AGENT = "hospital-registration-webhooks/1"
FEED_WAIT_MS = 200

QUEUE_SQL = text("""
    INSERT INTO webhook_deliveries (event_id, order_key)
    SELECT e.id, COALESCE(e.registration_id, 0) FROM events AS e
     WHERE e.id > :last AND e.id <= :horizon
     ORDER BY e.id
""")
CLAIM_SQL = text("""
    UPDATE webhook_deliveries AS d
       SET leased_by = :worker, lease_until = now() + make_interval(secs => :lease)
     WHERE d.event_id IN (
            SELECT c.event_id FROM webhook_deliveries AS c
             WHERE c.delivered_at IS NULL AND c.next_attempt_at <= now()
               AND (c.lease_until IS NULL OR c.lease_until < now())
               AND NOT EXISTS (SELECT FROM webhook_deliveries AS e
                                WHERE e.order_key = c.order_key AND e.delivered_at IS NULL
                                  AND e.event_id < c.event_id)
             ORDER BY c.event_id
             LIMIT :batch
               FOR UPDATE SKIP LOCKED)
    RETURNING d.event_id
""")
DELIVERED_SQL = text("""
    UPDATE webhook_deliveries
       SET delivered_at = now(), attempts = attempts + 1, last_status = :status,
           last_error = NULL, leased_by = NULL, lease_until = NULL
     WHERE event_id = :event_id AND leased_by = :worker
""")
FAILED_SQL = text("""
    UPDATE webhook_deliveries
       SET attempts = attempts + 1, last_status = :status, last_error = :error,
           next_attempt_at = now() + make_interval(secs => LEAST(
               :base * power(2, attempts), :ceiling)),
           leased_by = NULL, lease_until = NULL
     WHERE event_id = :event_id AND leased_by = :worker
""")


def signature(secret: str, body: bytes) -> str:
    """The X-Signature header's value for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def event_body(event: Event) -> bytes:
    """What is POSTed: the event as the feed shows it, compact, keys sorted."""
    return json.dumps(event_to_dict(event), ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode()


def queue_new_events() -> int:
    """Move the events up to the feed's horizon into the delivery queue; how many."""
    last = db.session.scalar(text(
        "SELECT last_event_id FROM webhook_cursor WHERE id = 1 FOR UPDATE"))
    if last is None:
        db.session.execute(text(
            "INSERT INTO webhook_cursor (id, last_event_id)"
            " SELECT 1, COALESCE(max(id), 0) FROM events ON CONFLICT (id) DO NOTHING"))
        db.session.commit()
        return 0
    horizon = db.session.scalar(text("SELECT event_feed_horizon(:wait)"),
                                {"wait": FEED_WAIT_MS})
    queued = 0
    if horizon is not None and horizon > last:
        queued = db.session.execute(QUEUE_SQL, {"last": last, "horizon": horizon}).rowcount
        db.session.execute(text("UPDATE webhook_cursor SET last_event_id = :h WHERE id = 1"),
                           {"h": horizon})
    db.session.commit()
    return queued


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None,
                                                                                    str | None]:
    """(status, error): status None when no answer came; error None on a 2xx."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return response.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:  # refused, reset, timed out, bad URL
        return None, f"{type(exc).__name__}: {exc}"[:500]


def deliver_batch(worker: str) -> tuple[int, int]:
    """Claim and deliver one batch; (delivered, failed)."""
    config = current_app.config
    batch, timeout = config["WEBHOOK_BATCH"], config["WEBHOOK_TIMEOUT_SECONDS"]
    claimed = db.session.scalars(CLAIM_SQL, {
        "worker": worker, "lease": batch * (timeout + 1) + 30, "batch": batch}).all()
    db.session.commit()
    if not claimed:
        return 0, 0
    events = {e.id: e for e in db.session.scalars(select(Event).where(Event.id.in_(claimed)))}
    db.session.commit()
    delivered = failed = 0
    for event_id in sorted(claimed):
        body = event_body(events[event_id])
        status, error = _post(config["WEBHOOK_URL"], body, {
            "Content-Type": "application/json", "User-Agent": USER_AGENT,
            "X-Event-Id": str(event_id), "X-Event-Type": events[event_id].type,
            "X-Signature": signature(config["WEBHOOK_SECRET"] or "", body)}, timeout)
        if error is None:
            db.session.execute(DELIVERED_SQL, {"status": status, "event_id": event_id,
                                               "worker": worker})
            delivered += 1
        else:
            db.session.execute(FAILED_SQL, {
                "status": status, "error": error, "event_id": event_id, "worker": worker,
                "base": config["WEBHOOK_BACKOFF_SECONDS"],
                "ceiling": config["WEBHOOK_BACKOFF_MAX_SECONDS"]})
            failed += 1
        db.session.commit()
    return delivered, failed


def run_webhook_job(app: Flask, budget_seconds: float | None = None) -> dict[str, int] | None:
    """Queue new events and deliver what is due, for at most `budget_seconds`; None when no
    WEBHOOK_URL is set."""
    from app.ops.jobs import worker_name

    with app.app_context():
        config = app.config
        if not config.get("WEBHOOK_URL"):
            return None
        budget = config["WEBHOOK_INTERVAL_SECONDS"] if budget_seconds is None \
            else budget_seconds
        deadline = time.monotonic() + budget
        totals = {"queued": 0, "delivered": 0, "failed": 0}
        worker = worker_name()
        try:
            totals["queued"] = queue_new_events()
            while time.monotonic() < deadline:
                delivered, failed = deliver_batch(worker)
                totals["delivered"] += delivered
                totals["failed"] += failed
                if not delivered and not failed:
                    break
        except Exception:
            db.session.rollback()
            raise
        finally:
            db.session.remove()
    if totals["delivered"] or totals["failed"]:
        log.info("webhooks: queued %(queued)d, delivered %(delivered)d, failed %(failed)d",
                 totals)
    return totals


def webhook_status() -> dict[str, Any]:
    """What an admin sees of the deliveries (GET /events/webhook)."""
    row = db.session.execute(text("""
        SELECT count(*) FILTER (WHERE delivered_at IS NOT NULL) AS delivered,
               count(*) FILTER (WHERE delivered_at IS NULL) AS pending,
               count(*) FILTER (WHERE delivered_at IS NULL AND attempts > 0) AS failing,
               min(event_id) FILTER (WHERE delivered_at IS NULL) AS oldest_pending_event_id,
               max(next_attempt_at) FILTER (WHERE delivered_at IS NULL AND attempts > 0)
                   AS next_retry_at
          FROM webhook_deliveries""")).mappings().one()
    last_error = db.session.execute(text("""
        SELECT event_id, last_error FROM webhook_deliveries
         WHERE delivered_at IS NULL AND last_error IS NOT NULL
         ORDER BY event_id DESC LIMIT 1""")).first()
    cursor = db.session.scalar(text("SELECT last_event_id FROM webhook_cursor WHERE id = 1"))
    return {"configured": bool(current_app.config.get("WEBHOOK_URL")),
            "delivered": row["delivered"], "pending": row["pending"],
            "failing": row["failing"], "oldest_pending_event_id": row["oldest_pending_event_id"],
            "next_retry_at": row["next_retry_at"],
            "last_error": last_error[1] if last_error else None,
            "queued_up_to_event_id": cursor}
