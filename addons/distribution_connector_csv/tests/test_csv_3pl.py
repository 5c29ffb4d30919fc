"""A 3PL exchanging CSV files with us over a real SFTP server on 127.0.0.1:
orders out, shipment confirmations and stock snapshots in, bad rows."""

import base64
import csv
import io
import os

from odoo import Command
from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_connector_sftp.tests.sftp_server import (
    PASSWORD,
    USERNAME,
    SftpTestServer,
)
from odoo.addons.distribution_sync.tests.common import StockFlowMixin
from odoo.addons.queue_job.controllers.main import RunJobController
from odoo.addons.queue_job.job import DONE, Job

#: (document, canonical field, column, date format, decimal separator)
MAPS = [
    ("order_out", "order_ref", "OrderNo", "", "."),
    ("order_out", "order_date", "OrderDate", "%d/%m/%Y", "."),
    ("order_out", "ship_name", "Consignee", "", "."),
    ("order_out", "ship_city", "City", "", "."),
    ("order_out", "sku", "Article", "", "."),
    ("order_out", "quantity", "Qty", "", ","),
    ("shipment_in", "order_ref", "OrderNo", "", "."),
    ("shipment_in", "sku", "Article", "", "."),
    ("shipment_in", "quantity", "QtyShipped", "", ","),
    ("shipment_in", "shipped_at", "ShipDate", "%d/%m/%Y %H:%M", "."),
    ("shipment_in", "carrier", "Carrier", "", "."),
    ("shipment_in", "tracking_number", "TrackingNo", "", "."),
    ("stock_in", "location", "Site", "", "."),
    ("stock_in", "sku", "Article", "", "."),
    ("stock_in", "quantity", "OnHand", "", ","),
]


#: a carrier name cp1252 writes with an en dash (0x96)
CARRIER = "La Poste \u2013 Colissimo"


def csv_bytes(rows, encoding="cp1252"):
    return "".join(";".join(row) + "\r\n" for row in rows).encode(encoding)


