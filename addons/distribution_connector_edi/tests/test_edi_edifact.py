"""An EDIFACT D96A (EANCOM) trading partner, end to end over SFTP."""

from odoo.tests.common import TransactionCase, tagged

from ..flows.edi_document_export import gs1_check_digit
from .common import EdiPartnerMixin, fixture

PO = "PO-98765"
BUYER_GLN = "5412345678908"
OUR_GLN = "5798765432106"


@tagged("-at_install", "post_install")
class TestEdiEdifact(EdiPartnerMixin, TransactionCase):
    standard = "edifact"
    version = "D96A"
    our_id = OUR_GLN
    partner_id = BUYER_GLN
    qualifier = "14"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpEdiPartner()
        cls.store.barcode = "5412345000013"
        cls.mug_red.barcode = "0614141000036"
        euro = cls.env.ref("base.EUR")
        euro.active = True
        cls.backend.pricelist_id = cls.env["product.pricelist"].create(
            {"name": "Harbor EUR", "currency_id": euro.id}
        )

    def test_orders_to_contrl_ordrsp_desadv_invoic(self):
        exchange = self.receive_file("orders-1.edi", fixture("edifact_orders_d96a.edi"))
        self.assertEqual(exchange.state, "done", exchange.error)
        order = self.orders(PO)
        self.assertEqual(order.state, "sale")
        self.assertEqual(order.currency_id.name, "EUR")
        self.assertEqual(order.partner_id, self.buyer)
        self.assertEqual(order.partner_shipping_id, self.store)
        self.assertEqual(str(order.commitment_date.date()), "2026-01-12")
        self.assertEqual(
            {
                line.product_id: line.product_uom_qty
                for line in self.product_lines(order)
            },
            {self.mug_blue: 2, self.mug_red: 1},
        )

        # CONTRL: the interchange and its one message accepted
        contrl, control_message = self.sent_document("CONTRL")
        self.assertEqual(
            control_message.first("UCI"),
            ["00000000000778", [BUYER_GLN, "14"], [OUR_GLN, "14"], "7"],
        )
        self.assertEqual(
            control_message.first("UCM"), ["1", ["ORDERS", "D", "96A"], "7"]
        )
        self.assertEqual(control_message.version, "D3")
        # ORDRSP: the order accepted as it was
        response, ordrsp = self.sent_document("ORDRSP")
        self.assertEqual(ordrsp.version, "D96A")
        self.assertEqual(ordrsp.first("BGM"), ["231", order.name, "29"])
        self.assertIn(["ON", PO], [r[0] for r in ordrsp.find("RFF")])
        self.assertEqual([q[0] for q in ordrsp.find("QTY")], [["21", "2"], ["21", "1"]])
        self.assertLess(int(contrl.control), int(response.control))

        # the delivery validated in two packages -> DESADV with two SSCCs
        delivery = self.delivery(order)
        delivery.write({"distribution_tracking_ref": "JJD000390007"})
        for move in delivery.move_ids:
            move.quantity = move.product_uom_qty
            move.picked = True
            move.move_line_ids.result_package_id = self.env["stock.package"].create(
                {"name": f"Carton {move.product_id.default_code}"}
            )
        self.run_jobs(lambda: self.ship_by_hand(delivery))
        _desadv, desadv = self.sent_document("DESADV")
        self.assertEqual(desadv.first("BGM"), ["351", delivery.name, "9"])
        self.assertIn(["CN", "JJD000390007"], [r[0] for r in desadv.find("RFF")])
        self.assertEqual(desadv.first("NAD"), ["DP", ["5412345000013", "", "9"]])
        ssccs = [gin[1] for gin in desadv.find("GIN")]
        self.assertEqual(len(ssccs), 2)
        self.assertEqual(len(set(ssccs)), 2)
        for sscc in ssccs:
            self.assertEqual(len(sscc), 18)
            self.assertEqual(sscc[-1], gs1_check_digit(sscc[:-1]))
        self.assertEqual(
            sorted(q[0][1] for q in desadv.find("QTY") if q[0][0] == "12"),
            ["1", "2"],
        )
        self.assertEqual(desadv.first("CNT"), [["2", "2"]])

        # the invoice posted -> INVOIC
        invoice = order._create_invoices()
        self.run_jobs(invoice.action_post)
        _invoic, invoic = self.sent_document("INVOIC")
        self.assertEqual(invoic.version, "D96A")
        self.assertEqual(invoic.first("BGM"), ["380", invoice.name, "9"])
        amounts = [tuple(m[0]) for m in invoic.find("MOA")]
        self.assertEqual(
            [float(a) for q, a in amounts if q == "203"], [24.0, 8.5]
        )  # the lines' amounts
        self.assertIn(("86", str(invoice.amount_total).removesuffix(".0")), amounts)
        self.assertEqual(invoic.first("CUX"), [["2", "EUR", "4"]])
        self.assertEqual(len(set(self.control_numbers())), 4)

    def test_broken_interchange_rejected_with_segment_and_element(self):
        broken = fixture("edifact_orders_d96a.edi").replace("UNT+18+1", "UNT+17+1")
        exchange = self.receive_file("orders-broken.edi", broken)
        exception = self.assertOneException(exchange, "invalid_payload")
        self.assertEqual(exception.key, "UNT01")
        self.assertEqual(exception.json_path, "UNT01 (segment 19)")
        self.assertEqual(exchange.raw_body, broken)
        self.assertFalse(self.orders(PO))
        _contrl, control_message = self.sent_document("CONTRL")
        self.assertEqual(control_message.first("UCI")[3], "7")
        self.assertEqual(
            control_message.first("UCM"), ["1", ["ORDERS", "D", "96A"], "4"]
        )
        self.assertEqual(control_message.first("UCS"), ["18"])
        self.assertEqual(control_message.first("UCD"), ["12", "1"])

    def test_resent_interchange_imports_nothing_twice(self):
        self.receive_file("orders-1.edi", fixture("edifact_orders_d96a.edi"))
        again = self.receive_file(
            "orders-1-again.edi", fixture("edifact_orders_d96a.edi")
        )
        self.assertEqual(again.state, "ignored")
        self.assertEqual(len(self.orders(PO)), 1)
        self.assertEqual(len(self.orders(PO).order_line), 2)

    def test_unknown_item_acknowledged_then_mapped_and_retried(self):
        self.env["distribution.binding"].search(
            [("external_id", "=", "RET-BLUE-1")]
        ).unlink()
        exchange = self.receive_file("orders-1.edi", fixture("edifact_orders_d96a.edi"))
        exception = self.assertOneException(exchange, "unknown_sku")
        self.assertEqual(exception.key, "RET-BLUE-1")
        # read and understood: the CONTRL accepts it
        _contrl, control_message = self.sent_document("CONTRL")
        self.assertEqual(control_message.first("UCM")[2], "7")
        self.map_sku(self.backend, "RET-BLUE-1", self.mug_blue)
        self.run_jobs(exchange.process)
        self.assertEqual(exchange.state, "done", exchange.error)
        self.assertEqual(self.orders(PO).state, "sale")
        self.assertEqual(len(self.sent()), 2)  # CONTRL once, then the ORDRSP

    def test_ordchg_cancels_the_order(self):
        self.receive_file("orders-1.edi", fixture("edifact_orders_d96a.edi"))
        order = self.orders(PO)
        self.assertEqual(order.state, "sale")
        change = self.receive_file("ordchg-1.edi", fixture("edifact_ordchg_d96a.edi"))
        self.assertEqual(change.state, "done", change.error)
        self.assertEqual(order.state, "cancel")
        contrls = [
            ic.transactions[0]
            for ic in self.sent().values()
            if ic.transactions[0].code == "CONTRL"
        ]
        self.assertEqual([c.first("UCM")[1][0] for c in contrls], ["ORDERS", "ORDCHG"])

    def test_d01b_documents(self):
        self.backend.edi_version = "D01B"
        text = fixture("edifact_orders_d96a.edi").replace(
            ":D:96A:UN:EAN008", ":D:01B:UN:EAN010"
        )
        exchange = self.receive_file("orders-d01b.edi", text)
        self.assertEqual(exchange.state, "done", exchange.error)
        _response, ordrsp = self.sent_document("ORDRSP")
        self.assertEqual(ordrsp.version, "D01B")
        # a D96A message is not what this partner agreed to
        again = fixture("edifact_orders_d96a.edi").replace(
            "00000000000778", "00000000000780"
        )
        rejected = self.receive_file("orders-d96a.edi", again)
        exception = self.assertOneException(rejected, "invalid_payload")
        self.assertEqual(exception.key, "UNH02")

    def test_partner_contrl_received_and_not_acknowledged(self):
        contrl = (
            "UNA:+.? '"
            f"UNB+UNOA:3+{BUYER_GLN}:14+{OUR_GLN}:14+260107:0800+00000000000790'"
            "UNH+1+CONTRL:D:3:UN'"
            f"UCI+000000001+{OUR_GLN}:14+{BUYER_GLN}:14+7'"
            "UNT+3+1'"
            "UNZ+1+00000000000790'"
        )
        exchange = self.receive_file("contrl-1.edi", contrl)
        self.assertEqual(exchange.state, "done", exchange.error)
        self.assertEqual(self.sent(), {})

    def test_unoc_interchange_read_from_its_exact_bytes(self):
        # syntax UNOC (ISO 8859-1): the item description's e-acute is the
        # byte 0xE9, which is not UTF-8
        text = (
            fixture("edifact_orders_d96a.edi")
            .replace("UNB+UNOA:3", "UNB+UNOC:3")
            .replace("IMD+F++:::Blue mug 350 ml'", "IMD+F++:::Mug caf\xe9 350 ml'")
        )
        with open(self.server.path("inbound", "orders-unoc.edi"), "wb") as handle:
            handle.write(text.encode("latin-1"))
        exchange = self.backend._sftp_poll()
        self.assertEqual(exchange.raw_body_charset, "latin-1")
        self.run_jobs(exchange.process)
        self.assertEqual(exchange.state, "done", exchange.error)
        line = self.product_lines(self.orders(PO)).filtered(
            lambda line: line.product_id == self.mug_blue
        )
        self.assertIn("Mug caf\xe9 350 ml", line.name)
