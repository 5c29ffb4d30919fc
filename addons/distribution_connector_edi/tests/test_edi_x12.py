"""An X12 004010 trading partner, end to end over SFTP."""

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.queue_job.controllers.main import RunJobController
from odoo.addons.queue_job.job import DONE, Job

from ..flows.edi_document_export import gs1_check_digit, sscc
from .common import EdiPartnerMixin, fixture

PO = "4500012345"


@tagged("-at_install", "post_install")
class TestEdiX12(EdiPartnerMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpEdiPartner()
        cls.mug_red.barcode = "061414100024"

    def receive_850(self, name="po-1.x12", text=None):
        return self.receive_file(name, text or fixture("x12_850_004010.x12"))

    def test_850_to_997_855_856_810(self):
        exchange = self.receive_850()
        self.assertEqual(exchange.topic, "interchange")
        self.assertEqual(exchange.state, "done", exchange.error)
        order = self.orders(PO)
        self.assertEqual(order.state, "sale")
        self.assertEqual(order.partner_id, self.buyer)
        self.assertEqual(order.partner_shipping_id, self.store)
        self.assertEqual(str(order.commitment_date.date()), "2026-01-12")
        lines = {
            line.product_id: (line.product_uom_qty, line.price_unit)
            for line in self.product_lines(order)
        }
        self.assertEqual(lines, {self.mug_blue: (2, 12), self.mug_red: (1, 8.5)})

        # 997: the group and its one 850 accepted
        ack, ack_set = self.sent_document("997")
        self.assertEqual(ack_set.first("AK1"), ["PO", "101"])
        self.assertEqual(ack_set.first("AK2"), ["850", "0001"])
        self.assertEqual(ack_set.first("AK5"), ["A"])
        self.assertEqual(ack_set.first("AK9"), ["A", "1", "1", "1"])
        # 855: the order accepted, line by line, under the buyer's ids
        response, po_ack = self.sent_document("855")
        self.assertEqual(po_ack.first("BAK")[:4], ["00", "AD", PO, "20260105"])
        po1 = po_ack.find("PO1")
        self.assertEqual(
            [(p[0], p[1], p[3], p[5], p[6]) for p in po1],
            [("1", "2", "12", "BP", "RET-BLUE-1"), ("2", "1", "8.5", "VN", "MUG-RED")],
        )
        self.assertEqual([a[0] for a in po_ack.find("ACK")], ["IA", "IA"])
        # control numbers: unique and increasing per partner, GS06 = ISA13
        self.assertLess(int(ack.control), int(response.control))
        self.assertEqual(int(response.group_control), int(response.control))
        self.assertNotEqual(ack.transactions[0].control, po_ack.control)

        # the delivery validated in a package, with its tracking -> 856
        delivery = self.delivery(order)
        delivery.write(
            {
                "distribution_tracking_ref": "1Z999AA10123456784",
                "distribution_carrier": "UPS",
            }
        )
        for move in delivery.move_ids:
            move.quantity = move.product_uom_qty
            move.picked = True
        delivery.action_put_in_pack()
        self.run_jobs(lambda: self.ship_by_hand(delivery))
        _asn, asn = self.sent_document("856")
        self.assertEqual(asn.first("BSN")[1], delivery.name)
        self.assertEqual(asn.first("REF"), ["CN", "1Z999AA10123456784"])
        self.assertEqual(asn.first("TD5")[2], "UPS")
        self.assertEqual(asn.first("PRF")[0], PO)
        self.assertEqual(
            asn.first("N1"), ["ST", "Harbor Store 1234", "UL", "0614141000012"]
        )
        (man,) = asn.find("MAN")
        sscc = man[1]
        self.assertEqual(man[0], "GM")
        self.assertEqual(len(sscc), 18)
        self.assertTrue(sscc.startswith("00614141"))
        self.assertEqual(sscc[-1], gs1_check_digit(sscc[:-1]))
        items = sorted(
            (lin[2], sn1[1])
            for lin, sn1 in zip(asn.find("LIN"), asn.find("SN1"), strict=True)
        )
        self.assertEqual(items, [("MUG-RED", "1"), ("RET-BLUE-1", "2")])
        self.assertEqual([hl[2] for hl in asn.find("HL")], ["S", "O", "P", "I", "I"])

        # the invoice posted -> 810
        invoice = order._create_invoices()
        self.run_jobs(invoice.action_post)
        _inv, inv = self.sent_document("810")
        self.assertEqual(inv.first("BIG")[1], invoice.name)
        self.assertEqual(inv.first("BIG")[3], PO)
        self.assertEqual(
            [(it[0], it[1], it[3]) for it in inv.find("IT1")],
            [("1", "2", "12"), ("2", "1", "8.5")],
        )
        self.assertEqual(inv.first("TDS"), [str(round(invoice.amount_total * 100))])
        self.assertEqual(inv.first("CTT"), ["2"])
        numbers = self.control_numbers()
        self.assertEqual(len(set(numbers)), 4)

    def test_resent_interchange_imports_nothing_twice(self):
        first = self.receive_850("po-1.x12")
        order = self.orders(PO)
        self.assertEqual(len(order), 1)
        # the same interchange (ISA13 101) in a file of another name
        again = self.receive_850("po-1-resent.x12")
        self.assertNotEqual(first, again)
        self.assertEqual(again.state, "ignored")
        self.assertIn("applied already", again.reason)
        self.assertEqual(self.orders(PO), order)
        self.assertEqual(len(order.order_line), 2)
        # acknowledged once, for the interchange applied
        self.assertEqual(
            sorted(name.split("_")[0] for name in self.sent()), ["855", "997"]
        )

    def test_broken_interchange_rejected_with_segment_and_element(self):
        # the SE counts 14 segments where the set has 15
        broken = fixture("x12_850_004010.x12").replace("SE*15*0001", "SE*14*0001")
        exchange = self.receive_850("po-broken.x12", broken)
        self.assertEqual(exchange.state, "error")
        self.assertFalse(self.orders(PO))
        exception = self.assertOneException(exchange, "invalid_payload")
        self.assertEqual(exception.key, "SE01")
        self.assertEqual(exception.json_path, "SE01 (segment 17)")
        self.assertIn("SE count of 14", exception.message)
        self.assertEqual(exchange.raw_body, broken)
        _ack, ack_set = self.sent_document("997")
        self.assertEqual(ack_set.first("AK2"), ["850", "0001"])
        self.assertEqual(ack_set.first("AK3"), ["SE", "15"])
        self.assertEqual(ack_set.first("AK4"), ["1", "", "7"])
        self.assertEqual(ack_set.first("AK5"), ["R", "5"])
        self.assertEqual(ack_set.first("AK9"), ["R", "1", "1", "0"])
        self.assertNotIn("855", [n.split("_")[0] for n in self.sent()])

    def test_unknown_sender_rejected(self):
        text = fixture("x12_850_004010.x12").replace(
            "*RETAILER       *", "*STRANGER       *"
        )
        exchange = self.receive_850("po-stranger.x12", text)
        exception = self.assertOneException(exchange, "invalid_payload")
        self.assertEqual(exception.key, "ISA06")
        self.assertFalse(self.orders(PO))
        _ack, ack_set = self.sent_document("997")
        self.assertEqual(ack_set.first("AK5"), ["R"])
        self.assertEqual(ack_set.first("AK9"), ["R", "1", "1", "0"])

    def test_860_cancels_the_order(self):
        text = fixture("x12_850_004010.x12").replace(PO, "4500012399")
        self.receive_850("po-2.x12", text)
        order = self.orders("4500012399")
        self.assertEqual(order.state, "sale")
        exchange = self.receive_file("chg-1.x12", fixture("x12_860_004010.x12"))
        self.assertEqual(exchange.state, "done", exchange.error)
        self.assertEqual(order.state, "cancel")

    def test_846_from_the_publishing_engine(self):
        self.env["distribution.publish.rule"].create(
            {
                "backend_id": self.backend.id,
                "warehouse_ids": [(6, 0, self.warehouse.ids)],
            }
        )
        Level = self.env["distribution.stock.level"]
        self.run_jobs(Level.sweep)
        _report, inventory = self.sent_document("846")
        quantities = dict(
            (lin[2], qty[1])
            for lin, qty in zip(
                inventory.find("LIN"), inventory.find("QTY"), strict=True
            )
        )
        self.assertEqual(quantities, {"MUG-BLUE": "10", "MUG-RED": "10"})
        self.assertEqual(inventory.first("CTT"), ["2"])
        level = Level.search(
            [("backend_id", "=", self.backend.id), ("product_id", "=", self.mug_red.id)]
        )
        self.assertEqual(level.published_qty, 10)

    def test_860_changes_a_quotation_and_flags_a_confirmed_order(self):
        self.backend.auto_confirm = False
        self.receive_850()
        order = self.orders(PO)
        self.assertEqual(order.state, "draft")
        self.assertNotIn("855", [n.split("_")[0] for n in self.sent()])
        change = self.receive_file("chg-2.x12", fixture("x12_860_change_004010.x12"))
        self.assertEqual(change.state, "done", change.error)
        # the blue mugs down to 1, the red mug line deleted
        self.assertEqual(
            [(line.product_id, line.product_uom_qty) for line in order.order_line],
            [(self.mug_blue, 1)],
        )
        # confirmed by hand: the 855 goes out then, with the changed line
        self.run_jobs(order.action_confirm)
        _response, po_ack = self.sent_document("855")
        self.assertEqual([(p[0], p[1]) for p in po_ack.find("PO1")], [("1", "1")])

    def test_860_change_of_a_confirmed_order_is_reviewed(self):
        self.receive_850()
        order = self.orders(PO)
        change = self.receive_file("chg-2.x12", fixture("x12_860_change_004010.x12"))
        self.assertOneException(change, "order_changed")
        self.assertEqual(len(self.product_lines(order)), 2)
        # read and understood: accepted by its 997 all the same
        acks = [
            ic.transactions[0]
            for ic in self.sent().values()
            if ic.transactions[0].code == "997"
        ]
        self.assertEqual([a.first("AK2")[0] for a in acks], ["850", "860"])
        self.assertEqual([a.first("AK5") for a in acks], [["A"], ["A"]])

    def test_005010_interchange(self):
        self.backend.edi_version = "005010"
        text = (
            fixture("x12_850_004010.x12")
            .replace("*U*00401*", "*^*00501*")
            .replace("*X*004010~", "*X*005010~")
        )
        exchange = self.receive_850("po-5010.x12", text)
        self.assertEqual(exchange.state, "done", exchange.error)
        ack, ack_set = self.sent_document("997")
        self.assertEqual(ack.version, "00501")
        self.assertEqual(ack.group_version, "005010")
        self.assertEqual(ack_set.first("AK9"), ["A", "1", "1", "1"])
        # an 004010 interchange is not what this partner agreed to
        again = self.receive_850("po-4010.x12", fixture("x12_850_004010.x12"))
        exception = self.assertOneException(again, "invalid_payload")
        self.assertEqual(exception.key, "GS08")
        last = max(self.sent().values(), key=lambda ic: int(ic.control))
        self.assertEqual(last.transactions[0].first("AK9"), ["R", "1", "1", "0", "2"])

    def test_upload_retried_sends_the_same_document_once(self):
        self.receive_850()
        exchange = self.env["distribution.exchange"].search(
            [("backend_id", "=", self.backend.id), ("topic", "=", "855")]
        )
        body = exchange.raw_body
        names = list(self.sent())
        # its job runs again (a lost answer): the same bytes, nothing new
        exchange.state = "received"
        exchange.process()
        self.assertEqual(exchange.raw_body, body)
        self.assertEqual(list(self.sent()), names)
        self.assertIn("there already", exchange.response_body)

    def test_separators_read_from_the_interchange(self):
        # the same 850 with | between elements, ! ending segments, : as the
        # component separator (ISA16)
        text = (
            fixture("x12_850_004010.x12")
            .replace("*", "|")
            .replace("~\n", "!\n")
            .replace("|P|>!", "|P|:!")
        )
        self.assertTrue(text.startswith("ISA|00|"))
        exchange = self.receive_850("po-pipes.x12", text)
        self.assertEqual(exchange.state, "done", exchange.error)
        self.assertEqual(len(self.product_lines(self.orders(PO))), 2)
        # a wrong count is found whatever the separators
        broken = text.replace("SE|15|0001", "SE|15|0002").replace(
            "000000101", "000000109"
        )
        rejected = self.receive_850("po-pipes-broken.x12", broken)
        exception = self.assertOneException(rejected, "invalid_payload")
        self.assertEqual(exception.key, "SE02")

    def test_rejection_survives_the_job_run_as_the_runner_runs_it(self):
        broken = fixture("x12_850_004010.x12").replace("GE*1*101", "GE*2*101")
        self.drop("po-broken.x12", broken)
        exchange = self.backend._sftp_poll()
        delayed = exchange.with_delay().process()
        job = Job.load(self.env, delayed.uuid)
        job.set_started()
        job.store()
        RunJobController._runjob(self.env, job)
        self.env.invalidate_all()
        job_record = self.env["queue.job"].search([("uuid", "=", delayed.uuid)])
        self.assertEqual(job_record.state, DONE)
        self.assertEqual(job_record.result, "failed: invalid_payload")
        exception = self.assertOneException(exchange, "invalid_payload")
        self.assertEqual(exception.key, "GE01")
        ack = self.env["distribution.exchange"].search(
            [("topic", "=", "997"), ("res_id", "=", exchange.id)]
        )
        self.assertEqual(ack.state, "received")  # its upload job is enqueued
        self.assertIn("AK9*R*1*1*0*5~", ack.raw_body)

    def test_missing_po_number_named_by_segment_and_element(self):
        text = fixture("x12_850_004010.x12").replace(
            "BEG*00*SA*4500012345**", "BEG*00*SA***"
        )
        exchange = self.receive_850("po-no-number.x12", text)
        exception = self.assertOneException(exchange, "invalid_payload")
        self.assertEqual(exception.key, "BEG03")
        self.assertEqual(exception.json_path, "BEG03 (segment 4)")
        _ack, ack_set = self.sent_document("997")
        self.assertEqual(ack_set.first("AK3"), ["BEG", "2"])
        self.assertEqual(ack_set.first("AK4"), ["3", "", "7"])
        self.assertEqual(ack_set.first("AK5"), ["R", "5"])

    def test_gs1_check_digits(self):
        # the examples of the GS1 General Specifications: SSCC
        # (00)106141411234567897 and GTIN-13 5901234123457
        self.assertEqual(gs1_check_digit("10614141123456789"), "7")
        self.assertEqual(gs1_check_digit("590123412345"), "7")
        self.assertEqual(sscc("0614141", 42), "006141410000000425")
        self.assertEqual(len(sscc("0614141", 42)), 18)

    def test_ship_to_by_store_code(self):
        self.store.write({"barcode": False, "ref": "1234"})
        text = (
            fixture("x12_850_004010.x12")
            .replace(
                "N1*ST*Harbor Store 1234*UL*0614141000012~\nN3*12 Dock Street~\n"
                "N4*Portland*OR*97201*US~",
                "N1*ST*STORE 1234*92*1234~",
            )
            .replace("SE*15*0001", "SE*13*0001")
        )
        self.assertIn("N1*ST*STORE 1234*92*1234~", text)
        exchange = self.receive_850("po-store.x12", text)
        self.assertEqual(exchange.state, "done", exchange.error)
        self.assertEqual(self.orders(PO).partner_shipping_id, self.store)
