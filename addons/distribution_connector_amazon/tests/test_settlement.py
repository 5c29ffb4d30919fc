"""Amazon's settlement report through the shared three-way settlement
reconciliation. ``samples/settlement_report_v2.tsv`` (kept verbatim: rows
end with the tabs of their empty columns) follows the documented columns
of the flat file V2 settlement report
(GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2, Reports API report type
values); the Reports API answers follow the Reports API 2021-06-30
reference (getReports, getReportDocument)."""

import gzip
import os

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.queue_job.tests.common import trap_jobs

from ..adapters.amazon_settlement import map_settlement_report
from .common import AmazonTestMixin, amazon_order

ORDER_ID = "902-3159896-1390916"
REPORTS = "/reports/2021-06-30"
SAMPLES = os.path.join(os.path.dirname(__file__), "samples")


def report_document():
    path = os.path.join(SAMPLES, "settlement_report_v2.tsv")
    with open(path, encoding="utf-8") as f:
        return f.read()


@tagged("-at_install", "post_install")
class TestSettlement(AmazonTestMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpAmazon()

    def serve_report(self):
        def reports(recorded):
            if not self.amazon.authorised(recorded):
                return self.amazon.unauthorised()
            return (
                200,
                {
                    "reports": [
                        {
                            "reportId": "50010019000",
                            "reportType": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2",
                            "dataStartTime": "2025-02-20T08:00:00+00:00",
                            "dataEndTime": "2025-03-06T08:00:00+00:00",
                            "createdTime": "2025-03-06T09:00:00+00:00",
                            "processingStatus": "DONE",
                            "processingStartTime": "2025-03-06T09:00:00+00:00",
                            "processingEndTime": "2025-03-06T09:01:00+00:00",
                            "reportDocumentId": "amzn1.spdoc.1.4.eu.settlement-1",
                        }
                    ]
                },
                {"x-amzn-RateLimit-Limit": "0.0222"},
            )

        def document(recorded):
            if not self.amazon.authorised(recorded):
                return self.amazon.unauthorised()
            self.server.add(
                "GET",
                "/download/settlement-1",
                body=gzip.compress(report_document().encode()),
            )
            return (
                200,
                {
                    "reportDocumentId": "amzn1.spdoc.1.4.eu.settlement-1",
                    "url": f"{self.server.url}/download/settlement-1"
                    "?X-Amz-Signature=presigned",
                    "compressionAlgorithm": "GZIP",
                },
                {"x-amzn-RateLimit-Limit": "0.0167"},
            )

        self.server.route("GET", f"{REPORTS}/reports", reports)
        self.server.route(
            "GET", f"{REPORTS}/documents/amzn1.spdoc.1.4.eu.settlement-1", document
        )

    def test_report_maps_to_the_canonical_settlement(self):
        settlement = map_settlement_report({"document": report_document()})
        self.assertEqual(settlement["external_id"], "11617326421")
        self.assertEqual(settlement["currency"], "EUR")
        self.assertEqual(settlement["payout_amount"], 41.52)
        self.assertEqual(settlement["payout_date"], "2025-03-08T08:00:00Z")
        order, reimbursement = settlement["lines"]
        self.assertEqual(
            (order["type"], order["external_order_id"], order["amount"]),
            ("order", ORDER_ID, 41.4),
        )
        self.assertEqual(order["fee_amount"], 4.88)
        self.assertEqual(
            (reimbursement["type"], reimbursement["amount"]), ("adjustment", 5)
        )

    def test_settlement_matched(self):
        order = amazon_order(ORDER_ID)
        self.amazon.add_order(order)
        self.amazon.pages([order])
        with trap_jobs() as trap:
            self.backend._pull_orders()
        self.perform(trap)
        sale = self.env["sale.order"].search(
            [("distribution_external_id", "=", ORDER_ID)]
        )
        invoice = sale._create_invoices()
        invoice.action_post()
        self.assertEqual(invoice.amount_total, 41.4)
        self.serve_report()
        with trap_jobs() as trap:
            result = self.backend._import_amazon_settlements()
        self.assertEqual(result, "1 settlement reports pulled")
        (listing,) = self.server.calls("GET", f"{REPORTS}/reports")
        self.assertEqual(
            listing.query["reportTypes"], ["GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"]
        )
        self.assertEqual(listing.query["processingStatuses"], ["DONE"])
        self.assertIn("createdSince", listing.query)
        self.perform(trap)
        settlement = self.env["distribution.settlement"].search(
            [("backend_id", "=", self.backend.id)]
        )
        self.assertEqual(settlement.name, "11617326421")
        self.assertEqual(settlement.state, "matched")
        self.assertEqual(settlement.payout_amount, 41.52)
        order_line = settlement.line_ids.filtered(lambda line: line.type == "order")
        self.assertEqual(order_line.order_id, sale)
        self.assertEqual(order_line.invoice_ids, invoice)
        self.assertEqual(order_line.match_state, "matched")
        self.assertFalse(settlement.exception_ids)
        # the next run finds the report known: nothing read, nothing stored
        with trap_jobs():
            result = self.backend._import_amazon_settlements()
        self.assertEqual(result, "0 settlement reports pulled")
        self.assertEqual(
            len(
                self.server.calls(
                    "GET", f"{REPORTS}/documents/amzn1.spdoc.1.4.eu.settlement-1"
                )
            ),
            1,
        )
