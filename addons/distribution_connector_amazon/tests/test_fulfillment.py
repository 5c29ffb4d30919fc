"""End to end: an Amazon order pulled, its delivery validated in Odoo with
a tracking number, the fulfillment job confirms the shipment once."""

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_sync.tests.common import StockFlowMixin
from odoo.addons.queue_job.tests.common import trap_jobs

from .common import ORDERS, AmazonTestMixin, amazon_order

ORDER_ID = "902-3159896-1390916"
CONFIRM = f"{ORDERS}/{ORDER_ID}/shipmentConfirmation"


@tagged("-at_install", "post_install")
class TestShipmentConfirmation(AmazonTestMixin, StockFlowMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpAmazon()
        (cls.mug_blue | cls.mug_red).is_storable = True
        warehouse = cls.env["stock.warehouse"].search(
            [("company_id", "=", cls.company.id)], limit=1
        )
        for product in cls.mug_blue | cls.mug_red:
            cls.env["stock.quant"]._update_available_quantity(
                product, warehouse.lot_stock_id, 10
            )

    def pulled_order(self):
        order = amazon_order(ORDER_ID)
        self.amazon.add_order(order)
        self.amazon.pages([order])
        with trap_jobs() as trap:
            self.backend._pull_orders()
        self.perform(trap)
        sale = self.env["sale.order"].search(
            [("distribution_external_id", "=", ORDER_ID)]
        )
        self.assertEqual(sale.state, "sale")
        return sale

    def test_validated_delivery_confirms_the_shipment_once(self):
        sale = self.pulled_order()
        delivery = self.delivery(sale)
        delivery.write(
            {
                "distribution_tracking_ref": "00340434161094042557",
                "distribution_carrier": "DHL",
            }
        )
        with trap_jobs() as trap:
            self.ship_by_hand(delivery)
            trap.assert_jobs_count(1, only=delivery.distribution_export_fulfillment)
            self.assertFalse(self.server.calls("POST", CONFIRM))
            jobs = self.run_trapped_jobs(trap)
        self.assertEqual(jobs[0].result, f"done: stock.picking {delivery.id}")
        (call,) = self.server.calls("POST", CONFIRM)
        body = call.json()
        self.assertEqual(body["marketplaceId"], "A1PA6795UKMFR9")
        detail = body["packageDetail"]
        self.assertEqual(detail["carrierCode"], "DHL")
        self.assertEqual(detail["trackingNumber"], "00340434161094042557")
        self.assertTrue(detail["packageReferenceId"].isdigit())
        self.assertEqual(
            detail["orderItems"],
            [
                {"orderItemId": "68828574383266", "quantity": 2},
                {"orderItemId": "68828574383267", "quantity": 1},
            ],
        )
        # the job again: already sent, nothing goes out
        self.assertEqual(jobs[0].perform(), "nothing to do: already sent")
        self.assertEqual(len(self.server.calls("POST", CONFIRM)), 1)

    def test_items_amazon_saw_shipped_are_not_sent_again(self):
        order = amazon_order(ORDER_ID)
        self.amazon.add_order(order)
        for item in self.amazon.items[ORDER_ID]["payload"]["OrderItems"]:
            item["QuantityShipped"] = item["QuantityOrdered"]
        shipment = {
            "order_external_id": ORDER_ID,
            "carrier": "Kurier Schmidt",
            "lines": [
                {"sku": "MUG-BLUE", "quantity": 2.0},
                {"sku": "MUG-RED", "quantity": 1.0},
            ],
        }
        self.assertEqual(
            self.adapter.export_fulfillment(shipment), {"external_id": None}
        )
        self.assertFalse(self.server.calls("POST", CONFIRM))
        # one item left: only it is confirmed, as another carrier
        self.amazon.items[ORDER_ID]["payload"]["OrderItems"][1]["QuantityShipped"] = 0
        self.adapter.export_fulfillment(shipment)
        (call,) = self.server.calls("POST", CONFIRM)
        detail = call.json()["packageDetail"]
        self.assertEqual(
            detail["orderItems"], [{"orderItemId": "68828574383267", "quantity": 1}]
        )
        self.assertEqual(
            (detail["carrierCode"], detail["carrierName"]), ("Other", "Kurier Schmidt")
        )
