"""The rule form: live preview of every channel, counters and buttons."""

from odoo.tests import Form
from odoo.tests.common import TransactionCase

from odoo.addons.queue_job.tests.common import trap_jobs

from .common import StockPublishMixin


class TestRuleForm(StockPublishMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpStockPublish()
        cls.put(cls.mug, 100, cls.wh1)
        cls.reserve(cls.mug, 20, cls.wh1)
        cls.web, cls.web_rule = cls.make_channel("Preview web", allocation_percent=50)
        cls.market, cls.market_rule = cls.make_channel(
            "Preview market", allocation_mode="partition", allocation_percent=60
        )
        cls.b2b, cls.b2b_rule = cls.make_channel(
            "Preview B2B", allocation_mode="partition", allocation_percent=60
        )
        (cls.web | cls.market | cls.b2b).paused = True

    def test_preview_shows_every_channel_with_the_values_on_screen(self):
        form = Form(self.web_rule)
        form.preview_product_id = self.mug
        html = str(form.preview_html)
        for name in ("Preview web (this rule)", "Preview market", "Preview B2B"):
            self.assertIn(name, html)
        self.assertIn("Publish North", html)  # the stock per warehouse
        self.assertIn("Shared pool: 50 %", html)
        self.assertIn("Hard partition", html)
        # 80 free: 40 for the web shop, 40 each in the 50/50 partition
        self.assertIn("Preview web (this rule): <strong>40</strong>", html)
        self.assertIn("Preview market: <strong>40</strong>", html)
        # unsaved changes show at once
        form.cap_qty = 7
        self.assertIn("Cap: at most 7", str(form.preview_html))
        self.assertIn("(this rule): <strong>7</strong>", str(form.preview_html))
        self.assertEqual(self.web_rule.cap_qty, 0)

    def test_preview_of_an_unsaved_partition_rule_changes_its_peers(self):
        backend = self.make_backend("Preview new")
        form = Form(self.env["distribution.publish.rule"])
        form.backend_id = backend
        form.warehouse_ids.add(self.wh1)
        form.allocation_mode = "partition"
        form.allocation_percent = 30
        form.preview_product_id = self.mug
        html = str(form.preview_html)
        # 60 + 60 + 30 = 150 %: the three split 80 as 32 / 32 / 16
        self.assertIn("Preview new (this rule): <strong>16</strong>", html)
        self.assertIn("Preview market: <strong>32</strong>", html)

    def test_counters_and_buttons(self):
        # the mug, and the plate without stock, which publishes 0
        self.assertEqual(self.web_rule.level_count, 2)
        self.put(self.mug, 6, self.wh1)
        self.flush_marks()
        self.web_rule.invalidate_recordset()
        self.assertEqual(self.web_rule.dirty_count, 1)
        with trap_jobs():
            action = self.web_rule.action_recompute_now()
        self.assertEqual(action["tag"], "display_notification")
        self.web_rule.invalidate_recordset()
        # neither was ever published
        self.assertEqual(
            (self.web_rule.dirty_count, self.web_rule.differs_count), (0, 2)
        )
        self.assertEqual(self.level(self.web).computed_qty, 43)
        action = self.web_rule.action_view_differs_levels()
        self.assertEqual(
            self.env["distribution.stock.level"].search(action["domain"]),
            self.level(self.web) | self.level(self.web, self.plate),
        )

    def test_level_explanation_reads_as_text(self):
        self.recompute()
        level = self.level(self.market)
        self.assertIn("free = on hand 100 - reserved 20", level.explanation_html)
        self.assertEqual(level.explanation_summary, "pool 80 → allocation 40")

    def test_differs_filter(self):
        self.recompute()
        Level = self.env["distribution.stock.level"]
        self.assertIn(self.level(self.web), Level.search([("differs", "=", True)]))
        self.env.cr.execute(
            "UPDATE distribution_stock_level SET published_qty = computed_qty, "
            "published_at = now(), differs = FALSE WHERE id = %s",
            [self.level(self.web).id],
        )
        Level.invalidate_model()
        self.assertNotIn(self.level(self.web), Level.search([("differs", "=", True)]))
        self.assertIn(self.level(self.web), Level.search([("differs", "=", False)]))
