"""Demo data delivers its events through the webhook's checks."""

from odoo.exceptions import UserError
from odoo.tests.common import TransactionCase, tagged

from .common import DistributionTestMixin


@tagged("-at_install", "post_install")
class TestDemoDelivery(DistributionTestMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpDistribution()
        cls.secret = "secret-of-Test channel-0123456789"

    def exchanges(self):
        return self.env["distribution.exchange"].search(
            [("backend_id", "=", self.backend.id)]
        )

    def test_a_signed_delivery_is_stored_once_and_left_for_the_dispatcher(self):
        body, headers = self.signed(self.secret, {"external_id": "D-1"}, "evt-1")
        exchange = self.backend._demo_deliver("order", headers, body, process=False)
        self.assertEqual(exchange.state, "received")
        self.assertEqual(exchange.external_event_id, "evt-1")
        self.assertEqual(exchange.raw_body, body.decode())
        again = self.backend._demo_deliver("order", headers, body, process=False)
        self.assertEqual(again, exchange)
        self.assertEqual(exchange.duplicate_count, 1)

    def test_what_the_route_refuses_fails_the_demo_and_stores_nothing(self):
        body, headers = self.signed("another-secret-0123456789", {"external_id": "D-2"})
        with self.assertRaisesRegex(UserError, "401 bad or missing signature"):
            self.backend._demo_deliver("order", headers, body)
        body, headers = self.signed(self.secret, {"external_id": "D-3"})
        with self.assertRaisesRegex(UserError, "404 unknown topic"):
            self.backend._demo_deliver("no_such_topic", headers, body)
        self.backend.action_pause()
        with self.assertRaisesRegex(UserError, "receives nothing"):
            self.backend._demo_deliver("order", headers, body)
        self.assertFalse(self.exchanges())

    def test_an_unreadable_body_is_kept_in_error(self):
        body, headers = self.signed(self.secret, b'{"external_id": "D-4", ')
        exchange = self.backend._demo_deliver("order", headers, body)
        self.assertEqual(exchange.state, "error")
        self.assertIn("not valid JSON", exchange.error)
