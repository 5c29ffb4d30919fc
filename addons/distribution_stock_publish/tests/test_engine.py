"""The engine in real Odoo: quants and moves in SQL, each rule step alone
and stacked, sources, bases, partitions and what gets written."""

import psycopg2.errors

from odoo.tests.common import TransactionCase
from odoo.tools import mute_logger

from ..engine.query import planner_settings
from .common import StockPublishMixin


class TestEngine(StockPublishMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpStockPublish()
        cls.put(cls.mug, 100, cls.wh1)
        cls.put(cls.mug, 40, cls.wh2)
        cls.put(cls.plate, 10, cls.wh1)

    # -- sources and bases ---------------------------------------------------

    def test_levels_are_created_computed_for_every_product_sold(self):
        backend, _rule = self.make_channel("Sources")
        # a new rule's levels are created and computed in one write
        level = self.level(backend)
        self.assertEqual((level.state, level.computed_qty), ("clean", 100))
        self.assertTrue(level.computed_at)
        self.assertTrue(self.level(backend, self.plate))
        # a product without stock in the sources gets a level publishing 0
        none = self.make_product("PUB-NONE")
        self.flush_marks()
        self.assertEqual(self.qty(backend, none), 0)
        self.assertTrue(self.level(backend, none).explanation[0]["no_stock"])

    def test_one_warehouse(self):
        backend, _rule = self.make_channel("North only")
        self.assertEqual(self.qty(backend), 100)
        self.assertEqual(self.level(backend).state, "clean")

    def test_several_warehouses_add_up(self):
        backend, _rule = self.make_channel("Both", self.wh1 | self.wh2)
        self.assertEqual(self.qty(backend), 140)
        pool = self.level(backend).explanation[0]
        self.assertEqual((pool["on_hand"], pool["reserved"]), (140, 0))
        self.assertIn("Publish North", pool["sources"])
        self.assertIn("Publish South", pool["sources"])

    def test_sub_locations_count_and_are_not_counted_twice(self):
        shelf = self.env["stock.location"].create(
            {"name": "Shelf", "location_id": self.wh2.lot_stock_id.id}
        )
        self.put(self.mug, 7, location=shelf)
        backend, rule = self.make_channel("Shelf", self.wh2)
        # the warehouse and one of its locations: still counted once
        rule.location_ids = shelf
        self.assertEqual(self.qty(backend), 47)
        _other, shelf_only = self.make_channel(
            "Shelf only", self.env["stock.warehouse"]
        )
        shelf_only.location_ids = shelf
        self.assertEqual(self.qty(shelf_only.backend_id), 7)

    def test_backend_warehouses_are_the_default_sources(self):
        backend = self.make_backend("Served")
        backend.warehouse_line_ids = [(0, 0, {"warehouse_id": self.wh2.id})]
        self.Rule.create({"backend_id": backend.id})
        self.assertEqual(self.qty(backend), 40)

    def test_reserved_quantities_are_excluded_on_the_free_basis(self):
        self.reserve(self.mug, 30, self.wh1)
        free, _rule = self.make_channel("Free")
        on_hand, _rule = self.make_channel("On hand", basis="on_hand")
        self.assertEqual(self.qty(free), 70)
        self.assertEqual(self.qty(on_hand), 100)
        self.assertEqual(self.level(free).explanation[0]["reserved"], 30)

    def test_forecast_counts_moves_in_and_out(self):
        supplier = self.env.ref("stock.stock_location_suppliers")
        customer = self.env.ref("stock.stock_location_customers")
        incoming = self.env["stock.move"].create(
            {
                "product_id": self.mug.id,
                "product_uom_qty": 25,
                "location_id": supplier.id,
                "location_dest_id": self.wh1.lot_stock_id.id,
            }
        )
        outgoing = self.env["stock.move"].create(
            {
                "product_id": self.mug.id,
                "product_uom_qty": 10,
                "location_id": self.wh1.lot_stock_id.id,
                "location_dest_id": customer.id,
            }
        )
        # a transfer between two source warehouses is neither in nor out
        between = self.env["stock.move"].create(
            {
                "product_id": self.mug.id,
                "product_uom_qty": 5,
                "location_id": self.wh1.lot_stock_id.id,
                "location_dest_id": self.wh2.lot_stock_id.id,
            }
        )
        (incoming | outgoing | between)._action_confirm()
        forecast, _rule = self.make_channel(
            "Forecast", self.wh1 | self.wh2, basis="forecast"
        )
        north, _rule = self.make_channel("Forecast north", basis="forecast")
        self.assertEqual(self.qty(forecast), 140 + 25 - 10)
        pool = self.level(forecast).explanation[0]
        self.assertEqual((pool["incoming"], pool["outgoing"]), (25, 10))
        self.assertEqual(self.qty(north), 100 + 25 - 10 - 5)

    def test_archived_product_publishes_zero(self):
        backend, _rule = self.make_channel("Archive")
        self.assertEqual(self.qty(backend, self.plate), 10)
        self.plate.active = False
        self.assertEqual(self.qty(backend, self.plate), 0)
        self.assertTrue(self.level(backend, self.plate).explanation[0]["archived"])

    # -- each step alone -----------------------------------------------------

    def test_safety_fixed_alone(self):
        backend, _rule = self.make_channel("Safety units", safety_fixed=15)
        self.assertEqual(self.qty(backend), 85)
        self.assertEqual(self.steps(backend), ["pool", "safety", "allocation"])

    def test_safety_percent_alone(self):
        backend, _rule = self.make_channel("Safety percent", safety_percent=20)
        self.assertEqual(self.qty(backend), 80)

    def test_category_override_wins_over_the_rule(self):
        backend, rule = self.make_channel("Categ", safety_fixed=50)
        rule.override_ids = [
            (0, 0, {"categ_id": self.categ_root.id, "safety_fixed": 5})
        ]
        # mug is in a child category: the parent's override applies
        self.assertEqual(self.qty(backend), 95)
        self.assertEqual(self.level(backend).explanation[1]["source"], "category")

    def test_nearest_category_wins(self):
        backend, rule = self.make_channel("Nearest")
        rule.override_ids = [
            (0, 0, {"categ_id": self.categ_root.id, "safety_fixed": 5}),
            (0, 0, {"categ_id": self.categ_mugs.id, "safety_fixed": 9}),
        ]
        self.assertEqual(self.qty(backend), 91)
        self.assertEqual(self.qty(backend, self.plate), 5)

    def test_product_override_wins_over_categories(self):
        backend, rule = self.make_channel("Product", safety_fixed=50)
        rule.override_ids = [
            (0, 0, {"categ_id": self.categ_mugs.id, "safety_fixed": 9}),
            (0, 0, {"product_id": self.mug.id, "safety_percent": 1}),
        ]
        self.assertEqual(self.qty(backend), 99)
        self.assertEqual(self.qty(backend, self.plate), 0)

    def test_shared_allocation_alone(self):
        backend, _rule = self.make_channel("Half", allocation_percent=50)
        other, _rule = self.make_channel("Third", allocation_percent=33)
        self.assertEqual(self.qty(backend), 50)
        # shared: channels do not split the pool
        self.assertEqual(self.qty(other), 33)

    def test_floor_alone(self):
        backend, _rule = self.make_channel("Floor", allocation_percent=1, floor_qty=4)
        self.assertEqual(self.qty(backend), 4)

    def test_cap_alone(self):
        backend, _rule = self.make_channel("Cap", cap_qty=12)
        self.assertEqual(self.qty(backend), 12)

    def test_threshold_alone(self):
        backend, _rule = self.make_channel("Threshold", out_of_stock_threshold=11)
        self.assertEqual(self.qty(backend), 100)
        self.assertEqual(self.qty(backend, self.plate), 0)

    def test_pack_alone(self):
        backend, _rule = self.make_channel("Pack", pack_size=12)
        self.assertEqual(self.qty(backend), 96)

    def test_all_steps_stacked(self):
        self.reserve(self.mug, 10, self.wh1)
        backend, _rule = self.make_channel(
            "Stacked",
            self.wh1 | self.wh2,
            safety_fixed=4,
            safety_percent=10,
            allocation_percent=60,
            floor_qty=3,
            cap_qty=50,
            out_of_stock_threshold=5,
            pack_size=4,
        )
        # free 130 -> safety 4 + 13 -> 113 -> 60 % -> 67 -> floor -> 67
        # -> cap 50 -> threshold -> packs of 4 -> 48
        self.assertEqual(self.qty(backend), 48)
        explanation = self.level(backend).explanation
        self.assertEqual(
            [(step["step"], step["qty"]) for step in explanation],
            [
                ("pool", 130),
                ("safety", 113),
                ("allocation", 67),
                ("floor", 67),
                ("cap", 50),
                ("threshold", 50),
                ("pack", 48),
            ],
        )
        self.assertEqual(self.level(backend).pool_qty, 130)
        html = self.level(backend).explanation_html
        self.assertIn("packs of 4", html)

    # -- partitions ------------------------------------------------------------

    def test_hard_partition_splits_the_pool(self):
        first, _rule = self.make_channel(
            "Part A", allocation_mode="partition", allocation_percent=70, priority=2
        )
        second, _rule = self.make_channel(
            "Part B", allocation_mode="partition", allocation_percent=70, priority=1
        )
        self.recompute()
        # 70 + 70 > 100: scaled to 50/50 of the 100 mugs
        self.assertEqual(self.level(first).computed_qty, 50)
        self.assertEqual(self.level(second).computed_qty, 50)
        # the plates: 5 each
        self.assertEqual(self.level(first, self.plate).computed_qty, 5)

    def test_partition_remainder_goes_by_priority(self):
        self.put(self.plate, 1, self.wh1)  # 11 plates
        low, _rule = self.make_channel(
            "Low", allocation_mode="partition", allocation_percent=50, priority=5
        )
        high, _rule = self.make_channel(
            "High", allocation_mode="partition", allocation_percent=50, priority=1
        )
        self.recompute()
        self.assertEqual(self.level(high, self.plate).computed_qty, 6)
        self.assertEqual(self.level(low, self.plate).computed_qty, 5)

    def test_partitions_with_other_sources_do_not_share(self):
        north, _rule = self.make_channel(
            "Part north", allocation_mode="partition", allocation_percent=100
        )
        south, _rule = self.make_channel(
            "Part south", self.wh2, allocation_mode="partition", allocation_percent=100
        )
        self.recompute()
        self.assertEqual(self.level(north).computed_qty, 100)
        self.assertEqual(self.level(south).computed_qty, 40)

    def test_partition_and_shared_channels_side_by_side(self):
        part, _rule = self.make_channel(
            "Part", allocation_mode="partition", allocation_percent=40
        )
        shared, _rule = self.make_channel("Shared", allocation_percent=80)
        self.recompute()
        self.assertEqual(self.level(part).computed_qty, 40)
        self.assertEqual(self.level(shared).computed_qty, 80)

    # -- what gets written -------------------------------------------------------

    def test_only_changed_levels_are_written(self):
        backend, _rule = self.make_channel("Writes", self.wh1 | self.wh2)
        again = self.recompute()
        self.assertEqual((again["levels"], again["written"]), (2, 0))
        self.put(self.plate, 3, self.wh2)
        self.flush_marks()
        # the quant hook marked the plate: recomputed and written alone
        self.assertTrue(self.level(backend, self.plate).to_recompute)
        third = self.recompute()
        self.assertEqual(third["written"], 1)
        self.assertEqual(self.level(backend, self.plate).computed_qty, 13)

    def test_a_changed_pool_with_the_same_number_is_rewritten(self):
        backend, _rule = self.make_channel("Capped", cap_qty=5)
        self.recompute()
        self.env.cr.execute(
            "UPDATE distribution_stock_level SET pool_qty = 1 WHERE id = %s",
            [self.level(backend).id],
        )
        self.assertEqual(self.recompute()["written"], 1)
        self.assertEqual(self.level(backend).pool_qty, 100)

    def test_inactive_rules_are_not_computed(self):
        backend, rule = self.make_channel("Inactive")
        self.recompute()
        rule.active = False
        self.put(self.mug, 1, self.wh1)
        self.recompute()
        self.assertEqual(self.level(backend).computed_qty, 100)


class TestPlannerSettings(TransactionCase):
    """The engine's statements run with planner settings of their own; an
    error inside must reach the caller as itself (a serialization failure is
    what the job runner retries) and leave the settings as they were."""

    def current(self, name):
        self.env.cr.execute("SELECT current_setting(%s)", [name])
        return self.env.cr.fetchone()[0]

    def test_settings_are_restored_after_the_block(self):
        before = self.current("work_mem")
        with planner_settings(self.env.cr, work_mem="77MB"):
            self.assertEqual(self.current("work_mem"), "77MB")
        self.assertEqual(self.current("work_mem"), before)

    @mute_logger("odoo.sql_db")
    def test_an_error_inside_is_raised_as_itself(self):
        before = self.current("work_mem")
        with (
            self.assertRaises(psycopg2.errors.DivisionByZero),
            self.env.cr.savepoint(),
            planner_settings(self.env.cr, work_mem="77MB"),
        ):
            self.env.cr.execute("SELECT 1 / 0")
        # the savepoint's rollback undid the local setting
        self.assertEqual(self.current("work_mem"), before)
