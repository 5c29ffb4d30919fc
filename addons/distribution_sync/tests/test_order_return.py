from odoo.tests.common import TransactionCase

from .common import StockFlowMixin


class TestOrderReturn(StockFlowMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpStockFlows()

    def return_payload(self, lines, external_id="RET-1", order="CH-1001", **extra):
        return {
            "external_id": external_id,
            "order_external_id": order,
            "reason": "Chipped",
            "lines": lines,
            **extra,
        }

    def send_return(self, lines, event_id=None, **extra):
        return self.apply(
            "return", self.return_payload(lines, **extra), event_id=event_id
        )

    def shipped_order(self):
        order, delivery = self.confirmed_order()
        self.ship_by_hand(delivery)
        return order, delivery

    def return_notes(self, order, ref="RET-1"):
        return order.message_ids.filtered(lambda m: f"Return {ref}" in (m.body or ""))

    def returns_of(self, order):
        return order.picking_ids.filtered(lambda p: p.return_id)

    def test_return_creates_the_return_picking(self):
        order, delivery = self.shipped_order()
        exchange = self.send_return([{"sku": "MUG-BLUE", "quantity": 1}])

        returned = self.returns_of(order)
        self.assertEqual(len(returned), 1)
        self.assertRecordValues(
            exchange,
            [{"state": "done", "res_model": "stock.picking", "res_id": returned.id}],
        )
        self.assertEqual(returned.return_id, delivery)
        self.assertEqual(returned.picking_type_code, "incoming")
        self.assertEqual(returned.state, "assigned")
        self.assertRecordValues(
            returned.move_ids,
            [{"product_id": self.mug_blue.id, "product_uom_qty": 1.0}],
        )
        blue_move = delivery.move_ids.filtered(lambda m: m.product_id == self.mug_blue)
        self.assertEqual(returned.move_ids.origin_returned_move_id, blue_move)
        # the delivery itself is untouched
        self.assertEqual(delivery.state, "done")
        self.assertEqual(blue_move.quantity, 2)
        binding = self.Binding._find(self.backend, "stock.picking", "return:RET-1")
        self.assertEqual(binding.res_id, returned.id)
        self.assertIn("Chipped", self.return_notes(order).body)

    def test_same_return_twice_creates_one_picking(self):
        order, _delivery = self.shipped_order()
        lines = [{"sku": "MUG-BLUE", "quantity": 1}]
        first = self.send_return(lines, event_id="evt-ret-1")
        second = self.send_return(lines, event_id="evt-ret-2")
        self.assertEqual(second.state, "done")
        self.assertEqual(second.res_id, first.res_id)
        self.assertEqual(len(self.returns_of(order)), 1)

    def test_lines_not_restocked_are_noted_only(self):
        order, _delivery = self.shipped_order()
        exchange = self.send_return(
            [
                {"sku": "MUG-BLUE", "quantity": 1},
                {"sku": "MUG-RED", "quantity": 1, "restock": False},
            ],
            refund_amount=22.5,
            currency="USD",
        )
        returned = self.returns_of(order)
        self.assertEqual(returned.move_ids.product_id, self.mug_blue)
        self.assertEqual(exchange.res_id, returned.id)
        note = self.return_notes(order).body
        self.assertIn("Refunded without a return of the goods: 1 x MUG-RED", note)
        self.assertIn("1 x MUG-BLUE", note)
        self.assertIn("22.5", note)

    def test_refund_without_goods_is_bound_to_the_order(self):
        order, _delivery = self.confirmed_order()  # nothing shipped: fine
        lines = [{"sku": "MUG-RED", "quantity": 1, "restock": False}]
        exchange = self.send_return(lines, event_id="evt-ret-1")
        self.assertRecordValues(
            exchange, [{"state": "done", "res_model": "sale.order", "res_id": order.id}]
        )
        self.assertFalse(self.returns_of(order))
        self.assertEqual(len(self.return_notes(order)), 1)
        self.send_return(lines, event_id="evt-ret-2")
        self.assertEqual(len(self.return_notes(order)), 1)

    def test_return_beyond_delivery(self):
        order, _delivery = self.shipped_order()
        exchange = self.send_return([{"sku": "MUG-BLUE", "quantity": 3}])
        exception = self.assertOneException(exchange, "return_exceeds_delivery")
        self.assertEqual(exception.key, "MUG-BLUE")
        self.assertFalse(self.returns_of(order))

    def test_earlier_returns_count(self):
        order, _delivery = self.shipped_order()
        self.send_return([{"sku": "MUG-BLUE", "quantity": 2}])
        exchange = self.send_return(
            [{"sku": "MUG-BLUE", "quantity": 1}], external_id="RET-2"
        )
        self.assertOneException(exchange, "return_exceeds_delivery")
        self.assertEqual(len(self.returns_of(order)), 1)

    def test_return_spread_over_partial_deliveries(self):
        order, delivery = self.confirmed_order()
        self.ship_by_hand(delivery, {self.mug_blue: 1, self.mug_red: 1})
        backorder = self.delivery(order)
        self.ship_by_hand(backorder)
        exchange = self.send_return([{"sku": "MUG-BLUE", "quantity": 2}])
        returned = self.returns_of(order)
        self.assertEqual(len(returned), 2)
        self.assertEqual(returned.return_id, delivery | backorder)
        self.assertEqual(sum(returned.move_ids.mapped("product_uom_qty")), 2)
        self.assertEqual(exchange.state, "done")
        keys = self.Binding.search(
            [("backend_id", "=", self.backend.id), ("res_model", "=", "stock.picking")]
        ).mapped("external_id")
        self.assertEqual(sorted(keys), ["return:RET-1", "return:RET-1/2"])

    def test_nothing_delivered_yet(self):
        order, _delivery = self.confirmed_order()
        exchange = self.send_return([{"sku": "MUG-BLUE", "quantity": 1}])
        exception = self.assertOneException(exchange, "nothing_delivered")
        self.assertEqual(exception.key, "CH-1001")
        self.assertFalse(self.returns_of(order))

    def test_unknown_order(self):
        exchange = self.send_return(
            [{"sku": "MUG-BLUE", "quantity": 1}], order="CH-404"
        )
        exception = self.assertOneException(exchange, "unknown_order")
        self.assertEqual(exception.key, "CH-404")

    def test_unknown_sku(self):
        self.shipped_order()
        exchange = self.send_return([{"sku": "MUG-GREEN", "quantity": 1}])
        exception = self.assertOneException(exchange, "unknown_sku")
        self.assertEqual(exception.json_path, "$.lines[0].sku")

    # -- what the body is, when the URL's topic is not signed ------------------

    def test_bare_shipment_reposted_as_a_return_is_refused(self):
        """A captured shipment ({external_id, order_external_id, lines}), signed
        and re-posted to the return topic, fits the return schema too: nothing
        signed says it is a return, so it is refused and returns nothing."""
        order, _delivery = self.shipped_order()
        shipment = {
            "external_id": "SH-9",
            "order_external_id": "CH-1001",
            "lines": [{"sku": "MUG-BLUE", "quantity": 1}],
        }
        exchange = self.apply("return", shipment, event_id="evt-replayed")
        self.assertEqual(exchange.state, "refused")
        self.assertIn('"kind": "return"', exchange.reason)
        self.assertIn("shipment", exchange.reason)
        self.assertFalse(self.returns_of(order))
        self.assertFalse(exchange.exception_ids, "nothing waits for review")

    def test_body_naming_another_kind_is_refused(self):
        order, _delivery = self.shipped_order()
        payload = self.return_payload(
            [{"sku": "MUG-BLUE", "quantity": 1}], kind="shipment"
        )
        exchange = self.apply("return", payload)
        self.assertEqual(exchange.state, "refused")
        self.assertIn("'shipment'", exchange.reason)
        self.assertFalse(self.returns_of(order))

    def test_ambiguous_body_naming_its_kind_applies(self):
        order, _delivery = self.shipped_order()
        exchange = self.apply(
            "return",
            {
                "kind": "return",
                "external_id": "RET-7",
                "order_external_id": "CH-1001",
                "lines": [{"sku": "MUG-BLUE", "quantity": 1}],
            },
        )
        self.assertEqual(exchange.state, "done")
        self.assertEqual(len(self.returns_of(order)), 1)
