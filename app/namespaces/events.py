"""The events namespace: the hospital-wide feed of changes, for other systems."""
from __future__ import annotations

from flask import request
from flask_restx import Namespace, Resource

from app.identity.auth import admin_required
from app.ops import webhooks
from app.schemas.common import error_model, iso
from app.schemas.events import FEED_PARAMS, event_to_dict, parse_feed_query, register_models
from app.services import events as service

ns = Namespace("events", description="The event log (integration feed)")
m = register_models(ns)
error = error_model(ns)


@ns.route("/webhook")
class WebhookStatus(Resource):
    @ns.response(200, "Webhook delivery state", m["webhook"])
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @admin_required
    def get(self):
        """Webhook deliveries (admin only): delivered, pending and failing counts, the
        oldest pending event and the last error."""
        status = webhooks.webhook_status()
        status["next_retry_at"] = iso(status["next_retry_at"])
        return status


@ns.route("/")
class EventFeed(Resource):
    @ns.doc(params=FEED_PARAMS)
    @ns.response(200, "The events after after_id, in id order", m["feed"])
    @ns.response(400, "Bad after_id, type or limit", error)
    @ns.response(401, "Missing or invalid token", error)
    @ns.response(403, "Admins only", error)
    @admin_required
    def get(self):
        """The hospital-wide feed (admin only): ask with after_id = the last id received,
        and no event is ever missed."""
        after_id, limit, event_type = parse_feed_query(request.args)
        page = service.feed(after_id, limit, event_type)
        return {"results": [event_to_dict(e) for e in page["events"]], "more": page["more"],
                "last_id": page["last_id"]}
