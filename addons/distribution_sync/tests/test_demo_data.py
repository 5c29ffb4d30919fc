from odoo.tests.common import TransactionCase, tagged
from odoo.tools.convert import convert_file


@tagged("-at_install", "post_install")
class TestDemoData(TransactionCase):
    """The demo file loads (the test database has no demo data) and gives
    the dashboard and the exception queue something to show."""

    def test_demo_data_loads(self):
        convert_file(
            self.env,
            "distribution_sync",
            "demo/distribution_demo.xml",
            {},
            mode="init",
            noupdate=True,
        )
        shop = self.env.ref("distribution_sync.demo_backend_webshop")
        third_party = self.env.ref("distribution_sync.demo_backend_3pl")
        self.assertEqual(shop.health_pending_count, 3)
        self.assertEqual(shop.health_duplicate_count, 4)
        self.assertGreater(shop.health_latency_p95, shop.health_latency_p50)
        self.assertTrue(shop.health_last_success_at)
        self.assertGreater(third_party.health_failure_rate, 0)
        exceptions = self.env["distribution.exception"].search(
            [("backend_id", "in", (shop | third_party).ids)]
        )
        self.assertIn("unknown_sku", exceptions.mapped("type"))
        self.assertEqual(set(exceptions.mapped("state")), {"open"})
        sku = exceptions.filtered(lambda e: e.type == "unknown_sku")
        self.assertIn("WS-MUG-BLUE-XL", sku.exchange_id.raw_body)
