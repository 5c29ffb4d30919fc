"""End to end against a fake partner (3PL, WMS): a delivery validated in
Odoo is sent as a canonical shipment; stock changes are published in
batches of the partner's size."""

import json

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_connector.tests.common import FakeChannelMixin
from odoo.addons.distribution_stock_publish.tests.channel_common import (
    PublishChannelMixin,
)
from odoo.addons.distribution_sync.tests.common import StockFlowMixin
from odoo.addons.queue_job.tests.common import trap_jobs

TOKEN = "wms-token-0123456789"
SHIPMENTS = "/v1/warehouse/shipments"
LEVELS = "/v1/inventory/levels"
CHANGES = "/v1/inventory/changes"


@tagged("-at_install", "post_install")
class TestRestFulfillmentFlow(FakeChannelMixin, StockFlowMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpFakeChannel()
        # a channel selling two storable mugs, ten of each in stock
        cls.setUpStockFlows()
        cls.backend.write(
            cls.fake_channel_vals(
                adapter="rest",
                kind="b2b_portal",
                api_base_url=cls.server.url + "/v1",
                api_secret=TOKEN,
                rest_fulfillment_path="warehouse/shipments",
            )
        )

    def test_validated_delivery_sends_the_canonical_shipment(self):
        self.server.route(
            "POST", SHIPMENTS, lambda request: (201, {"external_id": "SHP-77"}, {})
        )
        # the portal's order, imported through the REST adapter's exchange
        order, delivery = self.confirmed_order()
        self.assertEqual(order.distribution_backend_id.adapter, "rest")
        jobs = self.ship_with_tracking(
            delivery, self.server, "1Z999", "https://track.example.com/1Z999"
        )
        (call,) = self.server.calls("POST", SHIPMENTS)
        self.assertEqual(call.headers["authorization"], f"Bearer {TOKEN}")
        self.assertEqual(call.headers["content-type"], "application/json")
        sent = call.json()
        self.assertEqual(
            {k: v for k, v in sent.items() if k not in ("lines", "shipped_at")},
            {
                "external_id": delivery.name,
                "order_external_id": "CH-1001",
                "picking_name": delivery.name,
                "carrier": "UPS",
                "tracking_number": "1Z999",
                "tracking_url": "https://track.example.com/1Z999",
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

        exchange = self.fulfillment_exchange(delivery)
        self.assertRecordValues(
            exchange, [{"state": "done", "external_ref": "CH-1001", "attempts": 1}]
        )
        self.assertEqual(json.loads(exchange.raw_body), sent)
        self.assertEqual(json.loads(exchange.response_body), {"external_id": "SHP-77"})
        binding = self.Binding._find(
            self.backend, "stock.picking", "fulfillment:SHP-77"
        )
        self.assertEqual(binding.res_id, delivery.id)
        self.assertEqual(order.distribution_external_id, "CH-1001")

        self.assertSentOnce(jobs[0], delivery, self.server)
        self.assertEqual(len(self.server.calls("POST", SHIPMENTS)), 1)


class FakeWarehouse:
    """The partner's stock endpoints: compare-and-set per SKU (a stale
    ``compare_quantity`` is a mismatch answered with its number), or a
    ``change`` added to its number (the changes endpoint); SKUs it refuses
    answered ``error``."""

    def __init__(self):
        self.levels = {}
        self.refused = set()

    def __call__(self, recorded):
        results = []
        for item in recorded.json()["items"]:
            sku = item["sku"]
            current = self.levels.get(sku)
            if sku in self.refused:
                results.append(
                    {"sku": sku, "status": "error", "message": "Unknown SKU."}
                )
            elif item.get("compare_quantity") is not None and (
                item["compare_quantity"] != current
            ):
                results.append(
                    {"sku": sku, "status": "mismatch", "actual_quantity": current}
                )
            elif "change" in item:
                self.levels[sku] = current + item["change"]
                results.append(
                    {"sku": sku, "status": "ok", "actual_quantity": self.levels[sku]}
                )
            else:
                self.levels[sku] = item["quantity"]
                results.append(
                    {"sku": sku, "status": "ok", "actual_quantity": item["quantity"]}
                )
        return 200, {"results": results}, {}


@tagged("-at_install", "post_install")
class TestRestStockPublish(PublishChannelMixin, FakeChannelMixin, TransactionCase):
    """Distribution Stock Publishing's dirty marks, sweep and export jobs, to
    a fake partner through the REST adapter, two items a call."""

    publish_warehouse = ("Partner warehouse", "RSTW")
    publish_stock = {
        f"plate_{n}": (f"Plate {n}", f"PLATE-{n}", 10 * n) for n in range(1, 6)
    }

    @classmethod
    def setUpChannel(cls):
        cls.setUpFakeChannel()
        cls.setUpDistribution()
        cls.backend.write(
            cls.fake_channel_vals(
                adapter="rest",
                kind="3pl",
                api_base_url=cls.server.url + "/v1",
                api_secret=TOKEN,
                rest_stock_path="inventory/levels",
                rest_stock_batch_size=2,
            )
        )

    def setUp(self):
        super().setUp()
        self.partner = FakeWarehouse()
        self.server.route("POST", LEVELS, self.partner)
        self.publish_everything()
        self.server.requests.clear()

    def levels(self):
        return {p.default_code: self.level(p) for p in self.published_products}

    def sent_batches(self):
        return [call.json()["items"] for call in self.server.calls("POST", LEVELS)]

    def publish_everything(self):
        """The first publication: every level, never published before."""
        self.publish()
        self.assertEqual(
            [len(batch) for batch in self.sent_batches()], [2, 2, 1], "two a call"
        )
        self.assertEqual(
            [
                item["compare_quantity"]
                for batch in self.sent_batches()
                for item in batch
            ],
            [None] * 5,
            "nothing to compare with yet",
        )
        self.assertEqual(
            self.partner.levels,
            {f"PLATE-{n}": 10 * n for n in range(1, 6)},
        )

    def change_stock(self, changes):
        """Move stock as any inventory operation does; then what happens at
        commit: the levels are marked dirty and the sweep job enqueued.
        Return the sweep job."""
        for product, delta in changes.items():
            self.env["stock.quant"]._update_available_quantity(
                product, self.location, delta
            )
        with trap_jobs() as trap:
            self.Level._flush_dirty_marks()
        (sweep,) = trap.enqueued_jobs
        self.assertEqual(sweep.method_name, "sweep")
        return sweep

    def run_sweep(self, sweep):
        """Run the sweep job; return the export jobs it enqueued."""
        with trap_jobs() as trap:
            sweep.perform()
        jobs = trap.enqueued_jobs
        self.assertEqual({job.method_name for job in jobs}, {"export_batch"})
        self.assertEqual({job.channel for job in jobs}, {"root.distribution.outbound"})
        return jobs

    def test_stock_changes_go_out_in_batches_and_are_recorded_once_confirmed(self):
        p1, p2, _p3, p4, _p5 = self.published_products
        sweep = self.change_stock({p1: -3, p2: 5, p4: -1})
        levels = self.levels()
        self.assertEqual(
            {sku: level.to_recompute for sku, level in levels.items()},
            {
                "PLATE-1": True,
                "PLATE-2": True,
                "PLATE-3": False,
                "PLATE-4": True,
                "PLATE-5": False,
            },
        )

        exports = self.run_sweep(sweep)
        self.assertEqual(len(exports), 2, "three changed levels, two a job")
        # recomputed, handed to the export jobs, nothing published yet
        for sku, computed in (("PLATE-1", 7), ("PLATE-2", 25), ("PLATE-4", 39)):
            self.assertRecordValues(
                levels[sku], [{"state": "exporting", "computed_qty": computed}]
            )
        self.assertEqual(levels["PLATE-1"].published_qty, 10)
        self.assertFalse(self.server.requests)

        for job in exports:
            job.perform()
        # two calls (the jobs batch levels in the order of their ids), the
        # changed levels only, compared with what the partner confirmed
        batches = self.sent_batches()
        self.assertEqual(sorted(len(batch) for batch in batches), [1, 2])
        self.assertEqual(
            sorted((item for batch in batches for item in batch), key=str),
            [
                {"sku": "PLATE-1", "quantity": 7, "compare_quantity": 10},
                {"sku": "PLATE-2", "quantity": 25, "compare_quantity": 20},
                {"sku": "PLATE-4", "quantity": 39, "compare_quantity": 40},
            ],
        )
        self.assertEqual(
            self.server.calls("POST", LEVELS)[0].headers["authorization"],
            f"Bearer {TOKEN}",
        )
        self.assertEqual(
            self.partner.levels,
            {"PLATE-1": 7, "PLATE-2": 25, "PLATE-3": 30, "PLATE-4": 39, "PLATE-5": 50},
        )
        published = {
            sku: (level.state, level.published_qty) for sku, level in levels.items()
        }
        self.assertEqual(
            published,
            {
                "PLATE-1": ("clean", 7),
                "PLATE-2": ("clean", 25),
                "PLATE-3": ("clean", 30),
                "PLATE-4": ("clean", 39),
                "PLATE-5": ("clean", 50),
            },
        )
        # each call is logged
        self.assertEqual(
            self.env["distribution.call.log"].search_count(
                [
                    ("backend_id", "=", self.backend.id),
                    ("topic", "=", "stock"),
                    ("state", "=", "done"),
                ]
            ),
            5,
            "three calls for the first publication, two now",
        )

        # the same jobs again: nothing waits for export, nothing is sent
        for job in exports:
            self.assertIn("nothing to do", job.perform())
        self.assertEqual(len(self.server.calls("POST", LEVELS)), 2)

    def test_only_confirmed_quantities_are_recorded(self):
        p1, p2, p3, _p4, _p5 = self.published_products
        # the partner refuses one SKU; another was counted again on their side
        self.partner.refused.add("PLATE-2")
        self.partner.levels["PLATE-3"] = 28
        sweep = self.change_stock({p1: -3, p2: 5, p3: -4})
        for job in self.run_sweep(sweep):
            job.perform()
        levels = self.levels()
        self.assertRecordValues(
            levels["PLATE-1"], [{"state": "clean", "published_qty": 7}]
        )
        # refused: in error, the last confirmed quantity is kept
        self.assertRecordValues(
            levels["PLATE-2"],
            [{"state": "error", "published_qty": 20, "computed_qty": 25}],
        )
        self.assertIn("Unknown SKU.", levels["PLATE-2"].error)
        # compare-and-set refused: the partner's number plus our change
        # (28 - 4), so that the 2 units it sold meanwhile stay sold
        self.assertRecordValues(
            levels["PLATE-3"], [{"state": "clean", "published_qty": 24}]
        )
        plate_3 = [
            (item["quantity"], item["compare_quantity"])
            for batch in self.sent_batches()
            for item in batch
            if item["sku"] == "PLATE-3"
        ]
        self.assertEqual(plate_3, [(26, 30), (24, 28)])
        self.assertEqual(self.partner.levels["PLATE-3"], 24)

    def test_a_change_endpoint_gets_the_change_and_keeps_the_partners_sales(self):
        p1, _p2, p3, _p4, _p5 = self.published_products
        self.backend.rest_stock_change_path = "inventory/changes"
        self.server.route("POST", CHANGES, self.partner)
        # the partner sold 2 of plate 3 meanwhile; its order is not in Odoo yet
        self.partner.levels["PLATE-3"] = 28
        sweep = self.change_stock({p1: -3, p3: -4})
        for job in self.run_sweep(sweep):
            job.perform()
        # published before: only what changed in Odoo is sent, as a change
        self.assertFalse(self.server.calls("POST", LEVELS))
        sent = sorted(
            (
                item
                for call in self.server.calls("POST", CHANGES)
                for item in call.json()["items"]
            ),
            key=str,
        )
        self.assertEqual(
            sent, [{"sku": "PLATE-1", "change": -3}, {"sku": "PLATE-3", "change": -4}]
        )
        # the partner added the change to its own number: the 2 units it sold
        # stay sold, and what it confirmed is recorded
        self.assertEqual(self.partner.levels["PLATE-1"], 7)
        self.assertEqual(self.partner.levels["PLATE-3"], 24)
        levels = self.levels()
        self.assertRecordValues(
            levels["PLATE-3"],
            [{"state": "clean", "published_qty": 24, "basis_qty": 26}],
        )
        # the basis is 30 - 4: once the partner's order of 2 reaches the
        # inbox, both the basis and the engine's number go down by 2 (24),
        # which is what the partner shows: the next change is 0
