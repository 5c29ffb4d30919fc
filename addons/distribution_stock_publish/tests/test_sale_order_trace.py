from odoo.tests.common import TransactionCase

from .common import StockPublishMixin


class TestSaleOrderChannelStock(StockPublishMixin, TransactionCase):
    """From a channel's sales order, the channel stock of its products."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpStockPublish()
        cls.put(cls.mug, 50, cls.wh1)
        cls.put(cls.plate, 20, cls.wh1)
        cls.web, _rule = cls.make_channel("Web shop")
        cls.market, _rule = cls.make_channel("Marketplace", allocation_percent=50)
        cls.service = cls.env["product.product"].create(
            {"name": "Gift wrap", "type": "service"}
        )

    def test_order_opens_the_levels_of_its_products_on_every_channel(self):
        self.recompute()
        order = self.env["sale.order"].create(
            {
                "partner_id": self.env["res.partner"].create({"name": "Buyer"}).id,
                "distribution_backend_id": self.web.id,
                "distribution_external_id": "WEB-1",
                "order_line": [
                    (0, 0, {"product_id": self.mug.id, "product_uom_qty": 2}),
                    (0, 0, {"product_id": self.service.id, "product_uom_qty": 1}),
                ],
            }
        )
        self.assertEqual(order.distribution_stock_level_count, 2)
        action = order.action_view_distribution_stock_levels()
        levels = self.Level.search(action["domain"])
        self.assertEqual(levels.backend_id, self.web | self.market)
        self.assertEqual(levels.product_id, self.mug, "not the plate nor a service")
