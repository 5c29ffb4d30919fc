"""The EDI partner's demo: what the flows made of its two interchanges."""

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_stock_publish.tests.channel_common import (
    ChannelDemoMixin,
)

from ..adapters import edi_api

EDI_DEMO = "distribution_connector_edi/demo/distribution_connector_edi_demo.xml"


@tagged("-at_install", "post_install")
class TestEdiDemo(ChannelDemoMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpChannelDemo(EDI_DEMO)
        cls.backend = cls.env.ref("distribution_connector_edi.demo_backend_edi_harbor")

    def exchanges(self, **domain):
        return self.env["distribution.exchange"].search(
            [("backend_id", "=", self.backend.id)]
            + [(key, "=", value) for key, value in domain.items()],
            order="id",
        )

    def test_paused_partner_with_an_order_and_a_rejected_interchange(self):
        self.assertTrue(self.backend.paused)
        self.assertTrue(self.backend.sftp_host.endswith(".invalid"))
        order = self.env["sale.order"].search(
            [
                ("distribution_backend_id", "=", self.backend.id),
                ("distribution_external_id", "=", "DEMO-4500001"),
            ]
        )
        self.assertEqual(order.state, "sale")
        self.assertEqual(order.partner_shipping_id.barcode, "0614141000425")
        self.assertEqual(
            sorted(order.order_line.mapped("product_id.default_code")),
            ["DS-MUG-BLUE", "DS-MUG-RED"],
        )
        received = self.exchanges(direction="in")
        self.assertEqual(received.mapped("state"), ["done", "error"])
        exception = received[1].exception_ids
        self.assertEqual(exception.type, "invalid_payload")
        self.assertEqual(exception.key, "SE01")
        # what waits to go out: two acknowledgments (one rejecting) and the 855
        sent = self.exchanges(direction="out")
        self.assertEqual(sorted(sent.mapped("topic")), ["855", "997", "997"])
        self.assertEqual(set(sent.mapped("state")), {"received"})
        rejecting = edi_api.parse(
            sent.filtered(lambda e: e.res_id == received[1].id).raw_body
        )
        self.assertEqual(rejecting.errors, [])
        self.assertEqual(rejecting.transactions[0].first("AK5"), ["R", "5"])
