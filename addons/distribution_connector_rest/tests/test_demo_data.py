from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_stock_publish.tests.channel_common import (
    ChannelDemoMixin,
    exchanges_by_state,
    open_exceptions_by_type,
)

REST_DEMO = "distribution_connector_rest/demo/distribution_connector_rest_demo.xml"


@tagged("-at_install", "post_install")
class TestDemoData(ChannelDemoMixin, TransactionCase):
    """The 3PL's demo (loaded here with the demos it builds on: the test
    database has none): its shipments and stock count went through the
    webhook's checks, the inbox and the flows."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpChannelDemo(REST_DEMO)
        cls.tpl = cls.env.ref("distribution_connector_rest.demo_backend_rest_3pl")

    def delivery(self, external_id):
        order = self.env["sale.order"].search(
            [("distribution_external_id", "=", external_id)]
        )
        return order.picking_ids.filtered(lambda p: p.picking_type_code == "outgoing")

    def test_shipments_validate_the_shops_deliveries(self):
        self.assertEqual((self.tpl.adapter, self.tpl.kind), ("rest", "3pl"))
        self.assertTrue(self.tpl.paused)
        shipped = self.delivery("WS-1001")
        self.assertEqual(shipped.state, "done")
        self.assertEqual(shipped.distribution_tracking_ref, "1Z999AA10123456784")
        partial = self.delivery("WS-1002")
        # the teapot shipped, the plates wait in a backorder
        self.assertEqual(sorted(partial.mapped("state")), ["assigned", "done"])
        self.assertEqual(exchanges_by_state(self.tpl), {"done": 3, "error": 1})

    def test_unknown_order_and_stock_drift(self):
        self.assertEqual(
            open_exceptions_by_type(self.tpl), {"unknown_order": 1, "stock_drift": 1}
        )
        drift = self.env["distribution.exception"].search(
            [("backend_id", "=", self.tpl.id), ("type", "=", "stock_drift")]
        )
        # 25 bowls, one shipped by SHP-50001: Odoo has 24, the count found 23
        self.assertEqual(drift.key, "DS-BOWL")
        self.assertEqual(drift.drift_qty, -1)
        self.assertEqual(drift.location_id.warehouse_id.code, "RNO")
