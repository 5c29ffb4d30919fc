"""Merchant-fulfilled stock through patchListingsItem; the answers follow
the Listings Items API 2021-08-01 reference (ListingsItemSubmissionResponse)."""

from odoo.tests.common import TransactionCase, tagged

from .common import AmazonTestMixin

SELLER = "A2EXAMPLESELLER"
LISTINGS = f"/listings/2021-08-01/items/{SELLER}/"


@tagged("-at_install", "post_install")
class TestStockExport(AmazonTestMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpAmazon()

    def listing(self, sku, accepted=True):
        def handler(recorded):
            if not self.amazon.authorised(recorded):
                return self.amazon.unauthorised()
            answer = {
                "sku": sku,
                "status": "ACCEPTED" if accepted else "INVALID",
                "submissionId": f"sub-{sku}",
                "issues": []
                if accepted
                else [
                    {
                        "code": "90220",
                        "message": "'fulfillment_availability' is required but "
                        "not supplied.",
                        "severity": "ERROR",
                        "attributeNames": ["fulfillment_availability"],
                    }
                ],
            }
            return 200, answer, {"x-amzn-RateLimit-Limit": "5.0"}

        self.server.route("PATCH", LISTINGS + sku, handler)

    def test_two_of_five_skus_rejected(self):
        skus = ["MUG-1", "MUG-2", "MUG-3", "MUG-4", "MUG-5"]
        for sku in skus:
            self.listing(sku, accepted=sku not in ("MUG-2", "MUG-4"))
        items = [
            {
                "sku": sku,
                "external_ref": None,
                "quantity": 7.6,
                "compare_quantity": None,
            }
            for sku in skus
        ]
        results = self.adapter.export_stock(items)
        self.assertEqual(
            [(r["sku"], r["status"], r["actual_quantity"]) for r in results],
            [
                ("MUG-1", "ok", 7),
                ("MUG-2", "error", None),
                ("MUG-3", "ok", 7),
                ("MUG-4", "error", None),
                ("MUG-5", "ok", 7),
            ],
        )
        self.assertIn("90220", results[1]["message"])
        # each rejected SKU is an exception, on an exchange keeping Amazon's answers
        exceptions = self.env["distribution.exception"].search(
            [("backend_id", "=", self.backend.id), ("state", "=", "open")]
        )
        self.assertEqual(sorted(exceptions.mapped("key")), ["MUG-2", "MUG-4"])
        self.assertEqual(exceptions.exchange_id.topic, "patchListingsItem")
        self.assertIn('"INVALID"', exceptions.exchange_id.raw_body)
        call = self.server.calls("PATCH", LISTINGS + "MUG-1")[0]
        self.assertEqual(call.query["marketplaceIds"], ["A1PA6795UKMFR9"])
        self.assertEqual(
            call.json()["patches"],
            [
                {
                    "op": "replace",
                    "path": "/attributes/fulfillment_availability",
                    "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 7}],
                }
            ],
        )
