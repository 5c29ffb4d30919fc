from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_connector.errors import PermanentError
from odoo.addons.distribution_connector.tests.common import ChannelSetUpMixin

from .common import WooCommerceOutboundMixin, fixture

ORDER = "/wp-json/wc/v3/orders/727"
NOTES = ORDER + "/notes"


@tagged("-at_install", "post_install")
class TestFulfillment(ChannelSetUpMixin, WooCommerceOutboundMixin, TransactionCase):
    """Tracking notes and order completion on a fake shop."""

    def setUp(self):
        super().setUp()
        self.order = fixture("order.json")
        self.shop.add_order(self.order)

    def shipment(self, lines=None, **values):
        return {
            "order_external_id": "727",
            "carrier": "UPS",
            "tracking_number": "1Z999AA10123456784",
            "tracking_url": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
            "lines": lines
            or [
                {"sku": "WOO-MUG-BLUE", "quantity": 2, "line_external_id": "315"},
                {"sku": "variation:23", "quantity": 1},
            ],
            **values,
        }

    def test_whole_order_shipped_adds_a_customer_note_and_completes_it(self):
        answer = self.adapter.export_fulfillment(self.shipment())
        posted = self.server.calls("POST", NOTES)
        self.assertEqual(len(posted), 1)
        self.assertEqual(
            posted[0].json(),
            {
                "note": "Your order has shipped with UPS. Tracking number: "
                "1Z999AA10123456784. Track it at "
                "https://www.ups.com/track?tracknum=1Z999AA10123456784",
                "customer_note": True,
            },
        )
        self.assertEqual(answer, {"external_id": "280"})
        updates = self.server.calls("PUT", ORDER)
        self.assertEqual([c.json() for c in updates], [{"status": "completed"}])
        self.assertEqual(self.order["status"], "completed")

    def test_partial_shipment_adds_the_note_and_leaves_the_status(self):
        self.adapter.export_fulfillment(
            self.shipment(lines=[{"sku": "WOO-MUG-BLUE", "quantity": 1}])
        )
        self.assertEqual(len(self.server.calls("POST", NOTES)), 1)
        self.assertEqual(self.server.calls("PUT", ORDER), [])
        self.assertEqual(self.order["status"], "processing")

    def test_caller_may_say_the_order_is_complete(self):
        self.adapter.export_fulfillment(
            self.shipment(lines=[{"sku": "WOO-MUG-BLUE", "quantity": 1}], complete=True)
        )
        self.assertEqual(len(self.server.calls("PUT", ORDER)), 1)

    def test_repeating_a_fulfillment_sends_neither_note_nor_status_twice(self):
        first = self.adapter.export_fulfillment(self.shipment())
        second = self.adapter.export_fulfillment(self.shipment())
        self.assertEqual(first, second)
        self.assertEqual(len(self.server.calls("POST", NOTES)), 1)
        self.assertEqual(len(self.server.calls("PUT", ORDER)), 1)
        self.assertEqual(len(self.shop.notes[727]), 1)
        self.assertEqual(
            self.server.calls("GET", NOTES)[0].query, {"type": ["customer"]}
        )

    def test_shipment_without_tracking_only_completes(self):
        answer = self.adapter.export_fulfillment(
            self.shipment(tracking_number=None, tracking_url=None)
        )
        self.assertEqual(answer, {"external_id": None})
        self.assertEqual(self.server.calls("POST", NOTES), [])
        self.assertEqual(len(self.server.calls("PUT", ORDER)), 1)

    def test_cancelled_order_is_not_completed(self):
        self.order["status"] = "cancelled"
        self.adapter.export_fulfillment(self.shipment())
        self.assertEqual(self.server.calls("PUT", ORDER), [])

    def test_bad_order_id_and_malformed_answers(self):
        error = self.failing(
            PermanentError,
            self.adapter.export_fulfillment,
            self.shipment(order_external_id="#727"),
        )
        self.assertEqual(error.kind, "invalid_payload")
        self.assertEqual(self.server.requests, [])
        self.server.add("GET", ORDER, json_body={"id": 727})
        self.failing(PermanentError, self.adapter.export_fulfillment, self.shipment())
        self.server.add("POST", NOTES, json_body={"message": "no id"})
        self.failing(PermanentError, self.adapter.export_fulfillment, self.shipment())
        self.server.add("PUT", ORDER, json_body={"id": 727, "status": "processing"})
        self.failing(PermanentError, self.adapter.export_fulfillment, self.shipment())
