"""End to end: a Shopify order imported, its delivery validated in Odoo with
a tracking number, the fulfillment job sends the tracking to a fake Shopify."""

import json

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_sync.tests.common import StockFlowMixin

from .common import GRAPHQL_PATH, FakeShopifyMixin
from .test_fulfillment import FakeFulfillments

ORDER_ID = "5810000001001"
TRACKING = "1Z999AA10123456784"
TRACKING_URL = f"https://www.ups.com/track?tracknum={TRACKING}"


@tagged("-at_install", "post_install")
class TestShopifyFulfillmentFlow(FakeShopifyMixin, StockFlowMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpFakeChannel()
        # two storable mugs with ten of each in stock
        cls.setUpStockFlows()
        cls.backend = cls.make_shopify_backend("Shopify shop", secret=cls.secret)
        # the red mug has no SKU on Shopify: its variant is mapped instead
        cls.map_sku(cls.backend, "variant:40000000000002", cls.mug_red)

    def setUp(self):
        super().setUp()
        self.shopify = FakeFulfillments()
        self.server.route("POST", GRAPHQL_PATH, self.shopify)

    def test_validated_delivery_sends_its_tracking_to_shopify(self):
        # orders/create stored as the webhook stores it, then processed
        payload = self.order_fixture(currency=self.currency.name)
        self.assertEqual(str(payload["id"]), ORDER_ID)
        order = self.import_channel_order(
            "orders/create",
            "evt-create-1",
            payload,
            {"x-shopify-topic": "orders/create"},
        )
        delivery = self.delivery(order)
        jobs = self.ship_with_tracking(delivery, self.server, TRACKING, TRACKING_URL)
        # Shopify was asked for the order's fulfillment orders, then fulfilled
        queries = [call.json() for call in self.graphql_calls()]
        self.assertEqual(len(queries), 2)
        self.assertEqual(
            queries[0]["variables"]["id"], f"gid://shopify/Order/{ORDER_ID}"
        )
        self.assertIn("fulfillmentCreateV2(fulfillment:", queries[1]["query"])
        (sent,) = self.shopify.created
        self.assertEqual(
            sent["trackingInfo"],
            {"number": TRACKING, "url": TRACKING_URL, "company": "UPS"},
        )
        self.assertEqual(
            sent["lineItemsByFulfillmentOrder"],
            [
                {
                    "fulfillmentOrderId": "gid://shopify/FulfillmentOrder/6600000000001",
                    "fulfillmentOrderLineItems": [
                        {
                            "id": "gid://shopify/FulfillmentOrderLineItem/6700000000001",
                            "quantity": 2,
                        },
                        {
                            "id": "gid://shopify/FulfillmentOrderLineItem/6700000000002",
                            "quantity": 1,
                        },
                    ],
                }
            ],
        )
        # the call went out authenticated with the shop's access token
        self.assertEqual(
            self.graphql_calls()[1].headers["x-shopify-access-token"],
            "shpat_access-token-0123456789",
        )

        exchange = self.fulfillment_exchange(delivery)
        self.assertRecordValues(
            exchange,
            [{"state": "done", "external_ref": ORDER_ID, "kind": "shipment"}],
        )
        shipment = json.loads(exchange.raw_body)
        self.assertEqual(shipment["tracking_number"], TRACKING)
        self.assertEqual(
            sorted(line["line_external_id"] for line in shipment["lines"]),
            ["13000000000001", "13000000000002"],
        )
        self.assertIn("gid://shopify/Fulfillment/1", exchange.response_body)
        binding = self.Binding._find(
            self.backend, "stock.picking", "fulfillment:gid://shopify/Fulfillment/1"
        )
        self.assertEqual(binding.res_id, delivery.id)

        self.assertSentOnce(jobs[0], delivery, self.server)
        self.assertEqual(len(self.shopify.created), 1)
