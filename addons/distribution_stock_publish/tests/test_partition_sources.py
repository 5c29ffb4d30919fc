"""Hard partitions whose sources overlap: refused when saved, so that no unit
is offered by two partitions."""

from contextlib import contextmanager

from odoo import Command
from odoo.exceptions import ValidationError
from odoo.tests.common import TransactionCase

from .common import StockPublishMixin


class TestPartitionSources(StockPublishMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpStockPublish()
        cls.put(cls.mug, 100, cls.wh1)
        cls.put(cls.mug, 40, cls.wh2)
        cls.both, cls.both_rule = cls.make_channel(
            "Both partition",
            cls.wh1 | cls.wh2,
            allocation_mode="partition",
            allocation_percent=60,
        )

    @contextmanager
    def assertRefused(self, *channels):
        """A ValidationError naming both channels and saying why."""
        with self.assertRaises(ValidationError) as raised:
            yield
        message = str(raised.exception)
        for channel in channels:
            self.assertIn(channel, message)
        self.assertIn("same units would be offered twice", message)

    def test_overlapping_sources_are_refused(self):
        with self.assertRefused("North partition", "Both partition"):
            self.make_channel(
                "North partition", allocation_mode="partition", allocation_percent=60
            )
        # once the other partition no longer takes the north warehouse, the
        # two split their own pools; a shared channel may see both
        self.both_rule.warehouse_ids = self.wh2
        north, _rule = self.make_channel(
            "North partition", allocation_mode="partition", allocation_percent=100
        )
        shared, _rule = self.make_channel("Shared", self.wh1 | self.wh2)
        self.recompute()
        self.assertEqual(self.level(north).computed_qty, 100)
        self.assertEqual(self.level(self.both).computed_qty, 24)
        self.assertEqual(self.level(shared).computed_qty, 140)

    def test_a_location_inside_a_partition_warehouse_is_refused(self):
        shelf = self.env["stock.location"].create(
            {"name": "Shelf", "location_id": self.wh1.lot_stock_id.id}
        )
        backend = self.make_backend("Shelf partition")
        with self.assertRefused("Shelf partition", "Both partition"):
            self.Rule.create(
                {
                    "backend_id": backend.id,
                    "location_ids": [Command.set(shelf.ids)],
                    "allocation_mode": "partition",
                }
            )

    def test_same_sources_with_another_basis_are_refused(self):
        with self.assertRefused("On hand partition", "Both partition"):
            self.make_channel(
                "On hand partition",
                self.wh1 | self.wh2,
                basis="on_hand",
                allocation_mode="partition",
            )
        # the same sources and basis split one pool: 120 % asked, scaled
        # down, the two never offer more than the pool together
        same, _rule = self.make_channel(
            "Same partition",
            self.wh1 | self.wh2,
            allocation_mode="partition",
            allocation_percent=60,
        )
        self.recompute()
        quantities = [self.level(b).computed_qty for b in (self.both, same)]
        self.assertEqual(sum(quantities), 140)

    def test_a_shared_rule_turned_into_an_overlapping_partition_is_refused(self):
        _north, rule = self.make_channel("North shared")
        with self.assertRefused("North shared", "Both partition"):
            rule.allocation_mode = "partition"
        # archived, it splits nothing: allowed, and refused again when restored
        rule.active = False
        rule.allocation_mode = "partition"
        with self.assertRefused("North shared", "Both partition"):
            rule.active = True

    def test_default_sources_that_come_to_overlap_are_refused(self):
        backend = self.make_backend("Served partition")
        self.Rule.create({"backend_id": backend.id, "allocation_mode": "partition"})
        with self.assertRefused("Served partition", "Both partition"):
            backend.warehouse_line_ids = [Command.create({"warehouse_id": self.wh2.id})]
