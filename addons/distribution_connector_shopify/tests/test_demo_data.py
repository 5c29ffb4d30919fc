import json

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_stock_publish.tests.channel_common import (
    ChannelDemoMixin,
    exchanges_by_state,
    open_exceptions_by_type,
)

SHOPIFY_DEMO = (
    "distribution_connector_shopify/demo/distribution_connector_shopify_demo.xml"
)


@tagged("-at_install", "post_install")
class TestDemoData(ChannelDemoMixin, TransactionCase):
    """The Shopify store's demo (loaded here with the demos it builds on:
    the test database has none): its webhooks, in Shopify's format, went
    through the webhook's checks, the inbox and the flows."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpChannelDemo(SHOPIFY_DEMO)
        cls.store = cls.env.ref("distribution_connector_shopify.demo_backend_shopify")

    def test_the_store_is_a_paused_shopify_backend(self):
        self.assertEqual(self.store.adapter, "shopify")
        self.assertTrue(self.store.paused)
        self.assertIn(".invalid", self.store.api_base_url)

    def test_orders_and_exchanges(self):
        orders = self.env["sale.order"].search(
            [("distribution_backend_id", "=", self.store.id)]
        )
        self.assertEqual(
            {o.distribution_external_id: o.state for o in orders},
            {
                "5810000002001": "sale",
                "5810000002002": "sale",
                "5810000002003": "cancel",
            },
        )
        self.assertEqual(
            exchanges_by_state(self.store), {"done": 4, "error": 3, "received": 1}
        )
        first = self.env["distribution.exchange"].search(
            [("backend_id", "=", self.store.id), ("topic", "=", "orders/create")],
            order="id",
            limit=1,
        )
        # delivered twice by Shopify, stored once; its headers kept
        self.assertEqual(first.duplicate_count, 1)
        self.assertEqual(json.loads(first.headers)["x-shopify-topic"], "orders/create")

    def test_open_exceptions(self):
        self.assertEqual(
            open_exceptions_by_type(self.store),
            {"unknown_sku": 1, "order_changed": 1, "nothing_delivered": 1},
        )

    def test_levels_of_its_partition(self):
        rule = self.env.ref("distribution_connector_shopify.demo_rule_shopify")
        self.assertEqual(
            (rule.allocation_mode, rule.allocation_percent), ("partition", 60)
        )
        levels = self.env["distribution.stock.level"].search(
            [("backend_id", "=", self.store.id)]
        )
        self.assertEqual(len(levels), 6)
        self.assertEqual(set(levels.mapped("state")), {"clean"})
        mug = levels.filtered(lambda lv: lv.product_id.default_code == "DS-MUG-BLUE")
        # Oakland's 120 blue mugs, 3 reserved by order #2001, 3 in an order
        # waiting in the inbox
        self.assertEqual(mug.explanation[0]["backlog"], 3)
        self.assertEqual(mug.pool_qty, 114)
        self.assertIn("Hard partition", mug.explanation_html)
