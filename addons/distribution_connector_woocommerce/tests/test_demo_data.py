from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_stock_publish.tests.channel_common import (
    ChannelDemoMixin,
    exchanges_by_state,
    open_exceptions_by_type,
)

WOOCOMMERCE_DEMO = (
    "distribution_connector_woocommerce/demo/"
    "distribution_connector_woocommerce_demo.xml"
)


@tagged("-at_install", "post_install")
class TestDemoData(ChannelDemoMixin, TransactionCase):
    """The WooCommerce shop's demo (loaded here with the demos it builds on:
    the test database has none): its v3 order webhooks went through the
    webhook's checks, the inbox and the flows."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpChannelDemo(WOOCOMMERCE_DEMO)
        cls.shop = cls.env.ref(
            "distribution_connector_woocommerce.demo_backend_woocommerce"
        )

    def test_orders_exchanges_and_exceptions(self):
        self.assertEqual(self.shop.adapter, "woocommerce")
        self.assertTrue(self.shop.paused)
        orders = self.env["sale.order"].search(
            [("distribution_backend_id", "=", self.shop.id)]
        )
        self.assertEqual(
            {o.distribution_external_id: o.state for o in orders},
            {"4101": "sale", "4102": "cancel", "4104": "sale"},
        )
        self.assertEqual(
            exchanges_by_state(self.shop), {"done": 4, "error": 1, "received": 1}
        )
        self.assertEqual(open_exceptions_by_type(self.shop), {"unknown_sku": 1})
        exceptions = self.env["distribution.exception"].search(
            [("backend_id", "=", self.shop.id)]
        )
        self.assertEqual(
            sorted(filter(None, exceptions.mapped("key"))), ["variation:5231"]
        )
        # a WooCommerce older than 3.7 sends no rate_percent: 8 % comes from
        # the amounts
        old_shop_order = orders.filtered(lambda o: o.distribution_external_id == "4104")
        self.assertEqual(
            old_shop_order.order_line.tax_ids.mapped("amount"), [8.0], old_shop_order
        )

    def test_levels(self):
        levels = self.env["distribution.stock.level"].search(
            [("backend_id", "=", self.shop.id)]
        )
        self.assertEqual(len(levels), 6)
        plate = levels.filtered(lambda lv: lv.product_id.default_code == "DS-PLATE")
        # alone in its partition: 40 % of Oakland's 300 plates less 1, capped
        self.assertEqual(plate.computed_qty, 25 - 25 % 2)
        self.assertEqual(plate.explanation[-1]["step"], "pack")
