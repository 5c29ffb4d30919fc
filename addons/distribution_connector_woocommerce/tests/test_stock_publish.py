from odoo.tests.common import TransactionCase, tagged

from odoo.addons.queue_job.tests.common import trap_jobs

from .common import WooCommerceOutboundMixin


@tagged("-at_install", "post_install")
class TestStockPublish(WooCommerceOutboundMixin, TransactionCase):
    """Distribution Stock Publishing's sweep and export jobs, to a fake shop
    through the WooCommerce adapter."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpOutbound()
        cls.Level = cls.env["distribution.stock.level"]
        cls.warehouse = cls.env["stock.warehouse"].create(
            {"name": "Woo warehouse", "code": "WOOW"}
        )
        Product = cls.env["product.product"]
        cls.mug = Product.create(
            {"name": "Woo mug", "default_code": "WOO-PUB-MUG", "is_storable": True}
        )
        cls.shirt = Product.create(
            {"name": "Woo shirt M", "default_code": "WOO-PUB-M", "is_storable": True}
        )
        for product, qty in ((cls.mug, 30), (cls.shirt, 5)):
            cls.env["stock.quant"]._update_available_quantity(
                product, cls.warehouse.lot_stock_id, qty
            )
        cls.env["distribution.publish.rule"].create(
            {
                "backend_id": cls.backend.id,
                "warehouse_ids": [(6, 0, cls.warehouse.ids)],
            }
        )

    def level(self, product):
        return self.Level.search(
            [("backend_id", "=", self.backend.id), ("product_id", "=", product.id)]
        )

    def test_sweep_publishes_to_woocommerce_and_records_what_it_confirmed(self):
        # the simple product is found by SKU, the variation is referenced
        self.shop.catalog["WOO-PUB-MUG"] = 501
        self.shop.add_parent(22)
        with trap_jobs() as trap:
            self.Level.sweep()
            self.level(self.shirt).external_ref = "variation:22:23"
            results = [
                job.perform()
                for job in trap.enqueued_jobs
                if job.method_name == "export_batch"
            ]
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
        with trap_jobs() as trap:
            self.Level.sweep()
            for job in trap.enqueued_jobs:
                if job.method_name == "export_batch":
                    job.perform()
        mug, shirt = self.level(self.mug), self.level(self.shirt)
        self.assertEqual(mug.state, "error")
        self.assertIn("Invalid ID.", mug.error)
        self.assertFalse(mug.published_at)
        # no reference, and the products endpoint lists no variation
        self.assertEqual(shirt.state, "error")
        self.assertIn("variation:<parent id>:<id>", shirt.error)
