"""The webhook route while the database cannot be reached.

When PostgreSQL restarts or refuses connections, Odoo cannot open the
database's registry and serves the request without a database: only the
routes of server-wide modules with ``auth="none"`` exist then, so a webhook
would get ``404 Not Found``. Senders read a 404 as "this endpoint is gone"
(a partner's integration may drop the event, WooCommerce counts it towards
disabling the webhook), whereas the event was never stored. This route
answers those requests ``503 Service Unavailable`` with ``Retry-After``, the
answer that makes senders try again later.

It only exists without a database: once the database is back, the request
reaches distribution_connector's route, which checks, stores and
acknowledges it.
"""

from odoo import http
from odoo.http import request

#: seconds a sender is asked to wait; a PostgreSQL restart takes a few
RETRY_AFTER = 30


class WebhookUnavailableController(http.Controller):
    @http.route(
        "/distribution/webhook/<string:token>/<string:topic>",
        type="http",
        auth="none",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def receive_without_database(self, token, topic, **params):
        return request.make_json_response(
            {
                "status": "error",
                "error": "database unavailable, nothing stored: send again later",
            },
            status=503,
            headers=[("Retry-After", str(RETRY_AFTER))],
        )
