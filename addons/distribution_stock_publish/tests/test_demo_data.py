import os

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_connector.tests.common import (
    KEYS_ENV,
    TEST_KEY,
    encryption_keys,
    load_demo,
)
from odoo.addons.distribution_sync.tests.test_demo_data import SYNC_DEMO

STOCK_PUBLISH_DEMO = (
    "distribution_stock_publish/demo/distribution_stock_publish_demo.xml"
)


@tagged("-at_install", "post_install")
class TestDemoData(TransactionCase):
    """The web shop's publish rule and the stock levels the engine computed
    for it from the demo's stock and orders (loaded here: the test database
    has no demo data)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.environ.get(KEYS_ENV):
            cls.enterClassContext(encryption_keys(TEST_KEY))
        load_demo(cls.env, SYNC_DEMO, STOCK_PUBLISH_DEMO)
        cls.shop = cls.env.ref("distribution_sync.demo_backend_webshop")
        cls.rule = cls.env.ref("distribution_stock_publish.demo_rule_webshop")
        cls.levels = cls.env["distribution.stock.level"].search(
            [("backend_id", "=", cls.shop.id)]
        )

    def level(self, sku):
        return self.levels.filtered(lambda lv: lv.product_id.default_code == sku)

    def test_rule_with_safety_stock_allocation_and_cap(self):
        rule = self.rule
        self.assertEqual((rule.safety_fixed, rule.safety_percent), (2, 10))
        self.assertEqual(
            (rule.allocation_mode, rule.allocation_percent), ("shared", 80)
        )
        self.assertEqual(rule.cap_qty, 40)
        self.assertEqual(rule.override_ids.categ_id.name, "Mugs")

    def test_levels_computed_by_the_engine_and_explained(self):
        self.assertEqual(
            sorted(self.levels.product_id.mapped("default_code")),
            [
                "DS-BOWL",
                "DS-MUG-BLUE",
                "DS-MUG-RED",
                "DS-PLATE",
                "DS-TEAPOT",
                "DS-VASE",
            ],
        )
        self.assertEqual(set(self.levels.mapped("state")), {"clean"})
        self.assertTrue(all(self.levels.mapped("computed_at")))
        # the pool is the free stock of the shop's warehouses (Reno 3PL and
        # Oakland DC), less what its orders reserved
        teapot = self.level("DS-TEAPOT")
        quants = self.env["stock.quant"].search(
            [
                ("product_id", "=", teapot.product_id.id),
                ("location_id.usage", "=", "internal"),
                ("location_id.warehouse_id.code", "in", ("RNO", "OAK")),
            ]
        )
        free = sum(quants.mapped("quantity")) - sum(quants.mapped("reserved_quantity"))
        self.assertEqual(free, 20)  # 15 + 6, one reserved by order WS-1002
        # less the teapot of the order waiting in the inbox
        self.assertEqual(teapot.explanation[0]["backlog"], 1)
        self.assertEqual(teapot.pool_qty, free - 1)
        # safety 2 + 10 % of 19 = 3.9: 15.1 left; 80 % of 15.1: 12 whole
        # units, under the cap of 40 and over the threshold of 3
        self.assertEqual(
            [(step["step"], step["qty"]) for step in teapot.explanation],
            [
                ("pool", 19),
                ("safety", 15.1),
                ("allocation", 12),
                ("cap", 12),
                ("threshold", 12),
            ],
        )
        self.assertEqual(teapot.computed_qty, 12)
        # the mugs' category override keeps 5 units + 10 % back
        mug = self.level("DS-MUG-BLUE")
        steps = {step["step"]: step for step in mug.explanation}
        self.assertEqual(steps["safety"]["source"], "category")
        self.assertEqual(steps["cap"]["qty"], 40)
        self.assertEqual(mug.computed_qty, 40)
        self.assertIn("Cap: at most 40", mug.explanation_html)
        vase = self.level("DS-VASE")
        self.assertEqual([s["step"] for s in vase.explanation][-1], "threshold")
        self.assertEqual(vase.computed_qty, 0)
        # what a full recompute finds now is what the levels hold
        stats = (
            self.env["distribution.stock.level"]
            ._stock_publish_engine()
            .recompute(rule_ids=self.rule.ids)
        )
        self.assertEqual((stats["levels"], stats["written"]), (6, 0))
        self.assertFalse(stats.get("exporting"))

    def test_levels_wait_for_the_paused_shop(self):
        self.assertTrue(self.shop.paused)
        self.assertTrue(all(self.levels.mapped("differs")))
        self.assertFalse(any(self.levels.mapped("published_at")))
        self.assertEqual(self.env["distribution.stock.level"]._enqueue_exports(), 0)
