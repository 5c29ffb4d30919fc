"""Each flow's job run the way queue_job's runner runs it (see
``test_job_runner``): the job body inside the runner's savepoint, rolled back
if it raises. What a failing flow records must survive it, so each of these
jobs ends ``done`` and leaves its exception behind."""

from odoo.tests.common import TransactionCase

from odoo.addons.queue_job.controllers.main import RunJobController
from odoo.addons.queue_job.job import DONE, Job

from .fulfillment_adapter import FulfillmentChannelMixin


class TestFlowJobs(FulfillmentChannelMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpFulfillmentChannel()

    def run_job(self, job_uuid):
        job = Job.load(self.env, job_uuid)
        job.set_started()
        job.store()
        RunJobController._runjob(self.env, job)
        self.env.invalidate_all()
        job = self.env["queue.job"].search([("uuid", "=", job_uuid)])
        self.assertEqual(job.state, DONE, job.exc_info)
        self.assertFalse(job.exc_info)
        return job

    def run_exchange(self, kind, payload, backend=None):
        exchange = self.receive(payload, kind=kind, backend=backend)
        job = self.run_job(exchange.with_delay().process().uuid)
        return job, exchange

    def test_cancellation_after_shipping(self):
        order, delivery = self.confirmed_order()
        self.ship_by_hand(delivery)
        job, exchange = self.run_exchange(
            "order_cancellation", {"external_id": "CH-1001"}
        )
        self.assertEqual(job.result, "failed: cancel_after_shipping")
        exception = self.assertOneException(exchange, "cancel_after_shipping")
        self.assertEqual(exception.key, "CH-1001")
        self.assertEqual(order.state, "sale")

    def test_return(self):
        order, delivery = self.confirmed_order()
        self.ship_by_hand(delivery)
        job, exchange = self.run_exchange(
            "return",
            {
                "kind": "return",
                "external_id": "RET-1",
                "order_external_id": "CH-1001",
                "lines": [{"sku": "MUG-RED", "quantity": 1}],
            },
        )
        returned = order.picking_ids.filtered("return_id")
        self.assertEqual(job.result, f"done: stock.picking {returned.id}")
        self.assertEqual(exchange.state, "done")

    def test_over_shipment(self):
        _order, delivery = self.confirmed_order()
        job, exchange = self.run_exchange(
            "shipment",
            {
                "kind": "shipment",
                "external_id": "SH-1",
                "order_external_id": "CH-1001",
                "lines": [{"sku": "MUG-BLUE", "quantity": 5}],
            },
        )
        self.assertEqual(job.result, "failed: over_shipment")
        self.assertOneException(exchange, "over_shipment")
        self.assertEqual(delivery.state, "assigned")
        self.assertEqual(delivery.move_ids.mapped("quantity"), [2, 1])

    def test_partial_receipt(self):
        self.ship_by_hand(self.confirmed_order()[1])
        job, exchange = self.run_exchange(
            "return",
            {
                "kind": "return",
                "external_id": "RET-1",
                "order_external_id": "CH-1001",
                "lines": [{"sku": "MUG-BLUE", "quantity": 2}],
            },
        )
        returned = self.env["stock.picking"].browse(exchange.res_id)
        job, exchange = self.run_exchange(
            "receipt",
            {
                "external_id": "RC-1",
                "picking_name": returned.name,
                "lines": [{"sku": "MUG-BLUE", "quantity": 1}],
            },
        )
        self.assertEqual(job.result, f"done: stock.picking {returned.id}")
        self.assertEqual(returned.state, "done")
        self.assertEqual(returned.backorder_ids.move_ids.product_uom_qty, 1)

    def test_stock_snapshot_drift(self):
        job, exchange = self.run_exchange(
            "stock_snapshot",
            {
                "location": self.warehouse.code,
                "items": [{"sku": "MUG-RED", "quantity": 4}],
            },
        )
        self.assertEqual(job.result, f"done: stock.location {self.stock_location.id}")
        self.assertEqual(exchange.state, "done")
        drift = exchange.exception_ids
        self.assertRecordValues(
            drift, [{"type": "stock_drift", "state": "open", "counted_qty": 4}]
        )

    def test_refused_fulfillment(self):
        self.channel.add("POST", "/fulfillments", status=400, json_body={"error": "no"})
        _order, delivery = self.confirmed_order()
        self.ship_by_hand(delivery)
        stored = self.env["queue.job"].search(
            [("identity_key", "=", f"distribution.fulfillment:{delivery.id}")]
        )
        self.assertEqual(len(stored), 1)
        self.assertEqual(stored.channel, "root.distribution.outbound")
        job = self.run_job(stored.uuid)
        self.assertEqual(job.result, "failed: permanent")
        exchange = self.Exchange.search(
            [("kind", "=", "shipment"), ("res_id", "=", delivery.id)]
        )
        exception = self.assertOneException(exchange, "permanent")
        self.assertIn("400", exception.message)
