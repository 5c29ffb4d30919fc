from odoo import Command
from odoo.tests.common import TransactionCase

from .common import StockFlowMixin


class TestReceiptImport(StockFlowMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpStockFlows()
        cls.warehouse_3pl = cls.make_backend("3PL", kind="3pl")

    def incoming(self, origin="PO-42"):
        """A confirmed receipt of 5 blue and 5 red mugs from a supplier."""
        suppliers = self.env.ref("stock.stock_location_suppliers")
        picking = self.env["stock.picking"].create(
            {
                "picking_type_id": self.warehouse.in_type_id.id,
                "origin": origin,
                "location_id": suppliers.id,
                "location_dest_id": self.stock_location.id,
                "move_ids": [
                    Command.create(
                        {
                            "product_id": product.id,
                            "product_uom_qty": 5,
                            "location_id": suppliers.id,
                            "location_dest_id": self.stock_location.id,
                        }
                    )
                    for product in self.mug_blue | self.mug_red
                ],
            }
        )
        picking.action_confirm()
        return picking

    def receive_goods(self, picking_name, lines, external_id="RC-1", event_id=None):
        payload = {"picking_name": picking_name, "lines": lines}
        if external_id:
            payload["external_id"] = external_id
        return self.apply(
            "receipt", payload, event_id=event_id, backend=self.warehouse_3pl
        )

    def test_receipt_validates_the_incoming_transfer(self):
        receipt = self.incoming()
        exchange = self.receive_goods(
            receipt.name,
            [{"sku": "MUG-BLUE", "quantity": 5}, {"sku": "MUG-RED", "quantity": 5}],
            event_id="evt-rc-1",
        )
        self.assertRecordValues(
            exchange,
            [{"state": "done", "res_model": "stock.picking", "res_id": receipt.id}],
        )
        self.assertEqual(receipt.state, "done")
        self.assertFalse(receipt.backorder_ids)
        self.assertEqual(self.on_hand(self.mug_blue), 15)
        # delivered again: nothing more comes in
        again = self.receive_goods(
            receipt.name,
            [{"sku": "MUG-BLUE", "quantity": 5}, {"sku": "MUG-RED", "quantity": 5}],
            event_id="evt-rc-2",
        )
        self.assertEqual(again.state, "done")
        self.assertEqual(self.on_hand(self.mug_blue), 15)

    def test_partial_receipt_by_origin_leaves_a_backorder(self):
        receipt = self.incoming(origin="PO-77")
        self.receive_goods("PO-77", [{"sku": "MUG-BLUE", "quantity": 3}])
        self.assertEqual(receipt.state, "done")
        backorder = receipt.backorder_ids
        self.assertEqual(len(backorder), 1)
        self.assertEqual(
            {m.product_id: m.product_uom_qty for m in backorder.move_ids},
            {self.mug_blue: 2, self.mug_red: 5},
        )
        self.assertEqual(self.on_hand(self.mug_blue), 13)
        self.assertEqual(self.on_hand(self.mug_red), 10)
        # the rest, by the same origin, validates the backorder
        self.receive_goods(
            "PO-77",
            [{"sku": "MUG-BLUE", "quantity": 2}, {"sku": "MUG-RED", "quantity": 5}],
            external_id="RC-2",
        )
        self.assertEqual(backorder.state, "done")
        self.assertEqual(self.on_hand(self.mug_blue), 15)

    def test_over_receipt(self):
        receipt = self.incoming()
        exchange = self.receive_goods(
            receipt.name, [{"sku": "MUG-BLUE", "quantity": 6}]
        )
        exception = self.assertOneException(exchange, "over_receipt")
        self.assertEqual(exception.key, "MUG-BLUE")
        self.assertNotEqual(receipt.state, "done")

    def test_unknown_receipt(self):
        exchange = self.receive_goods("PO-404", [{"sku": "MUG-BLUE", "quantity": 1}])
        exception = self.assertOneException(exchange, "unknown_picking")
        self.assertEqual(exception.key, "PO-404")
        self.assertEqual(exception.json_path, "$.picking_name")

    def test_receipt_of_a_customer_return(self):
        """A channel's return creates the return transfer, the warehouse's
        receipt puts the goods back in stock."""
        order, delivery = self.confirmed_order()
        self.ship_by_hand(delivery)
        self.apply(
            "return",
            {
                "kind": "return",
                "external_id": "RET-1",
                "order_external_id": "CH-1001",
                "lines": [{"sku": "MUG-BLUE", "quantity": 1}],
            },
        )
        returned = order.picking_ids.filtered("return_id")
        self.assertEqual(self.on_hand(self.mug_blue), 8)
        self.receive_goods(returned.name, [{"sku": "MUG-BLUE", "quantity": 1}])
        self.assertEqual(returned.state, "done")
        self.assertEqual(self.on_hand(self.mug_blue), 9)
        blue_line = order.order_line.filtered(
            lambda line: line.product_id == self.mug_blue
        )
        self.assertEqual(blue_line.qty_delivered, 1)

    def test_same_receipt_without_id_under_two_delivery_ids_receives_once(self):
        receipt = self.incoming(origin="PO-88")
        lines = [{"sku": "MUG-BLUE", "quantity": 2}, {"sku": "MUG-RED", "quantity": 1}]
        first = self.receive_goods("PO-88", lines, external_id=None, event_id="e-1")
        backorder = receipt.backorder_ids
        again = self.receive_goods(
            "PO-88", list(reversed(lines)), external_id=None, event_id="e-2"
        )
        self.assertEqual(self.on_hand(self.mug_blue), 12)
        self.assertEqual(self.on_hand(self.mug_red), 11)
        self.assertRecordValues(
            again,
            [
                {
                    "state": "done",
                    "res_id": receipt.id,
                    "is_duplicate": True,
                    "duplicate_of_id": first.id,
                }
            ],
        )
        self.assertTrue(first.idempotency_key.startswith("receipt-content:"))
        self.assertNotEqual(backorder.state, "done")
        self.assertEqual(
            {m.product_id: m.product_uom_qty for m in backorder.move_ids},
            {self.mug_blue: 3, self.mug_red: 4},
        )
        # the rest of the goods, another receipt of the same origin: applied
        rest = self.receive_goods(
            "PO-88",
            [{"sku": "MUG-BLUE", "quantity": 3}, {"sku": "MUG-RED", "quantity": 4}],
            external_id=None,
            event_id="e-3",
        )
        self.assertRecordValues(
            rest, [{"state": "done", "res_id": backorder.id, "is_duplicate": False}]
        )
        self.assertEqual(self.on_hand(self.mug_blue), 15)
        self.assertEqual(self.on_hand(self.mug_red), 15)
