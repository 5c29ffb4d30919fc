"""Dirty tracking and the sweep: what marks levels dirty, what is enqueued,
and what a sweep recomputes."""

from odoo import Command
from odoo.tests.common import TransactionCase

from odoo.addons.queue_job.job import DEFAULT_PRIORITY
from odoo.addons.queue_job.tests.common import trap_jobs

from ..models.distribution_stock_level_sweep import PUBLISH_PRIORITY, SWEEP_IDENTITY
from .common import StockPublishMixin


class TestDirtyTracking(StockPublishMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpStockPublish()
        cls.put(cls.mug, 50, cls.wh1)
        cls.put(cls.plate, 20, cls.wh1)
        cls.web, cls.web_rule = cls.make_channel("Web shop")
        cls.market, cls.market_rule = cls.make_channel(
            "Marketplace", allocation_percent=50
        )
        # paused: the sweeps of these tests recompute and export nothing
        (cls.web | cls.market).paused = True

    def setUp(self):
        super().setUp()
        self.Level.sweep()
        self.assertFalse(self.Level.search([("to_recompute", "=", True)]))

    def sweep_jobs(self, trap):
        return [
            job
            for job in trap.enqueued_jobs
            if job.method_name == "sweep" and job.identity_key == SWEEP_IDENTITY
        ]

    def test_quant_change_marks_only_its_product_and_enqueues_one_sweep(self):
        with trap_jobs() as trap:
            self.put(self.mug, 5, self.wh1)
            self.put(self.mug, 1, self.wh1)
            # nothing happens before the transaction is about to commit
            self.assertFalse(self.level(self.web).to_recompute)
            self.env.cr.flush()  # what commit does first: precommit hooks
            self.assertEqual(len(self.sweep_jobs(trap)), 1)
        # the product is marked; the levels' rows are not written
        self.assertTrue(self.level(self.web).to_recompute)
        self.assertTrue(self.level(self.market).to_recompute)
        self.assertEqual(self.level(self.web).state, "clean")
        self.assertFalse(self.level(self.web, self.plate).to_recompute)
        job = self.sweep_jobs(trap)[0]
        self.assertTrue(job.eta)

    def test_sweep_recomputes_the_dirty_levels(self):
        self.put(self.mug, 10, self.wh1)
        self.flush_marks()
        result = self.Level.sweep()
        self.assertIn("1 products recomputed", result)
        self.assertEqual(self.level(self.web).computed_qty, 60)
        self.assertEqual(self.level(self.market).computed_qty, 30)
        self.assertFalse(self.level(self.web).to_recompute)

    def test_sweep_without_dirty_levels_does_nothing(self):
        self.assertIn("0 products recomputed", self.Level.sweep())

    def test_reservation_marks_dirty_and_lowers_the_free_stock(self):
        self.reserve(self.mug, 8, self.wh1)
        self.flush_marks()
        self.assertTrue(self.level(self.web).to_recompute)
        self.Level.sweep()
        self.assertEqual(self.level(self.web).computed_qty, 42)

    def test_new_product_with_stock_gets_levels(self):
        cup = self.make_product("PUB-CUP")
        self.put(cup, 3, self.wh1)
        self.flush_marks()
        self.assertEqual(
            self.Level.search([("product_id", "=", cup.id)]).mapped("state"),
            ["dirty", "dirty"],
        )
        self.Level.sweep()
        self.assertEqual(self.level(self.web, cup).computed_qty, 3)

    def test_stock_outside_the_sources_publishes_zero(self):
        cup = self.make_product("PUB-CUP-SOUTH")
        self.put(cup, 3, self.wh2)
        self.flush_marks()
        # the channels sell it: a level each, publishing 0
        self.assertEqual(
            self.Level.search([("product_id", "=", cup.id)]).mapped("state"),
            ["dirty", "dirty"],
        )
        self.Level.sweep()
        self.assertEqual(self.level(self.web, cup).computed_qty, 0)
        self.assertTrue(self.level(self.web, cup).explanation[0]["no_stock"])

    def test_stock_move_done_marks_dirty(self):
        customer = self.env.ref("stock.stock_location_customers")
        move = self.env["stock.move"].create(
            {
                "product_id": self.plate.id,
                "product_uom_qty": 4,
                "location_id": self.wh1.lot_stock_id.id,
                "location_dest_id": customer.id,
            }
        )
        move._action_confirm()
        move._action_assign()
        move.picked = True
        with trap_jobs() as trap:
            move._action_done()
            self.env.cr.flush()
            self.assertEqual(len(self.sweep_jobs(trap)), 1)
        self.assertTrue(self.level(self.web, self.plate).to_recompute)
        self.Level.sweep()
        self.assertEqual(self.level(self.web, self.plate).computed_qty, 16)

    def test_the_sweep_goes_before_the_imports_queued(self):
        with trap_jobs() as trap:
            self.put(self.mug, 5, self.wh1)
            self.env.cr.flush()
            (sweep,) = self.sweep_jobs(trap)
        self.assertEqual(sweep.priority, PUBLISH_PRIORITY)
        self.assertLess(sweep.priority, DEFAULT_PRIORITY)

    def test_rule_change_marks_its_levels_dirty(self):
        with trap_jobs() as trap:
            self.market_rule.cap_qty = 7
            self.assertEqual(len(self.sweep_jobs(trap)), 1)
        self.assertEqual(self.level(self.market).state, "dirty")
        self.assertEqual(self.level(self.web).state, "clean")
        self.Level.sweep()
        self.assertEqual(self.level(self.market).computed_qty, 7)

    def test_change_without_effect_on_numbers_marks_nothing(self):
        self.market_rule.shadow_mode = True
        self.assertEqual(self.level(self.market).state, "clean")

    def test_override_change_marks_only_the_products_it_covers(self):
        override = self.env["distribution.publish.rule.override"].create(
            {"rule_id": self.web_rule.id, "product_id": self.mug.id, "safety_fixed": 5}
        )
        self.assertEqual(self.level(self.web).state, "dirty")
        self.assertEqual(self.level(self.web, self.plate).state, "clean")
        self.assertEqual(self.level(self.market).state, "clean")
        self.Level.sweep()
        self.assertEqual(self.level(self.web).computed_qty, 45)
        override.product_id = self.plate
        self.assertEqual(self.level(self.web).state, "dirty")
        self.assertEqual(self.level(self.web, self.plate).state, "dirty")
        self.Level.sweep()
        self.assertEqual(self.level(self.web).computed_qty, 50)
        self.assertEqual(self.level(self.web, self.plate).computed_qty, 15)

    def test_category_override_marks_the_category_products(self):
        self.env["distribution.publish.rule.override"].create(
            {"rule_id": self.web_rule.id, "categ_id": self.categ_mugs.id}
        )
        self.assertEqual(self.level(self.web).state, "dirty")
        self.assertEqual(self.level(self.web, self.plate).state, "clean")

    def test_category_change_of_a_product_marks_it(self):
        self.plate.product_tmpl_id.categ_id = self.categ_mugs
        self.flush_marks()
        self.assertTrue(self.level(self.web, self.plate).to_recompute)

    def test_archiving_a_product_marks_it_and_publishes_zero(self):
        self.plate.product_tmpl_id.action_archive()
        self.flush_marks()
        self.assertTrue(self.level(self.web, self.plate).to_recompute)
        self.Level.sweep()
        self.assertEqual(self.level(self.web, self.plate).computed_qty, 0)

    def test_partition_change_marks_its_peers(self):
        self.web_rule.allocation_mode = "partition"
        self.market_rule.allocation_mode = "partition"
        self.Level.sweep()
        web, market = self.level(self.web), self.level(self.market)
        self.assertEqual(web.computed_qty + market.computed_qty, 50)
        self.market_rule.allocation_percent = 10
        # the web shop's part depends on the marketplace's share
        self.assertEqual(self.level(self.web).state, "dirty")
        self.Level.sweep()
        # 100 % + 10 % scaled to 90.9 % / 9.1 % of 50: 45 and 4, the
        # remainder to the web shop (same priority, older rule)
        self.assertEqual(self.level(self.web).computed_qty, 46)
        self.assertEqual(self.level(self.market).computed_qty, 4)

    def test_inactive_rule_levels_are_not_swept(self):
        self.market_rule.active = False
        self.put(self.mug, 1, self.wh1)
        self.flush_marks()
        self.assertEqual(self.level(self.market).state, "clean")
        self.Level.sweep()
        self.assertEqual(self.level(self.market).computed_qty, 25)


class TestSaleOrderLowersOtherChannels(StockPublishMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpStockPublish()
        cls.put(cls.mug, 30, cls.wh1)
        cls.web, _rule = cls.make_channel("Web shop")
        cls.market, _rule = cls.make_channel("Marketplace", allocation_percent=50)
        cls.b2b, _rule = cls.make_channel("B2B portal", basis="on_hand")
        cls.partner = cls.env["res.partner"].create({"name": "Channel customer"})

    def test_confirmed_order_on_one_channel_lowers_the_others(self):
        self.Level.sweep()
        self.assertEqual(self.level(self.market).computed_qty, 15)
        # an order that came in through the web shop, from the north warehouse
        order = self.env["sale.order"].create(
            {
                "partner_id": self.partner.id,
                "warehouse_id": self.wh1.id,
                "order_line": [
                    Command.create({"product_id": self.mug.id, "product_uom_qty": 12})
                ],
            }
        )
        order.action_confirm()
        self.assertEqual(order.picking_ids.move_ids.quantity, 12)  # reserved
        self.flush_marks()
        self.assertTrue(self.level(self.market).to_recompute)
        self.Level.sweep()
        self.assertEqual(self.level(self.web).computed_qty, 18)
        self.assertEqual(self.level(self.market).computed_qty, 9)
        # the on-hand channel does not count reservations
        self.assertEqual(self.level(self.b2b).computed_qty, 30)
        explanation = self.level(self.market).explanation[0]
        self.assertEqual((explanation["on_hand"], explanation["reserved"]), (30, 12))
