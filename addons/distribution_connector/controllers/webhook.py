"""Inbound webhooks: check, store, enqueue, answer. Nothing else.

The request never calls out and never processes the payload: it verifies the
signature over the raw bytes, stores one exchange (insert-or-ignore on the
event id), committed before the answer on a connection kept for it, and
makes sure its backend's dispatcher job is waiting; that job enqueues one
processing job per stored exchange. What the event means is decided by that
job, from the signed body: the topic and event id headers are not signed.

A paused backend stores and acknowledges its webhooks without waking its
dispatcher: they are processed once it is resumed. Channels give up on
endpoints that keep failing (WooCommerce disables the webhook, Shopify
removes the subscription), so neither a pause nor a topic the adapter does
not handle yet is answered with an error. Answers:

* 404 unknown backend, or a topic the adapter does not know
* 413 body over the backend's limit, checked before the body is read
* 415 content type not accepted, or a signed body that is not JSON (stored)
* 401 missing or bad signature: nothing is written but a log line
* 200 ``{"status": "accepted"|"duplicate"|"ignored", "exchange_id": id}``:
  ``ignored`` for a topic the sender documents but the adapter does not
  handle (stored as such, with the reason); or ``{"status": "pong"}`` for a
  sender's test delivery (nothing stored)
"""

import logging

from werkzeug.exceptions import RequestEntityTooLarge

from odoo import http
from odoo.http import request

from ..errors import NotAppliedError

_logger = logging.getLogger(__name__)


class DistributionWebhookController(http.Controller):
    @http.route(
        "/distribution/webhook/<string:token>/<string:topic>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def receive(self, token, topic, **params):
        backend = request.env["distribution.backend"]._find_by_webhook_token(token)
        if not backend or not backend.active:
            return self._answer(404, "unknown backend")

        httprequest = request.httprequest
        limit = backend.webhook_max_bytes
        if (
            httprequest.content_length is not None
            and httprequest.content_length > limit
        ):
            return self._answer(413, f"body larger than {limit} bytes")
        try:
            # also bounds chunked bodies, which announce no length
            httprequest.max_content_length = limit
            body = httprequest.get_data()
        except RequestEntityTooLarge:
            return self._answer(413, f"body larger than {limit} bytes")

        adapter = backend._get_adapter()
        content_type = httprequest.mimetype or ""
        headers = {name.lower(): value for name, value in httprequest.headers.items()}
        if adapter.is_ping(headers, content_type, params):
            return self._answer(200, "pong")
        if content_type not in adapter.content_types:
            return self._answer(
                415, f"content type {content_type or 'missing'} not accepted"
            )

        if not adapter.verify_signature(headers, body):
            _logger.warning(
                "Rejected webhook for backend %s topic %s: bad or missing signature "
                "(from %s, %d bytes)",
                backend.id,
                topic,
                httprequest.remote_addr,
                len(body),
            )
            return self._answer(401, "bad or missing signature")

        topic = adapter.resolve_topic(topic, headers)
        kind = adapter.canonical_kind(topic)
        if not kind and topic not in adapter.ignored_topics:
            return self._answer(404, f"unknown topic {topic}")

        exchange_model = request.env["distribution.exchange"].sudo()
        try:
            payload = adapter.parse_body(headers, body)
        except ValueError as err:
            # Authentic but unreadable: keep it for review, tell the sender.
            # Rare: stored with its failure in the request's transaction.
            exchange, created = exchange_model._insert_inbound(
                backend,
                topic,
                kind,
                adapter.event_id(topic, headers, None, body),
                None,
                body,
                content_type,
                adapter.trace_headers(headers),
                dispatch=False,
            )
            if created:
                exchange._record_failure_unreadable(err)
            return self._answer(415, "body is not valid JSON", exchange_id=exchange.id)

        event_id = adapter.event_id(topic, headers, payload, body)
        external_ref = adapter.external_reference(topic, payload)
        trace_headers = adapter.trace_headers(headers)
        if not kind:
            # Rare: stored in the request's transaction, with its state, so
            # that it is never seen waiting for processing.
            exchange, created = exchange_model._insert_inbound(
                backend,
                topic,
                None,
                event_id,
                external_ref,
                body,
                content_type,
                trace_headers,
                dispatch=False,
            )
            if not created:
                return self._answer(200, "duplicate", exchange_id=exchange.id)
            exchange._record_not_applied(
                NotAppliedError(
                    f"{adapter.label} topic {topic} is not handled: the event "
                    "is kept, nothing was applied.",
                    kind="unhandled_topic",
                )
            )
            return self._answer(200, "ignored", exchange_id=exchange.id)

        exchange, created = exchange_model._insert_inbound(
            backend,
            topic,
            kind,
            event_id,
            external_ref,
            body,
            content_type,
            trace_headers,
            committed=True,
        )
        if not created:
            return self._answer(200, "duplicate", exchange_id=exchange.id)
        return self._answer(200, "accepted", exchange_id=exchange.id)

    @staticmethod
    def _answer(status, message, **extra):
        body = {"status": message if status == 200 else "error", **extra}
        if status != 200:
            body["error"] = message
        return request.make_json_response(body, status=status)
