from odoo import fields
from odoo.tests.common import TransactionCase, tagged

from .common import StockPublishMixin


@tagged("-at_install", "post_install")
class TestDashboardVariance(StockPublishMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpStockPublish()
        cls.cup = cls.make_product("PUB-CUP", cls.categ_mugs)
        cls.bowl = cls.make_product("PUB-BOWL", cls.categ_root)
        for product in (cls.mug, cls.plate, cls.cup, cls.bowl):
            cls.put(product, 10)
        cls.shop, _rule = cls.make_channel("Variance shop")
        cls.other, _other_rule = cls.make_channel("Variance other")

    def read_back(self, backend, product, published, reported, when=None):
        level = self.level(backend, product)
        level.write(
            {
                "published_qty": published,
                "published_at": fields.Datetime.now(),
                "channel_quantity": reported,
                "channel_quantity_date": when or fields.Datetime.now(),
            }
        )
        return level

    def test_variance_figures(self):
        self.recompute()
        mug = self.read_back(self.shop, self.mug, 10, 7)  # 3 fewer
        plate = self.read_back(self.shop, self.plate, 4, 6)  # 2 more
        self.read_back(self.shop, self.cup, 5, 5)  # agrees
        latest = fields.Datetime.add(fields.Datetime.now(), minutes=5)
        self.read_back(self.other, self.mug, 1, 2, when=latest)
        # the bowl was never read back: no variance known
        self.assertFalse(self.level(self.shop, self.bowl).channel_quantity_date)
        self.shop.invalidate_recordset()
        self.assertEqual(self.shop.health_variance_count, 2)
        self.assertAlmostEqual(self.shop.health_variance_qty, 5.0)
        self.assertEqual(self.shop.health_variance_checked_count, 3)
        self.assertEqual(self.other.health_variance_count, 1)
        self.assertEqual(self.other.health_variance_checked_at, latest)
        self.assertEqual(mug.channel_variance, -3.0)
        self.assertEqual(plate.channel_variance, 2.0)
        action = self.shop.action_health_variance()
        self.assertEqual(self.Level.search(action["domain"]), mug | plate)

    def test_no_read_back_no_variance(self):
        self.recompute()
        self.assertTrue(self.level(self.shop))
        self.shop.invalidate_recordset()
        self.assertEqual(self.shop.health_variance_count, 0)
        self.assertEqual(self.shop.health_variance_qty, 0.0)
        self.assertFalse(self.shop.health_variance_checked_at)
        self.assertFalse(
            self.Level.search(self.shop.action_health_variance()["domain"])
        )

    def test_health_screen_shows_variance(self):
        arch = self.shop.get_views(
            [
                (
                    self.env.ref(
                        "distribution_sync.distribution_backend_view_form_health"
                    ).id,
                    "form",
                )
            ]
        )["views"]["form"]["arch"]
        self.assertIn("health_variance_count", arch)
