from odoo import fields
from odoo.tests.common import TransactionCase

from .common import StockFlowMixin


class TestShipmentImport(StockFlowMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpStockFlows()

    def shipment(self, lines, external_id="SH-1", order="CH-1001", **extra):
        payload = {
            "order_external_id": order,
            "carrier": "UPS",
            "tracking_number": "1Z999",
            "tracking_url": "https://track.example.com/1Z999",
            "shipped_at": "2025-03-02T08:00:00Z",
            "lines": lines,
            **extra,
        }
        if external_id:
            payload["external_id"] = external_id
        return payload

    def ship(self, lines, event_id=None, backend=None, **extra):
        return self.apply(
            "shipment",
            self.shipment(lines, **extra),
            event_id=event_id,
            backend=backend,
        )

    def move_quantities(self, picking):
        return {
            move.product_id: (move.product_uom_qty, move.quantity)
            for move in picking.move_ids
        }

    def test_full_shipment_validates_with_tracking(self):
        order, delivery = self.confirmed_order()
        exchange = self.ship(
            [{"sku": "MUG-BLUE", "quantity": 2}, {"sku": "MUG-RED", "quantity": 1}]
        )
        self.assertRecordValues(
            exchange,
            [{"state": "done", "res_model": "stock.picking", "res_id": delivery.id}],
        )
        self.assertRecordValues(
            delivery,
            [
                {
                    "state": "done",
                    "distribution_carrier": "UPS",
                    "distribution_tracking_ref": "1Z999",
                    "distribution_tracking_url": "https://track.example.com/1Z999",
                    "date_done": fields.Datetime.to_datetime("2025-03-02 08:00:00"),
                }
            ],
        )
        self.assertEqual(
            self.move_quantities(delivery),
            {self.mug_blue: (2, 2), self.mug_red: (1, 1)},
        )
        self.assertFalse(self.delivery(order), "no backorder")
        self.assertEqual(self.on_hand(self.mug_blue), 8)
        binding = self.Binding._find(self.backend, "stock.picking", "shipment:SH-1")
        self.assertEqual(binding.res_id, delivery.id)

    def test_partial_shipment_leaves_a_backorder(self):
        order, delivery = self.confirmed_order()
        self.ship([{"sku": "MUG-BLUE", "quantity": 1}])
        self.assertEqual(delivery.state, "done")
        self.assertEqual(self.move_quantities(delivery).get(self.mug_blue), (1, 1))
        self.assertEqual(delivery.move_ids.product_id, self.mug_blue)
        backorder = self.delivery(order)
        self.assertEqual(backorder.backorder_id, delivery)
        self.assertEqual(
            {m.product_id: m.product_uom_qty for m in backorder.move_ids},
            {self.mug_blue: 1, self.mug_red: 1},
        )
        self.assertEqual(backorder.state, "assigned")
        self.assertEqual(self.on_hand(self.mug_blue), 9)
        self.assertEqual(self.reserved(self.mug_blue), 1)

    def test_same_shipment_twice_ships_once(self):
        order, delivery = self.confirmed_order()
        lines = [{"sku": "MUG-BLUE", "quantity": 1}]
        self.ship(lines, event_id="evt-sh-1")
        backorder = self.delivery(order)
        again = self.ship(lines, event_id="evt-sh-2")
        self.assertRecordValues(again, [{"state": "done", "res_id": delivery.id}])
        self.assertEqual(backorder.state, "assigned")
        self.assertEqual(self.on_hand(self.mug_blue), 9)

    def test_without_external_id_a_done_delivery_is_left_alone(self):
        order, delivery = self.confirmed_order()
        lines = [{"sku": "MUG-BLUE", "quantity": 1}]
        self.ship(lines, external_id=None, picking_name=delivery.name, event_id="e-1")
        backorder = self.delivery(order)
        again = self.ship(
            lines, external_id=None, picking_name=delivery.name, event_id="e-2"
        )
        self.assertEqual(again.state, "done")
        self.assertEqual(backorder.state, "assigned")
        self.assertEqual(self.on_hand(self.mug_blue), 9)

    def test_next_shipment_naming_the_first_delivery_goes_to_its_backorder(self):
        order, delivery = self.confirmed_order()
        self.ship([{"sku": "MUG-BLUE", "quantity": 1}], picking_name=delivery.name)
        backorder = self.delivery(order)
        exchange = self.ship(
            [{"sku": "MUG-BLUE", "quantity": 1}, {"sku": "MUG-RED", "quantity": 1}],
            external_id="SH-2",
            picking_name=delivery.name,
        )
        self.assertEqual(exchange.res_id, backorder.id)
        self.assertEqual(backorder.state, "done")
        self.assertFalse(self.delivery(order))

    def test_over_shipment(self):
        _order, delivery = self.confirmed_order()
        exchange = self.ship([{"sku": "MUG-BLUE", "quantity": 3}])
        exception = self.assertOneException(exchange, "over_shipment")
        self.assertEqual(exception.key, "MUG-BLUE")
        self.assertEqual(delivery.state, "assigned")
        self.assertFalse(
            self.Binding._find(self.backend, "stock.picking", "shipment:SH-1")
        )

    def test_product_not_ordered(self):
        _order, delivery = self.confirmed_order()
        self.make_product("Teapot", "TEAPOT", is_storable=True)
        exchange = self.ship(
            [{"sku": "MUG-BLUE", "quantity": 2}, {"sku": "TEAPOT", "quantity": 1}]
        )
        exception = self.assertOneException(exchange, "over_shipment")
        self.assertEqual(exception.key, "TEAPOT")
        self.assertEqual(delivery.state, "assigned")

    def test_unknown_sku(self):
        _order, delivery = self.confirmed_order()
        exchange = self.ship([{"sku": "MUG-GREEN", "quantity": 1}])
        exception = self.assertOneException(exchange, "unknown_sku")
        self.assertEqual(exception.key, "MUG-GREEN")
        self.assertEqual(delivery.state, "assigned")

    def test_unknown_order(self):
        exchange = self.ship([{"sku": "MUG-BLUE", "quantity": 1}], order="CH-404")
        exception = self.assertOneException(exchange, "unknown_order")
        self.assertEqual(exception.key, "CH-404")

    def test_3pl_names_the_odoo_order(self):
        order, delivery = self.confirmed_order()
        warehouse_3pl = self.make_backend("3PL", kind="3pl")
        exchange = self.ship(
            [{"sku": "MUG-BLUE", "quantity": 2}, {"sku": "MUG-RED", "quantity": 1}],
            order=order.name,
            backend=warehouse_3pl,
        )
        self.assertRecordValues(exchange, [{"state": "done", "res_id": delivery.id}])
        self.assertEqual(delivery.state, "done")
        self.assertTrue(
            self.Binding._find(warehouse_3pl, "stock.picking", "shipment:SH-1")
        )

    def test_3pl_names_the_channel_order_id(self):
        _order, delivery = self.confirmed_order()
        warehouse_3pl = self.make_backend("3PL", kind="3pl")
        self.ship(
            [{"sku": "MUG-BLUE", "quantity": 2}, {"sku": "MUG-RED", "quantity": 1}],
            backend=warehouse_3pl,
        )
        self.assertEqual(delivery.state, "done")

    def test_shipment_of_a_cancelled_order(self):
        order, delivery = self.confirmed_order()
        order._action_cancel()
        exchange = self.ship([{"sku": "MUG-BLUE", "quantity": 2}])
        exception = self.assertOneException(exchange, "picking_cancelled")
        self.assertEqual(exception.key, delivery.name)

    # -- one shipment, whatever the delivery id it comes with ------------------

    def test_same_shipment_without_id_under_two_delivery_ids_ships_once(self):
        order, delivery = self.confirmed_order()
        first = self.ship([{"sku": "MUG-BLUE", "quantity": 1}], external_id=None)
        backorder = self.delivery(order)
        # sent again under another delivery id, written another way: the
        # same quantity as a float, the same moment in another time zone
        again = self.ship(
            [{"sku": "MUG-BLUE", "quantity": 1.0}],
            external_id=None,
            event_id="evt-resent",
            shipped_at="2025-03-02T09:00:00+01:00",
        )
        self.assertEqual(self.on_hand(self.mug_blue), 9)
        self.assertEqual(backorder.state, "assigned")
        self.assertRecordValues(
            again,
            [
                {
                    "state": "done",
                    "res_id": delivery.id,
                    "is_duplicate": True,
                    "duplicate_of_id": first.id,
                    "idempotency_key": first.idempotency_key,
                }
            ],
        )
        self.assertFalse(again.exception_ids)
        self.assertFalse(first.is_duplicate)
        self.assertTrue(first.idempotency_key.startswith("shipment-content:"))
        self.assertEqual(self.delivery(order), backorder)
        binding = self.Binding._find(
            self.backend, "stock.picking", first.idempotency_key
        )
        self.assertEqual(binding.res_id, delivery.id)

    def test_next_partial_shipments_without_id_apply_and_resends_do_not(self):
        """Another shipment of the same order differs by its lines or its
        tracking: it validates the backorder; a resend of either does not."""
        order, delivery = self.confirmed_order()
        first_lines = [{"sku": "MUG-BLUE", "quantity": 1}]
        first = self.ship(first_lines, external_id=None, event_id="e-1")
        first_backorder = self.delivery(order)
        resent = self.ship(first_lines, external_id=None, event_id="e-2")
        self.assertEqual(self.on_hand(self.mug_blue), 9)
        self.assertEqual(resent.duplicate_of_id, first)
        # the second blue mug, in another parcel
        second = self.ship(
            first_lines, external_id=None, event_id="e-3", tracking_number="1Z777"
        )
        self.assertRecordValues(
            second,
            [{"state": "done", "res_id": first_backorder.id, "is_duplicate": False}],
        )
        self.assertEqual(self.on_hand(self.mug_blue), 8)
        # and the red one, naming the first delivery as the warehouse was told
        last = self.ship(
            [{"sku": "MUG-RED", "quantity": 1}],
            external_id=None,
            event_id="e-4",
            picking_name=delivery.name,
        )
        self.assertFalse(last.is_duplicate)
        self.assertEqual(self.on_hand(self.mug_red), 9)
        self.assertFalse(self.delivery(order), "everything shipped")
        again = self.ship(
            [{"sku": "MUG-RED", "quantity": 1}],
            external_id=None,
            event_id="e-5",
            picking_name=delivery.name,
        )
        self.assertEqual(
            (self.on_hand(self.mug_blue), self.on_hand(self.mug_red)), (8, 9)
        )
        self.assertEqual(again.duplicate_of_id, last)
        self.assertEqual(
            set(order.picking_ids.mapped("state")), {"done"}, "nothing reopened"
        )
