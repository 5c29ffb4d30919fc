from odoo.tests.common import HttpCase, tagged

from odoo.addons.queue_job.tests.common import trap_jobs

from .common import OrderImportMixin


@tagged("-at_install", "post_install")
class TestOpsTours(OrderImportMixin, HttpCase):
    """What an ops user does in the browser: set up a backend, review an
    exception, fix its cause and replay it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpOrderImport()
        cls.warehouse = cls.env["stock.warehouse"].create(
            {"name": "Tour warehouse", "code": "TOURW", "company_id": cls.company.id}
        )

    def test_create_and_activate_backend(self):
        self.start_tour("/odoo", "distribution_backend_tour", login="admin")

        backends = self.env["distribution.backend"]
        backend = backends.search([("name", "=", "Tour web shop")])
        self.assertEqual(len(backend), 1)
        self.assertFalse(backend.paused)
        self.assertTrue(backend.active)
        self.assertEqual(backend.warehouse_ids, self.warehouse)
        self.assertEqual(backend._webhook_secrets(), ["tour-webhook-secret"])
        self.env.cr.execute(
            "SELECT webhook_secret_enc FROM distribution_backend WHERE id = %s",
            [backend.id],
        )
        stored = self.env.cr.fetchone()[0]
        self.assertTrue(stored)
        self.assertNotIn("tour-webhook-secret", stored)

    def test_review_unknown_sku_map_and_replay(self):
        mug = self.env["product.product"].create(
            {"name": "Tour mug", "type": "consu", "list_price": 12.0}
        )
        payload = self.order_payload(external_id="TOUR-1001", name="#T1001")
        payload["lines"][0]["sku"] = "TOUR-SKU-1"
        created = self.import_order(payload, event_id="tour-create")
        later = dict(payload, updated_at="2025-03-01T11:00:00Z")
        updated = self.import_order(later, event_id="tour-update")
        exceptions = (created | updated).exception_ids
        self.assertEqual(exceptions.mapped("type"), ["unknown_sku"] * 2)
        self.assertEqual(set(exceptions.mapped("key")), {"TOUR-SKU-1"})

        with trap_jobs() as trap:
            self.start_tour("/odoo", "distribution_exception_tour", login="admin")
            jobs = self.run_trapped_jobs(trap)

        self.assertEqual(
            sorted(job.recordset.id for job in jobs), sorted((created | updated).ids)
        )
        order = self.orders("TOUR-1001")
        self.assertEqual(len(order), 1, "two events of one order: exactly one order")
        self.assertIn(mug, order.order_line.product_id)
        self.assertEqual(exceptions.mapped("state"), ["resolved", "resolved"])
        # the newer version is replayed first: the older one then changes
        # nothing, and says so
        self.assertEqual(updated.state, "done")
        self.assertEqual(created.state, "ignored")
        self.assertIn("is older than the one applied", created.reason)
        binding = self.Binding.search(
            [("backend_id", "=", self.backend.id), ("external_id", "=", "TOUR-SKU-1")]
        )
        self.assertEqual(binding._record(), mug)