@tagged("-at_install", "post_install")
class TestCsv3pl(StockFlowMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpStockFlows()
        cls.server = SftpTestServer().start()
        cls.addClassCleanup(cls.server.stop)
        cls.tpl = cls.make_backend(
            "Northwind Logistics",
            kind="3pl",
            adapter="csv",
            sftp_host="127.0.0.1",
            sftp_port=cls.server.port,
            sftp_username=USERNAME,
            sftp_password=PASSWORD,
            sftp_host_key=f"[127.0.0.1]:{cls.server.port} {cls.server.host_key_line}",
            csv_encoding="cp1252",
            csv_delimiter=";",
            csv_shipment_pattern="SHIPCONF_*.csv",
            csv_stock_pattern="STOCK_*.csv",
            csv_order_file_name="ORDER_{order}.csv",
            warehouse_line_ids=[(0, 0, {"warehouse_id": cls.warehouse.id})],
            csv_column_ids=[
                (
                    0,
                    0,
                    {
                        "document": document,
                        "sequence": index,
                        "field_name": name,
                        "column": column,
                        "date_format": date_format,
                        "decimal_separator": separator,
                    },
                )
                for index, (document, name, column, date_format, separator) in (
                    enumerate(MAPS)
                )
            ],
        )

    def setUp(self):
        super().setUp()
        self.server.reset("inbound", "outbound", "archive")

    def drop_file(self, name, data):
        with open(self.server.path("inbound", name), "wb") as handle:
            handle.write(data)

    def poll_and_split(self):
        """Poll the 3PL's folder and run the file's job; its parts."""
        [file_exchange] = self.tpl._sftp_poll()
        self.assertEqual(file_exchange.kind, "csv_file")
        file_exchange.process()
        self.assertEqual(file_exchange.state, "done", file_exchange.error)
        return file_exchange, file_exchange.csv_part_ids.sorted("id")

    def test_round_trip(self):
        # 1. a web shop order confirmed for the 3PL's warehouse -> order file
        customer = {"external_id": "CUST-9", "name": "Zoë Müller"}
        address = {
            "name": "Zoë Müller",
            "street": "3 Rue de l'Église",
            "city": "Orléans",
            "zip": "45000",
            "country_code": "FR",
        }
        order, delivery = self.confirmed_order(
            "CH-2001",
            customer=customer,
            billing_address=address,
            shipping_address=address,
        )
        order_file = self.Exchange.search(
            [("backend_id", "=", self.tpl.id), ("topic", "=", "order_file")]
        )
        self.assertEqual(order_file.res_id, order.id)
        self.assertTrue(order_file.dispatched_at, "enqueued on confirmation")
        order_file.process()
        self.assertEqual(order_file.state, "done", order_file.error)
        name = f"ORDER_{order.name}.csv"
        self.assertEqual(os.listdir(self.server.path("outbound")), [name])
        with open(self.server.path("outbound", name), "rb") as handle:
            sent = handle.read()
        self.assertEqual(order_file._get_raw_bytes(), sent)
        self.assertIn("Zoë Müller;Orléans", order_file.csv_text)
        rows = list(csv.reader(io.StringIO(sent.decode("cp1252")), delimiter=";"))
        day = order.date_order.strftime("%d/%m/%Y")
        self.assertEqual(
            rows,
            [
                ["OrderNo", "OrderDate", "Consignee", "City", "Article", "Qty"],
                [order.name, day, "Zoë Müller", "Orléans", "MUG-BLUE", "2"],
                [order.name, day, "Zoë Müller", "Orléans", "MUG-RED", "1"],
            ],
        )

        # 2. the 3PL confirms the shipment (cp1252, its own columns)
        self.drop_file(
            "SHIPCONF_0001.csv",
            csv_bytes(
                [
                    ["OrderNo", "Article", "QtyShipped", "ShipDate", "Carrier",
                     "TrackingNo"],
                    [order.name, "MUG-BLUE", "2,0", "06/12/2026 14:05",
                     CARRIER, "6A123456789"],
                    [order.name, "MUG-RED", "1", "06/12/2026 14:05",
                     CARRIER, "6A123456789"],
                ]
            ),
        )  # fmt: skip
        file_exchange, parts = self.poll_and_split()
        self.assertEqual(file_exchange.topic, "shipment_in")
        # reviewable as the 3PL wrote it: cp1252 decoded right
        self.assertIn(f"{order.name};MUG-RED;1;", file_exchange.csv_text)
        self.assertIn(CARRIER, file_exchange.csv_text)
        self.assertEqual(os.listdir(self.server.path("archive")), ["SHIPCONF_0001.csv"])
        self.assertEqual(len(parts), 1)
        self.assertEqual((parts.topic, parts.external_ref), ("shipment", order.name))
        parts.process()
        self.assertEqual(parts.state, "done", parts.error)
        self.assertEqual(delivery.state, "done")
        self.assertEqual(delivery.distribution_tracking_ref, "6A123456789")
        self.assertEqual(delivery.distribution_carrier, CARRIER)
        self.assertEqual(
            {m.product_id: m.quantity for m in delivery.move_ids},
            {self.mug_blue: 2.0, self.mug_red: 1.0},
        )

        # 3. the 3PL's stock count: blue matches, red drifted -> for review
        self.drop_file(
            "STOCK_0001.csv",
            csv_bytes(
                [
                    ["Site", "Article", "OnHand"],
                    [self.warehouse.code, "MUG-BLUE", "8"],
                    [self.warehouse.code, "MUG-RED", "5,0"],
                ]
            ),
        )
        _file, [snapshot] = self.poll_and_split()
        snapshot.process()
        self.assertEqual(snapshot.state, "done", snapshot.error)
        drift = self.Exception.search(
            [("backend_id", "=", self.tpl.id), ("type", "=", "stock_drift")]
        )
        self.assertEqual(len(drift), 1)
        self.assertEqual(drift.product_id, self.mug_red)
        self.assertEqual((drift.counted_qty, drift.odoo_qty), (5.0, 9.0))
        self.assertEqual(drift.state, "open")
        # reviewed, not applied: Odoo still has 9 red mugs
        self.assertEqual(self.on_hand(self.mug_red), 9.0)

    def test_two_bad_rows_of_fifty(self):
        products = self.env["product.product"].create(
            [
                {"name": f"Glass {n}", "default_code": f"GLS-{n:02d}",
                 "type": "consu", "is_storable": True}
                for n in range(50)
            ]
        )  # fmt: skip
        rows = [["Site", "Article", "OnHand"]]
        for n in range(50):
            rows.append([self.warehouse.code, f"GLS-{n:02d}", str(n + 1)])
        rows[17][2] = "seventeen"  # line 18
        rows[33][1] = ""  # line 34
        self.drop_file("STOCK_0050.csv", csv_bytes(rows))
        file_exchange, parts = self.poll_and_split()
        good = parts.filtered(lambda p: p.state == "received")
        bad = parts - good
        self.assertEqual(len(good), 1)
        self.assertEqual(len(bad), 2)
        good.process()
        self.assertEqual(good.state, "done", good.error)
        drifts = self.Exception.search(
            [("backend_id", "=", self.tpl.id), ("type", "=", "stock_drift")]
        )
        # 48 counts applied to the review: every product but lines 18 and 34
        self.assertEqual(len(drifts), 48)
        self.assertEqual(drifts.product_id, products - products[16] - products[32])
        self.assertEqual(
            {d.product_id.default_code: d.counted_qty for d in drifts}["GLS-05"], 6.0
        )
        messages = sorted(bad.exception_ids.mapped("message"))
        self.assertEqual(
            messages,
            [
                "STOCK_0050.csv, line 18, column OnHand: quantity: 'seventeen' "
                "is not a number",
                "STOCK_0050.csv, line 34, column Article: sku is empty",
            ],
        )
        self.assertEqual(set(bad.exception_ids.mapped("type")), {"invalid_payload"})
        self.assertEqual(
            sorted(bad.exception_ids.mapped("key")),
            ["STOCK_0050.csv line 18", "STOCK_0050.csv line 34"],
        )
        # each rejected row keeps its raw cells for review
        self.assertIn('"seventeen"', bad.filtered(
            lambda b: "18" in b.external_ref
        ).raw_body)  # fmt: skip
        # the file itself stays, byte for byte
        with open(self.server.path("archive", "STOCK_0050.csv"), "rb") as handle:
            self.assertEqual(file_exchange._get_raw_bytes(), handle.read())

    def test_rejected_row_retried_once_the_map_is_fixed(self):
        self.tpl.csv_column_ids = [
            (
                0,
                0,
                {
                    "document": "stock_in",
                    "field_name": "counted_at",
                    "column": "CountDate",
                    "date_format": "%d/%m/%Y",
                },
            )
        ]
        self.drop_file(
            "STOCK_0002.csv",
            csv_bytes(
                [
                    ["Site", "Article", "OnHand", "CountDate"],
                    [self.warehouse.code, "MUG-RED", "9", "2026-12-06"],
                ]
            ),
        )
        _file, bad = self.poll_and_split()
        self.assertEqual(bad.state, "error")
        exception = bad.exception_ids
        self.assertEqual(
            exception.message,
            "STOCK_0002.csv, line 2, column CountDate: counted_at: '2026-12-06' "
            "is not a date (%d/%m/%Y)",
        )
        # the map was wrong, not the file: fixed, the row goes through
        self.tpl.csv_column_ids.filtered("date_format").date_format = "%Y-%m-%d"
        bad.process()
        self.assertEqual(bad.state, "done", bad.error)
        self.assertEqual(exception.state, "resolved")
        drift = self.Exception.search(
            [("backend_id", "=", self.tpl.id), ("type", "=", "stock_drift")]
        )
        self.assertEqual((drift.product_id, drift.counted_qty), (self.mug_red, 9.0))
        self.assertEqual(str(drift.counted_at), "2026-12-06 00:00:00")

    def test_receipt_file_with_the_default_map(self):
        """Receipts have no map lines: headers named after the fields; this
        3PL writes UTF-8 with a BOM, commas and quoted cells."""
        suppliers = self.env.ref("stock.stock_location_suppliers")
        receipt = self.env["stock.picking"].create(
            {
                "picking_type_id": self.warehouse.in_type_id.id,
                "origin": "PO-42",
                "location_id": suppliers.id,
                "location_dest_id": self.stock_location.id,
                "move_ids": [
                    Command.create(
                        {
                            "product_id": product.id,
                            "product_uom_qty": 5,
                            "location_id": suppliers.id,
                            "location_dest_id": self.stock_location.id,
                        }
                    )
                    for product in self.mug_blue | self.mug_red
                ],
            }
        )
        receipt.action_confirm()
        backend = self.tpl.copy(
            {
                "name": "Other 3PL",
                "csv_encoding": "utf-8-sig",
                "csv_delimiter": ",",
                "csv_receipt_pattern": "rcpt-*.csv",
                "csv_column_ids": [],
                "sftp_password": PASSWORD,
            }
        )
        self.drop_file(
            "rcpt-1.csv",
            "\ufeffpicking_name,sku,quantity,received_at\r\n"
            '"PO-42",MUG-BLUE,5,2026-12-06T08:00:00+01:00\r\n'
            '"PO-42","MUG-RED","3.0",2026-12-06T08:00:00+01:00\r\n'.encode(),
        )
        [file_exchange] = backend._sftp_poll()
        self.assertEqual(file_exchange.topic, "receipt_in")
        file_exchange.process()
        [part] = file_exchange.csv_part_ids
        self.assertEqual((part.topic, part.external_ref), ("receipt", "PO-42"))
        part.process()
        self.assertEqual(part.state, "done", part.error)
        self.assertEqual(receipt.state, "done")
        self.assertEqual(
            {m.product_id: m.quantity for m in receipt.move_ids},
            {self.mug_blue: 5.0, self.mug_red: 3.0},
        )
        # the 2 red mugs not received wait in a backorder
        self.assertEqual(receipt.backorder_ids.move_ids.product_uom_qty, 2.0)

    def run_job(self, exchange):
        """Enqueue the exchange's job and run it as queue_job's runner does
        (a savepoint rolled back if the job raises); the job record."""
        delayed = exchange.with_delay().process()
        job = Job.load(self.env, delayed.uuid)
        job.set_started()
        job.store()
        RunJobController._runjob(self.env, job)
        self.env.invalidate_all()
        return self.env["queue.job"].search([("uuid", "=", delayed.uuid)])

    def test_file_jobs_run_by_the_runner_keep_what_they_record(self):
        self.drop_file(
            "STOCK_0005.csv",
            csv_bytes(
                [
                    ["Site", "Article", "OnHand"],
                    [self.warehouse.code, "MUG-RED", "7"],
                    [self.warehouse.code, "MUG-BLUE", "-"],
                ]
            ),
        )
        self.drop_file("STOCK_0006.csv", csv_bytes([["Depot"], ["X"]]))
        good_file, bad_file = self.tpl._sftp_poll().sorted("external_ref")
        job = self.run_job(good_file)
        self.assertEqual((job.state, good_file.state), (DONE, "done"))
        rejected = good_file.csv_part_ids.filtered(lambda p: p.state == "error")
        self.assertEqual(
            rejected.exception_ids.message,
            "STOCK_0005.csv, line 3, column OnHand: quantity: '-' is not a number",
        )
        [count] = good_file.csv_part_ids - rejected
        self.assertEqual(self.run_job(count).state, DONE)
        self.assertEqual(count.state, "done")
        # a file that cannot be read: the job ends, its failure survives
        job = self.run_job(bad_file)
        self.assertEqual(job.state, DONE)
        self.assertEqual(job.result, "failed: invalid_payload")
        self.assertEqual(bad_file.state, "error")
        self.assertIn("no column 'Site'", bad_file.exception_ids.message)

    def test_file_that_cannot_be_read_fails_whole(self):
        self.drop_file(
            "STOCK_0004.csv",
            csv_bytes([["Depot", "Article", "OnHand"], ["X", "A", "1"]]),
        )
        [file_exchange] = self.tpl._sftp_poll()
        file_exchange.process()
        self.assertEqual(file_exchange.state, "error")
        self.assertFalse(file_exchange.csv_part_ids)
        self.assertIn(
            "STOCK_0004.csv: no column 'Site' (location) in the header",
            file_exchange.exception_ids.message,
        )

    def test_preview_on_a_sample(self):
        sample = csv_bytes(
            [
                ["OrderNo", "Article", "QtyShipped", "ShipDate", "Carrier",
                 "TrackingNo"],
                ["S00042", "MUG-BLUE", "1,5", "06/12/2026 09:00", "Géodis", "T1"],
                ["S00042", "MUG-RED", "x", "06/12/2026 09:00", "Géodis", "T1"],
                ["S00043", "", "2", "2026-12-06", "DHL", "T2"],
            ]
        )  # fmt: skip
        self.tpl.write(
            {
                "csv_sample": base64.b64encode(sample),
                "csv_sample_name": "sample.csv",
                "csv_sample_document": "shipment_in",
            }
        )
        html = str(self.tpl.csv_preview)
        self.assertIn("3 rows, 2 with errors", html)
        self.assertIn("<td>Géodis</td>", html)
        self.assertIn("<td>1.5</td>", html)
        self.assertIn("<td>2026-12-06T09:00:00Z</td>", html)
        self.assertIn("quantity: &#39;x&#39; is not a number", html)
        self.assertIn("sku is empty", html)
        self.assertIn("shipped_at: &#39;2026-12-06&#39; is not a date", html)

        self.tpl.csv_encoding = "utf-8"
        self.assertIn("is not utf-8", str(self.tpl.csv_preview))
