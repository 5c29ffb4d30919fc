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

        content_type = httprequest.mimetype or ""
        headers = {name.lower(): value for name, value in httprequest.headers.items()}
        status, message, exchange = request.env[
            "distribution.exchange"
        ]._receive_webhook(
            backend,
            topic,
            headers,
            content_type,
            body,
            params,
            sender=httprequest.remote_addr,
            committed=True,
        )
        extra = {"exchange_id": exchange.id} if exchange is not None else {}
        return self._answer(status, message, **extra)

    @staticmethod
    def _answer(status, message, **extra):
        body = {"status": message if status == 200 else "error", **extra}
        if status != 200:
            body["error"] = message
        return request.make_json_response(body, status=status)
