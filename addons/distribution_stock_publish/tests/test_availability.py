"""What the free basis deducts, on real Odoo data: reservations, confirmed
demand nothing reserves, open channel quotations and channel orders waiting
in the inbox, each counted where it ships from and shown in the level's
explanation; and products without stock, published as 0 with the reason."""

import json

from odoo import Command
from odoo.tests import Form
from odoo.tests.common import TransactionCase

from .common import StockPublishMixin


class TestAvailableStock(StockPublishMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpStockPublish()
        cls.put(cls.mug, 100, cls.wh1)
        cls.put(cls.mug, 40, cls.wh2)
        cls.web, cls.web_rule = cls.make_channel("Web shop")
        cls.south, _rule = cls.make_channel("South shop", cls.wh2)
        # what sells on the channels: orders confirmed at once, or kept as
        # quotations; both ship from the north warehouse
        cls.confirming = cls.make_backend("Confirming channel")
        cls.quoting = cls.make_backend("Quoting channel", auto_confirm=False)
        for backend in cls.confirming | cls.quoting:
            backend.warehouse_line_ids = [Command.create({"warehouse_id": cls.wh1.id})]
        # paused: the sweeps of these tests recompute and export nothing
        (cls.web | cls.south | cls.confirming | cls.quoting).paused = True
        cls.partner = cls.env["res.partner"].create({"name": "Walk-in customer"})
        cls.Exchange = cls.env["distribution.exchange"].sudo()

    def process(self, exchange):
        """Process an order exchange as its job does: a paused backend's
        exchanges wait, so its backend is resumed for that time only."""
        backend = exchange.backend_id
        paused, backend.paused = backend.paused, False
        try:
            exchange.process()
        finally:
            backend.paused = paused

    def sale(self, qty, warehouse=None, product=None):
        order = self.env["sale.order"].create(
            {
                "partner_id": self.partner.id,
                "warehouse_id": (warehouse or self.wh1).id,
                "order_line": [
                    Command.create(
                        {
                            "product_id": (product or self.mug).id,
                            "product_uom_qty": qty,
                        }
                    )
                ],
            }
        )
        order.action_confirm()
        return order

    def receive_order(self, backend, ref, qty, sku="PUB-MUG", event=None):
        """A channel order stored as the webhook stores it (not processed)."""
        payload = {
            "external_id": ref,
            "currency": self.env.company.currency_id.name,
            "customer": {"name": "Channel customer"},
            "lines": [{"sku": sku, "quantity": qty, "unit_price": 9.5}],
        }
        exchange, _created = self.Exchange._insert_inbound(
            backend,
            "order",
            "order",
            event or f"event-{ref}",
            ref,
            json.dumps(payload).encode(),
            "application/json",
            {},
        )
        return exchange

    def pool(self, backend=None, product=None):
        return self.level(backend or self.web, product).explanation[0]

    def test_each_term_is_deducted_and_explained(self):
        self.assertEqual(self.qty(self.web), 100)
        # reserved: a confirmed order of the north warehouse reserves 10
        reserved = self.sale(10)
        self.assertEqual(reserved.picking_ids.move_ids.quantity, 10)
        # confirmed demand nothing reserves: an order whose delivery was
        # unreserved
        unreserved = self.sale(7)
        unreserved.picking_ids.do_unreserve()
        self.assertEqual(unreserved.picking_ids.move_ids.quantity, 0)
        # an open quotation of a channel without auto-confirm, imported
        quotation_exchange = self.receive_order(self.quoting, "Q-1", 5)
        self.process(quotation_exchange)
        self.assertEqual(quotation_exchange.state, "done", quotation_exchange.error)
        quotation = self.env["sale.order"].browse(quotation_exchange.res_id)
        self.assertEqual(quotation.state, "draft")
        self.assertEqual(quotation.warehouse_id, self.wh1)
        # a channel order in the inbox, not processed yet
        waiting = self.receive_order(self.confirming, "C-1", 3)
        self.assertEqual(waiting.state, "received")
        self.Level.sweep()
        level = self.level(self.web)
        self.assertEqual(level.computed_qty, 100 - 10 - 7 - 5 - 3)
        pool = level.explanation[0]
        self.assertEqual(
            {key: pool[key] for key in ("on_hand", "reserved", "demand")},
            {"on_hand": 100, "reserved": 10, "demand": 7},
        )
        self.assertEqual((pool["quoted"], pool["backlog"], pool["qty"]), (5, 3, 75))
        self.assertNotIn("no_stock", pool)
        for words in (
            "on hand 100",
            "reserved 10",
            "confirmed demand not reserved 7",
            "channel quotations 5",
            "channel orders in the inbox 3",
        ):
            self.assertIn(words, level.explanation_html)
        # the south warehouse ships none of these
        south = self.pool(self.south)
        self.assertEqual(
            [south[key] for key in ("on_hand", "reserved", "demand", "quoted")],
            [40, 0, 0, 0],
        )
        self.assertEqual(
            (south["backlog"], self.level(self.south).computed_qty), (0, 40)
        )
        # the rule form's preview shows every term in each warehouse
        form = Form(self.web_rule)
        form.preview_product_id = self.mug
        cells = "".join(
            f"<td class='text-end'>{qty}</td>" for qty in (100, 10, 7, 5, 3)
        )
        self.assertIn(f"<tr><td>Publish North</td>{cells}</tr>", str(form.preview_html))
        cells = "".join(f"<td class='text-end'>{qty}</td>" for qty in (40, 0, 0, 0, 0))
        self.assertIn(f"<tr><td>Publish South</td>{cells}</tr>", str(form.preview_html))
        self.assertIn(
            "Web shop (this rule): <strong>75</strong>", str(form.preview_html)
        )

    def test_an_order_in_the_inbox_counts_until_it_is_applied(self):
        self.Level.sweep()
        exchange = self.receive_order(self.confirming, "C-2", 4)
        # the dispatcher reads the order's lines when it enqueues it (a
        # paused backend's dispatcher enqueues nothing)
        self.confirming.paused = False
        self.Exchange.dispatch(self.confirming.id)
        self.confirming.paused = True
        self.assertEqual(
            self.env["distribution.backlog.line"]
            .search([("exchange_id", "=", exchange.id)])
            .mapped(lambda line: (line.product_id, line.quantity, line.order_ref)),
            [(self.mug, 4.0, "C-2")],
        )
        self.flush_marks()
        self.assertTrue(self.level(self.web).to_recompute)
        self.Level.sweep()
        self.assertEqual(
            (self.level(self.web).computed_qty, self.pool()["backlog"]), (96, 4)
        )
        # applied: the confirmed order reserves the units instead
        self.process(exchange)
        self.assertEqual(exchange.state, "done", exchange.error)
        self.assertFalse(
            self.env["distribution.backlog.line"].search(
                [("exchange_id", "=", exchange.id)]
            )
        )
        self.flush_marks()
        self.Level.sweep()
        pool = self.pool()
        self.assertEqual(
            (self.level(self.web).computed_qty, pool["reserved"], pool["backlog"]),
            (96, 4, 0),
        )

    def test_an_ignored_order_no_longer_counts(self):
        exchange = self.receive_order(self.confirming, "C-3", 6)
        self.Level.sweep()  # reads the lines of the orders not dispatched yet
        self.assertEqual(self.level(self.web).computed_qty, 94)
        exchange.action_ignore()
        self.flush_marks()
        self.Level.sweep()
        self.assertEqual(self.level(self.web).computed_qty, 100)

    def test_an_update_of_an_order_already_imported_is_not_counted_twice(self):
        first = self.receive_order(self.confirming, "C-4", 2)
        self.process(first)
        self.assertEqual(first.state, "done", first.error)
        # the channel's update of the same order waits in the inbox: the
        # sales order counts the units already
        update = self.receive_order(self.confirming, "C-4", 2, event="C-4-update")
        self.assertEqual(update.state, "received")
        self.Level.sweep()
        pool = self.pool()
        self.assertEqual((pool["reserved"], pool["backlog"]), (2, 0))
        self.assertEqual(self.level(self.web).computed_qty, 98)

    def test_orders_of_another_warehouse_do_not_count(self):
        self.sale(12, warehouse=self.wh2)
        south_channel = self.make_backend("South channel", auto_confirm=False)
        south_channel.warehouse_line_ids = [
            Command.create({"warehouse_id": self.wh2.id})
        ]
        self.receive_order(south_channel, "S-1", 5)
        self.Level.sweep()
        self.assertEqual(self.level(self.web).computed_qty, 100)
        self.assertEqual(self.level(self.south).computed_qty, 40 - 12 - 5)

    def test_a_multi_step_delivery_is_counted_once(self):
        self.wh1.delivery_steps = "pick_ship"
        order = self.sale(6)
        pick = order.order_line.move_ids
        self.assertEqual(pick.picking_type_id, self.wh1.pick_type_id)
        self.assertEqual(pick.location_dest_id, self.wh1.wh_output_stock_loc_id)
        self.assertEqual(pick.quantity, 6)
        # the picking reserves what the order takes out: not demanded again
        self.Level.sweep()
        pool = self.pool()
        self.assertEqual((pool["reserved"], pool["demand"]), (6, 0))
        self.assertEqual(self.level(self.web).computed_qty, 94)
        # unreserved, the picking to the output location is the demand
        # (it stays in the warehouse, but the order takes it out)
        pick.picking_id.do_unreserve()
        self.flush_marks()
        self.Level.sweep()
        pool = self.pool()
        self.assertEqual((pool["reserved"], pool["demand"]), (0, 6))
        self.assertEqual(self.level(self.web).computed_qty, 94)
        # picked: the delivery from the output location reserves it there
        pick.picking_id.action_assign()
        pick.picked = True
        pick.picking_id.button_validate()
        ship = pick.move_dest_ids
        self.assertEqual(
            (ship.picking_type_id, ship.quantity), (self.wh1.out_type_id, 6)
        )
        self.flush_marks()
        self.Level.sweep()
        pool = self.pool()
        self.assertEqual(
            (pool["on_hand"], pool["reserved"], pool["demand"]), (100, 6, 0)
        )
        self.assertEqual(self.level(self.web).computed_qty, 94)

    def test_a_quotation_confirmed_or_cancelled_stops_counting_as_one(self):
        exchange = self.receive_order(self.quoting, "Q-2", 8)
        self.process(exchange)
        quotation = self.env["sale.order"].browse(exchange.res_id)
        self.flush_marks()
        self.Level.sweep()
        self.assertEqual(self.pool()["quoted"], 8)
        self.assertEqual(self.level(self.web).computed_qty, 92)
        quotation.action_confirm()
        self.flush_marks()
        self.Level.sweep()
        pool = self.pool()
        self.assertEqual((pool["quoted"], pool["reserved"]), (0, 8))
        quotation._action_cancel()
        self.flush_marks()
        self.Level.sweep()
        self.assertEqual(self.level(self.web).computed_qty, 100)

    # -- products without stock --------------------------------------------------

    def test_a_product_without_stock_publishes_zero_and_says_why(self):
        self.web.paused = False
        cup = self.make_product("PUB-CUP-NONE")
        self.flush_marks()
        level = self.level(self.web, cup)
        self.assertEqual(level.state, "dirty")
        self.Level.sweep()
        self.assertEqual((level.computed_qty, level.pool_qty), (0, 0))
        self.assertTrue(level.explanation[0]["no_stock"])
        self.assertIn("No stock in the sources", level.explanation_html)
        self.assertIn("publish 0", level.explanation_html)
        # never published: it goes out as 0
        self.assertTrue(level.differs)
        self.assertEqual(level.state, "exporting")

    def test_a_product_with_stock_elsewhere_publishes_zero(self):
        bowl = self.make_product("PUB-BOWL-SOUTH")
        self.put(bowl, 3, self.wh2)
        self.flush_marks()
        self.Level.sweep()
        self.assertEqual(self.level(self.south, bowl).computed_qty, 3)
        level = self.level(self.web, bowl)
        self.assertEqual(level.computed_qty, 0)
        self.assertTrue(level.explanation[0]["no_stock"])

    def test_a_product_without_reference_gets_a_level_once_bound(self):
        spoon = self.make_product("PUB-SPOON")
        spoon.default_code = False
        self.flush_marks()
        self.assertFalse(self.level(self.web, spoon))
        self.env["distribution.binding"].create(
            {
                "backend_id": self.web.id,
                "res_model": "product.product",
                "res_id": spoon.id,
                "external_id": "SPOON-ON-THE-WEB",
            }
        )
        self.flush_marks()
        self.Level.sweep()
        level = self.level(self.web, spoon)
        self.assertEqual(len(level), 1)
        self.assertEqual(level.computed_qty, 0)
        self.assertTrue(level.explanation[0]["no_stock"])
        # another channel does not know it
        self.assertFalse(self.level(self.south, spoon))
