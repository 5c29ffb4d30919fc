"""End to end: a WooCommerce order imported, its delivery validated in Odoo
with a tracking number, the fulfillment job adds the tracking note and
completes the order on a fake shop."""

import base64
import json

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_sync.tests.common import StockFlowMixin

from .common import WooCommerceOutboundMixin, fixture

ORDER = "/wp-json/wc/v3/orders/727"
NOTES = ORDER + "/notes"
TRACKING = "1Z999AA10123456784"
TRACKING_URL = f"https://www.ups.com/track?tracknum={TRACKING}"


@tagged("-at_install", "post_install")
class TestWooCommerceFulfillmentFlow(
    WooCommerceOutboundMixin, StockFlowMixin, TransactionCase
):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpStockFlows()
        cls.setUpChannel()
        cls.mug = cls.make_product("Blue mug", "WOO-MUG-BLUE", 12.0, is_storable=True)
        cls.shirt = cls.make_product("Idea shirt M", "IDEA-M", 12.0, is_storable=True)
        # the variation has no SKU in WooCommerce: a SKU mapping binds it
        cls.map_sku(cls.backend, "variation:23", cls.shirt)
        for product in cls.mug | cls.shirt:
            cls.Quant._update_available_quantity(product, cls.stock_location, 10)

    def setUp(self):
        super().setUp()
        self.order = fixture("order.json")
        self.shop.add_order(self.order)

    def import_woo_order(self):
        """order.created stored as the webhook stores it, then processed."""
        payload = fixture("order.json")
        payload["currency"] = self.currency.name
        self.assertEqual(payload["id"], 727)
        return self.import_channel_order(
            "order.created",
            "order:727:2025-03-22T19:29:05",
            payload,
            {"x-wc-webhook-topic": "order.created"},
        )

    def test_validated_delivery_adds_the_tracking_note_and_completes(self):
        order = self.import_woo_order()
        delivery = self.delivery(order)
        self.assertEqual(
            sorted(delivery.move_ids.mapped("product_id.default_code")),
            ["IDEA-M", "WOO-MUG-BLUE"],
        )
        jobs = self.ship_with_tracking(delivery, self.server, TRACKING, TRACKING_URL)
        # the customer note carries the tracking, WooCommerce emails it
        (note,) = self.server.calls("POST", NOTES)
        self.assertEqual(
            note.json(),
            {
                "note": f"Your order has shipped with UPS. Tracking number: "
                f"{TRACKING}. Track it at {TRACKING_URL}",
                "customer_note": True,
            },
        )
        # every line shipped: the order is completed
        (update,) = self.server.calls("PUT", ORDER)
        self.assertEqual(update.json(), {"status": "completed"})
        self.assertEqual(self.order["status"], "completed")
        self.assertEqual(len(self.shop.notes[727]), 1)
        # authenticated with the consumer key and secret
        token = base64.b64encode(
            f"{self.CONSUMER_KEY}:{self.CONSUMER_SECRET}".encode()
        ).decode()
        self.assertEqual(update.headers["authorization"], f"Basic {token}")

        exchange = self.fulfillment_exchange(delivery)
        self.assertRecordValues(
            exchange, [{"state": "done", "external_ref": "727", "kind": "shipment"}]
        )
        shipment = json.loads(exchange.raw_body)
        self.assertEqual(
            sorted(
                (line["sku"], line["quantity"], line.get("line_external_id"))
                for line in shipment["lines"]
            ),
            [("WOO-MUG-BLUE", 2.0, "315"), ("variation:23", 1.0, "316")],
        )
        self.assertTrue(shipment["complete"])
        self.assertEqual(
            self.Binding._find(self.backend, "stock.picking", "fulfillment:280").res_id,
            delivery.id,
        )

        self.assertSentOnce(jobs[0], delivery, self.server)
        self.assertEqual(len(self.shop.notes[727]), 1)
