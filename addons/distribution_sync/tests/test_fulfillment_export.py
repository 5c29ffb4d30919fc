from odoo import Command
from odoo.tests.common import TransactionCase

from odoo.addons.distribution_connector.http_client import BackendHttpClient
from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.tests.common import trap_jobs

from .fulfillment_adapter import FulfillmentChannelMixin


class TestFulfillmentExport(FulfillmentChannelMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpFulfillmentChannel()

    def accept(self, fulfillment_id="F-1"):
        self.channel.route(
            "POST", "/fulfillments", lambda r: (201, {"id": fulfillment_id}, {})
        )

    def shipped(self, quantities=None, tracking="1Z999"):
        """An imported order's delivery validated by hand with a tracking,
        the fulfillment job trapped; (order, delivery, trapped jobs)."""
        order, delivery = self.confirmed_order()
        delivery.write(
            {"distribution_tracking_ref": tracking, "distribution_carrier": "UPS"}
        )
        with trap_jobs() as trap:
            self.ship_by_hand(delivery, quantities)
        return order, delivery, trap

    def fulfillment_exchange(self, picking):
        return self.Exchange.search(
            [
                ("backend_id", "=", self.backend.id),
                ("direction", "=", "out"),
                ("topic", "=", "fulfillment"),
                ("kind", "=", "shipment"),
                ("res_id", "=", picking.id),
            ]
        )

    def test_validating_the_delivery_enqueues_one_job(self):
        _order, delivery, trap = self.shipped()
        trap.assert_jobs_count(1)
        trap.assert_enqueued_job(
            delivery.distribution_export_fulfillment,
            properties={"identity_key": f"distribution.fulfillment:{delivery.id}"},
        )
        # the job function declared in XML puts it on the outbound channel
        self.assertEqual(trap.enqueued_jobs[0].channel, "root.distribution.outbound")
        self.assertFalse(self.channel.requests, "nothing is sent inside validation")

    def test_no_job_for_a_channel_without_fulfillments(self):
        self.backend.send_fulfillments = False
        _order, _delivery, trap = self.shipped()
        trap.assert_jobs_count(0)

    def test_no_job_when_the_adapter_cannot_send_fulfillments(self):
        self.backend.adapter = "generic_json"
        _order, _delivery, trap = self.shipped()
        trap.assert_jobs_count(0)

    def test_no_job_for_other_transfers(self):
        locations = {
            "location_id": self.env.ref("stock.stock_location_suppliers").id,
            "location_dest_id": self.stock_location.id,
        }
        receipt = self.env["stock.picking"].create(
            {
                "picking_type_id": self.warehouse.in_type_id.id,
                **locations,
                "move_ids": [
                    Command.create(
                        {
                            "product_id": self.mug_blue.id,
                            "product_uom_qty": 1,
                            **locations,
                        }
                    )
                ],
            }
        )
        receipt.action_confirm()
        with trap_jobs() as trap:
            self.ship_by_hand(receipt)
            trap.assert_jobs_count(0)

    def test_job_sends_the_shipment_and_binds_the_delivery(self):
        self.accept("F-1")
        order, delivery, trap = self.shipped()
        result = trap.enqueued_jobs[0].perform()

        self.assertEqual(result, f"done: stock.picking {delivery.id}")
        [call] = self.channel.calls("POST", "/fulfillments")
        sent = call.json()
        self.assertEqual(
            {k: v for k, v in sent.items() if k not in ("lines", "shipped_at")},
            {
                "external_id": delivery.name,
                "order_external_id": "CH-1001",
                "picking_name": delivery.name,
                "carrier": "UPS",
                "tracking_number": "1Z999",
                "complete": True,
            },
        )
        self.assertTrue(sent["shipped_at"].endswith("Z"))
        self.assertEqual(
            sorted(sent["lines"], key=lambda line: line["sku"]),
            [
                {"sku": "MUG-BLUE", "quantity": 2, "line_external_id": "L1"},
                {"sku": "MUG-RED", "quantity": 1, "line_external_id": "L2"},
            ],
        )
        binding = self.Binding._find(self.backend, "stock.picking", "fulfillment:F-1")
        self.assertEqual(binding.res_id, delivery.id)
        exchange = self.fulfillment_exchange(delivery)
        self.assertRecordValues(
            exchange, [{"state": "done", "external_ref": "CH-1001", "attempts": 1}]
        )
        self.assertIn('"F-1"', exchange.response_body)
        # the HTTP client logged the call itself
        self.assertTrue(
            self.env["distribution.call.log"].search(
                [
                    ("backend_id", "=", self.backend.id),
                    ("method", "=", "POST"),
                    ("path", "=like", "%/fulfillments"),
                    ("response_status", "=", 201),
                    ("origin", "=", f"distribution.exchange,{exchange.id}"),
                ]
            )
        )
        self.assertEqual(order.distribution_external_id, "CH-1001")

        # a second run does nothing
        self.assertEqual(
            delivery.distribution_export_fulfillment(), "nothing to do: already sent"
        )
        self.assertEqual(len(self.channel.calls("POST", "/fulfillments")), 1)

    def test_partial_delivery_sends_what_shipped(self):
        self.accept("F-2")
        _order, _delivery, trap = self.shipped({self.mug_blue: 1})
        trap.perform_enqueued_jobs()
        sent = self.channel.calls("POST", "/fulfillments")[0].json()
        self.assertEqual(
            sent["lines"],
            [{"sku": "MUG-BLUE", "quantity": 1, "line_external_id": "L1"}],
        )
        self.assertFalse(sent["complete"])

    def test_sku_of_the_mapping(self):
        self.map_sku(self.backend, "CH-BLUE-MUG", self.mug_blue)
        self.import_order(
            self.order_payload(
                lines=[{"sku": "CH-BLUE-MUG", "quantity": 1, "unit_price": 12}]
            )
        )
        self.accept()
        delivery = self.delivery(self.orders())
        with trap_jobs() as trap:
            self.ship_by_hand(delivery)
            trap.perform_enqueued_jobs()
        sent = self.channel.calls("POST", "/fulfillments")[0].json()
        self.assertEqual(sent["lines"], [{"sku": "CH-BLUE-MUG", "quantity": 1}])

    def test_refused_fulfillment_becomes_an_exception_with_a_retry(self):
        self.channel.add(
            "POST", "/fulfillments", status=422, json_body={"error": "closed"}
        )
        _order, delivery, trap = self.shipped()
        result = trap.enqueued_jobs[0].perform()
        self.assertEqual(result, "failed: permanent")
        exchange = self.fulfillment_exchange(delivery)
        exception = self.assertOneException(exchange, "permanent")
        self.assertIn("422", exception.message)
        self.assertIn('"tracking_number": "1Z999"', exchange.raw_body)
        self.assertIn("nothing to do", delivery.distribution_export_fulfillment())

        # the channel accepts it now: Retry sends it on the outbound channel
        self.accept("F-3")
        with trap_jobs() as trap:
            exception.action_retry()
            trap.assert_enqueued_job(
                exchange.process, properties={"channel": "root.distribution.outbound"}
            )
            trap.perform_enqueued_jobs()
        self.assertEqual(exchange.state, "done")
        self.assertEqual(exception.state, "resolved")
        self.assertTrue(
            self.Binding._find(self.backend, "stock.picking", "fulfillment:F-3")
        )

    def test_channel_down_retries_the_job(self):
        self.patch(BackendHttpClient, "backoff", 0)
        self.channel.route("POST", "/fulfillments", lambda r: (503, {}, {}))
        _order, _delivery, trap = self.shipped()
        with self.assertRaises(RetryableJobError):
            trap.enqueued_jobs[0].perform()
        self.assertFalse(
            self.Binding._find(self.backend, "stock.picking", "fulfillment:F-1")
        )

    def test_3pl_shipment_sends_its_tracking_to_the_channel(self):
        """A 3PL's shipment validates the delivery; the channel is told."""
        self.accept("F-4")
        _order, delivery = self.confirmed_order()
        warehouse_3pl = self.make_backend("3PL", kind="3pl")
        with trap_jobs() as trap:
            self.apply(
                "shipment",
                {
                    "external_id": "SH-9",
                    "order_external_id": "CH-1001",
                    "tracking_number": "TRK-42",
                    "carrier": "DHL",
                    "lines": [
                        {"sku": "MUG-BLUE", "quantity": 2},
                        {"sku": "MUG-RED", "quantity": 1},
                    ],
                },
                backend=warehouse_3pl,
            )
            trap.assert_jobs_count(1, only=delivery.distribution_export_fulfillment)
            trap.perform_enqueued_jobs()
        sent = self.channel.calls("POST", "/fulfillments")[0].json()
        self.assertEqual((sent["carrier"], sent["tracking_number"]), ("DHL", "TRK-42"))
