"""Orders Amazon fulfills (FBA): imported once shipped, delivered from the
backend's FBA warehouse without a picking left to ship, and nothing confirmed
back; Amazon's FBA inventory read for reconciliation only. The inventory
fixtures follow the FBA Inventory API v1 reference (GetInventorySummaries
response, pagination.nextToken)."""

from datetime import datetime

from odoo.exceptions import AccessError
from odoo.service.model import call_kw
from odoo.tests.common import TransactionCase, new_test_user, tagged

from odoo.addons.queue_job.tests.common import trap_jobs

from .common import LWA, ORDERS, RDT, AmazonTestMixin, amazon_order, fixture

FBA_ORDER = "303-7654321-1234567"
MFN_ORDER = "902-3159896-1390916"
SUMMARIES = "/fba/inventory/v1/summaries"


@tagged("-at_install", "post_install")
class TestFba(AmazonTestMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpAmazon()
        cls.backend.amazon_marketplace_line_ids.fulfillment_channel = "both"
        cls.backend.action_amazon_create_fba_warehouse()
        cls.fba = cls.backend.amazon_fba_warehouse_id
        (cls.mug_blue | cls.mug_red).is_storable = True
        for product, quantity in ((cls.mug_blue, 5), (cls.mug_red, 3)):
            cls.env["stock.quant"]._update_available_quantity(
                product, cls.fba.lot_stock_id, quantity
            )

    def pull(self):
        with trap_jobs() as trap:
            result = self.backend._pull_orders()
        self.perform(trap)
        return result

    def sale(self, order_id):
        return self.env["sale.order"].search(
            [
                ("distribution_backend_id", "=", self.backend.id),
                ("distribution_external_id", "=", order_id),
            ]
        )

    def test_fba_order_delivered_by_amazon_without_picking_to_ship(self):
        order = amazon_order(
            FBA_ORDER,
            FulfillmentChannel="AFN",
            OrderStatus="Shipped",
            ShipServiceLevel="Expedited",
        )
        self.amazon.add_order(order)
        self.amazon.pages([order])
        with trap_jobs() as trap:
            self.backend._pull_orders()
            self.perform(trap)
            sale = self.sale(FBA_ORDER)
            self.assertEqual(sale.state, "sale")
            self.assertEqual(sale.amazon_fulfillment_channel, "AFN")
            self.assertEqual(sale.warehouse_id, self.fba)
            self.assertTrue(sale.picking_ids)
            self.assertEqual(set(sale.picking_ids.mapped("state")), {"done"})
            self.assertEqual(
                sale.picking_ids.location_id, self.fba.lot_stock_id, "from FBA"
            )
            products = sale.order_line.filtered(
                lambda line: line.product_id.is_storable
            )
            self.assertEqual(
                products.mapped("qty_delivered"), products.mapped("product_uom_qty")
            )
            # Amazon shipped it: no shipment confirmation goes out
            fulfillments = [
                job
                for job in trap.enqueued_jobs
                if job.method_name == "distribution_export_fulfillment"
            ]
            self.assertEqual(fulfillments, [])
        self.assertEqual(
            self.env["stock.quant"]._get_available_quantity(
                self.mug_blue, self.fba.lot_stock_id
            ),
            3,
        )
        # Amazon's stock, not the merchant listings': nothing held back
        exchange = self.Exchange.search(
            [("backend_id", "=", self.backend.id), ("external_ref", "=", FBA_ORDER)]
        )
        self.assertEqual(exchange._order_lines(self.adapter), (FBA_ORDER, []))
        # no address was needed: no restricted data token asked for
        self.assertFalse(self.server.calls("POST", RDT))
        self.assertFalse(self.server.calls("GET", f"{ORDERS}/{FBA_ORDER}/address"))

    def test_fba_order_waits_until_amazon_shipped_it(self):
        order = amazon_order(FBA_ORDER, FulfillmentChannel="AFN")
        self.amazon.add_order(order)
        self.amazon.pages([order])
        self.assertEqual(list(self.adapter.pull_orders(datetime(2025, 3, 1))), [])
        query = self.server.calls("GET", ORDERS)[0].query
        self.assertEqual(query["FulfillmentChannels"], ["AFN,MFN"])

    def test_merchant_order_holds_its_units_back_from_published_stock(self):
        order = amazon_order(MFN_ORDER)
        self.amazon.add_order(order)
        self.amazon.pages([order])
        self.pull()
        exchange = self.Exchange.search(
            [("backend_id", "=", self.backend.id), ("external_ref", "=", MFN_ORDER)]
        )
        self.assertEqual(
            exchange._order_lines(self.adapter),
            (MFN_ORDER, [("MUG-BLUE", 2.0), ("MUG-RED", 1.0)]),
        )

    def test_marketplace_of_merchant_orders_only_skips_fba(self):
        self.backend.amazon_marketplace_line_ids.fulfillment_channel = "mfn"
        fba = amazon_order(FBA_ORDER, FulfillmentChannel="AFN", OrderStatus="Shipped")
        mfn = amazon_order(MFN_ORDER)
        for order in (fba, mfn):
            self.amazon.add_order(order)
        self.amazon.pages([fba, mfn])
        pulled = list(self.adapter.pull_orders(datetime(2025, 3, 1)))
        self.assertEqual([item["external_ref"] for item in pulled], [MFN_ORDER])

    def test_fba_order_without_fba_warehouse_is_a_configuration_exception(self):
        self.backend.amazon_fba_warehouse_id = False
        order = amazon_order(FBA_ORDER, FulfillmentChannel="AFN", OrderStatus="Shipped")
        self.amazon.add_order(order)
        self.amazon.pages([order])
        self.pull()
        self.assertFalse(self.sale(FBA_ORDER))
        exception = self.Exception.search(
            [("backend_id", "=", self.backend.id), ("key", "=", FBA_ORDER)]
        )
        self.assertEqual(exception.type, "configuration")

    def test_fba_inventory_read_for_reconciliation(self):
        pages = [
            fixture("fba_inventory_summaries.json"),
            fixture("fba_inventory_summaries_page2.json"),
        ]
        for page in pages:
            self.server.add(
                "GET",
                SUMMARIES,
                json_body=page,
                headers={"x-amzn-RateLimit-Limit": "2"},
            )
        with trap_jobs() as trap:
            result = self.backend._check_fba_inventory()
        self.assertEqual(result, "2 FBA SKUs read")
        first, second = self.server.calls("GET", SUMMARIES)
        self.assertEqual(
            first.query,
            {
                "details": ["true"],
                "granularityType": ["Marketplace"],
                "granularityId": ["A1PA6795UKMFR9"],
                "marketplaceIds": ["A1PA6795UKMFR9"],
            },
        )
        self.assertEqual(second.query["nextToken"], ["seed-page-2"])
        self.assertEqual(len(self.server.calls("POST", LWA)), 1)
        self.perform(trap)
        snapshot = self.Exchange.search(
            [("backend_id", "=", self.backend.id), ("kind", "=", "stock_snapshot")]
        )
        self.assertEqual(snapshot.state, "done")
        # Amazon holds 7 fulfillable + 1 reserved blue mugs (the 30 inbound
        # are not there yet), Odoo's FBA warehouse 5: a drift to review;
        # the red mugs agree
        drift = self.Exception.search(
            [("backend_id", "=", self.backend.id), ("type", "=", "stock_drift")]
        )
        self.assertEqual(drift.product_id, self.mug_blue)
        self.assertEqual((drift.counted_qty, drift.odoo_qty), (8, 5))
        self.assertEqual(drift.location_id, self.fba.lot_stock_id)
        # nothing was published or changed in Odoo's stock
        self.assertEqual(
            self.env["stock.quant"]._get_available_quantity(
                self.mug_blue, self.fba.lot_stock_id
            ),
            5,
        )
        watermark = self.env["distribution.watermark"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("flow", "=", "amazon_fba_inventory"),
            ]
        )
        self.assertTrue(watermark.last_run_at)

    def test_buttons_refused_to_plain_users_over_rpc(self):
        user = new_test_user(
            self.env,
            "amazon_plain_user",
            groups="base.group_user,distribution_connector.group_distribution_user",
        )
        backends = self.env["distribution.backend"].with_user(user)
        for method in (
            "action_amazon_create_fba_warehouse",
            "action_check_fba_inventory",
            "action_import_amazon_settlements",
        ):
            with self.assertRaises(AccessError, msg=method):
                call_kw(backends, method, [self.backend.ids], {})
