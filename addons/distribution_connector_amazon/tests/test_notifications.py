"""Amazon's ORDER_CHANGE notifications posted to the webhook route by an
EventBridge API destination (``fixtures/order_change_notification.json``
follows the Notifications API's ORDER_CHANGE notification, wrapped in the
EventBridge event envelope): the order they name is read from Amazon and
imported; nothing else in them is trusted."""

import json

from odoo.tests.common import HttpCase, tagged

from odoo.addons.queue_job.tests.common import trap_jobs

from .common import ORDERS, AmazonTestMixin, amazon_order, fixture

ORDER_ID = "902-3159896-1390916"


@tagged("-at_install", "post_install")
class TestNotifications(AmazonTestMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpAmazon()

    def post(self, body, token=None, topic="notification"):
        headers = {"Content-Type": "application/json"}
        if token is not False:
            headers["x-distribution-token"] = (
                token or self.backend._webhook_secrets()[0]
            )
        path = f"/distribution/webhook/{self.backend.sudo().webhook_token}/{topic}"
        return self.url_open(path, data=body, headers=headers)

    def exchanges(self):
        return self.env["distribution.exchange"].search(
            [("backend_id", "=", self.backend.id)], order="id"
        )

    def test_order_change_notification_imports_the_order(self):
        order = amazon_order(ORDER_ID)
        self.amazon.add_order(order)
        body = json.dumps(fixture("order_change_notification.json")).encode()
        with trap_jobs() as trap:
            response = self.post(body)
            self.assertEqual(response.status_code, 200, response.text)
            self.assertEqual(response.json()["status"], "accepted")
            (notification,) = self.exchanges()
            self.assertEqual(
                notification.external_event_id,
                "notification:d0e9e693-c3ad-4373-979f-ed4ec98dd746",
            )
            self.assertEqual(notification.external_ref, ORDER_ID)
            # the dispatcher, the notification's job (the order read from
            # Amazon, stored as a pull does), then the order's own exchange
            self.run_trapped_jobs(trap)
        self.assertEqual(notification.state, "done")
        self.assertEqual(len(self.server.calls("GET", f"{ORDERS}/{ORDER_ID}")), 1)
        pulled = self.exchanges() - notification
        self.assertEqual(pulled.external_event_id, f"{ORDER_ID}:2025-03-01T09:20:00Z")
        self.assertEqual(pulled.state, "done")
        sale = self.env["sale.order"].search(
            [("distribution_external_id", "=", ORDER_ID)]
        )
        self.assertEqual(sale.state, "sale")
        # the same notification again: a duplicate, nothing read
        response = self.post(body)
        self.assertEqual(response.json()["status"], "duplicate")

    def test_unauthenticated_or_posted_orders_are_refused(self):
        body = json.dumps(fixture("order_change_notification.json")).encode()
        self.assertEqual(self.post(body, token="not-the-secret").status_code, 401)
        self.assertEqual(self.post(body, token=False).status_code, 401)
        # an order itself is only ever read from Amazon, never taken as posted
        order = json.dumps({"Order": amazon_order(ORDER_ID)}).encode()
        self.assertEqual(self.post(order, topic="ORDER_CHANGE").status_code, 404)
        self.assertFalse(self.exchanges())
