from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_stock_publish.tests.channel_common import (
    ChannelDemoMixin,
    open_exceptions_by_type,
)

CSV_DEMO = "distribution_connector_csv/demo/distribution_connector_csv_demo.xml"


@tagged("-at_install", "post_install")
class TestDemoData(ChannelDemoMixin, TransactionCase):
    """The CSV 3PL's demo (loaded here with the demos it builds on): its stock
    count file went through the inbox and the flows, its order file waits."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpChannelDemo(CSV_DEMO)
        cls.tpl = cls.env.ref("distribution_connector_csv.demo_backend_csv_3pl")

    def test_stock_file_split_into_a_count_and_a_rejected_row(self):
        self.assertEqual((self.tpl.adapter, self.tpl.kind), ("csv", "3pl"))
        self.assertTrue(self.tpl.paused)
        [stock_file] = self.env["distribution.exchange"].search(
            [("backend_id", "=", self.tpl.id), ("kind", "=", "csv_file")]
        )
        self.assertEqual(stock_file.raw_body_charset, "latin-1")
        self.assertIn("Théière", stock_file._get_raw_bytes().decode("cp1252"))
        self.assertEqual(
            sorted(stock_file.csv_part_ids.mapped("state")), ["done", "error"]
        )
        self.assertEqual(
            open_exceptions_by_type(self.tpl), {"stock_drift": 3, "invalid_payload": 1}
        )
        rejected = stock_file.csv_part_ids.exception_ids.filtered(
            lambda e: e.type == "invalid_payload"
        )
        self.assertEqual(
            rejected.message,
            "STOCK_NWL_20250301.csv, line 5, column OnHand: quantity: 'deux' is "
            "not a number",
        )

    def test_confirmed_order_file_waits_for_the_paused_3pl(self):
        [order_file] = self.env["distribution.exchange"].search(
            [("backend_id", "=", self.tpl.id), ("topic", "=", "order_file")]
        )
        self.assertEqual(order_file.state, "received")
        self.assertTrue(order_file.dispatched_at)
        self.assertEqual(order_file._result_record().client_order_ref, "PO-7781")
