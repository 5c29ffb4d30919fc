from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_stock_publish.tests.channel_common import (
    PublishChannelMixin,
)

from .common import WooCommerceOutboundMixin


@tagged("-at_install", "post_install")
class TestStockPublish(PublishChannelMixin, WooCommerceOutboundMixin, TransactionCase):
    """Distribution Stock Publishing's sweep and export jobs, to a fake shop
    through the WooCommerce adapter."""

    publish_warehouse = ("Woo warehouse", "WOOW")
    publish_stock = {
        "mug": ("Woo mug", "WOO-PUB-MUG", 30),
        "shirt": ("Woo shirt M", "WOO-PUB-M", 5),
    }

    def test_sweep_publishes_to_woocommerce_and_records_what_it_confirmed(self):
        # the simple product is found by SKU, the variation is referenced
        self.shop.catalog["WOO-PUB-MUG"] = 501
        self.shop.add_parent(22)
        results = self.publish({self.shirt: "variation:22:23"})
        self.assertEqual(len(results), 1, results)
        self.assertEqual(self.shop.stock.get(501), 30)
        self.assertEqual(self.shop.stock.get(23), 5)
        for product, qty in ((self.mug, 30), (self.shirt, 5)):
            level = self.level(product)
            self.assertEqual((level.state, level.published_qty), ("clean", qty))
            self.assertTrue(level.published_at)

    def test_refused_product_puts_its_level_in_error(self):
        self.shop.catalog["WOO-PUB-MUG"] = 501
        self.shop.unknown_ids.add(501)
        self.publish()
        mug, shirt = self.level(self.mug), self.level(self.shirt)
        self.assertEqual(mug.state, "error")
        self.assertIn("Invalid ID.", mug.error)
        self.assertFalse(mug.published_at)
        # no reference, and the products endpoint lists no variation
        self.assertEqual(shirt.state, "error")
        self.assertIn("variation:<parent id>:<id>", shirt.error)
