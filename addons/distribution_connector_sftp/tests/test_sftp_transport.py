"""The file transport against a real SFTP server on 127.0.0.1."""

import os

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_connector.errors import TransientError
from odoo.addons.distribution_connector.tests.common import (
    DistributionTestMixin,
    load_demo,
)

from ..sftp_client import HostKeyRefused, file_event_id
from .sftp_server import PASSWORD, USERNAME, SftpTestServer, new_host_key

SFTP_DEMO = "distribution_connector_sftp/demo/distribution_connector_sftp_demo.xml"
ORDERS = b"order_ref;sku;qty\nPO-1001;MUG-1;4\nPO-1001;MUG-2;2\n"


@tagged("-at_install", "post_install")
class TestSftpTransport(DistributionTestMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpDistribution()
        cls.server = SftpTestServer().start()
        cls.addClassCleanup(cls.server.stop)
        cls.backend.write(
            {
                "sftp_host": "127.0.0.1",
                "sftp_port": cls.server.port,
                "sftp_username": USERNAME,
                "sftp_password": PASSWORD,
                "sftp_host_key": f"[127.0.0.1]:{cls.server.port} "
                f"{cls.server.host_key_line}",
                "sftp_inbound_topic": "order",
            }
        )

    def setUp(self):
        super().setUp()
        self.server.reset("inbound", "outbound")

    def drop_file(self, name, data):
        with open(self.server.path("inbound", name), "wb") as handle:
            handle.write(data)

    def received(self):
        return self.env["distribution.exchange"].search(
            [("backend_id", "=", self.backend.id), ("direction", "=", "in")]
        )

    def test_password_stored_encrypted(self):
        stored = self.backend.sudo().sftp_password_enc
        self.assertTrue(stored)
        self.assertNotIn(PASSWORD, stored)
        self.assertFalse(self.backend.sftp_password)
        self.assertEqual(
            self.backend._redact(f"login {PASSWORD} refused"), "login *** refused"
        )

    def test_file_polled_twice_is_one_exchange(self):
        self.drop_file("orders-1.csv", ORDERS)
        # no archive folder yet: the exchange is stored, the file stays
        created = self.backend._sftp_poll()
        self.assertEqual(len(created), 1)
        self.assertEqual(created.raw_body, ORDERS.decode())
        self.assertEqual(created.external_ref, "orders-1.csv")
        self.assertEqual(created.topic, "order")
        self.assertEqual(
            created.external_event_id, file_event_id("orders-1.csv", ORDERS)
        )
        self.assertEqual(os.listdir(self.server.path("inbound")), ["orders-1.csv"])

        # polled again: the same file is the same exchange, now archived
        os.makedirs(self.server.path("archive"))
        self.assertFalse(self.backend._sftp_poll())
        self.assertEqual(self.received(), created)
        self.assertEqual(created.duplicate_count, 1)
        self.assertEqual(os.listdir(self.server.path("inbound")), [])
        self.assertEqual(os.listdir(self.server.path("archive")), ["orders-1.csv"])

        # sent again by the partner: still one exchange, archived beside it
        self.drop_file("orders-1.csv", ORDERS)
        self.assertFalse(self.backend._sftp_poll())
        self.assertEqual(self.received(), created)
        self.assertEqual(
            sorted(os.listdir(self.server.path("archive"))),
            ["orders-1.csv", "orders-1.csv.1"],
        )

        # the same name with other bytes is another file
        self.drop_file("orders-1.csv", ORDERS + b"PO-1001;MUG-3;1\n")
        self.assertEqual(len(self.backend._sftp_poll()), 1)
        self.assertEqual(len(self.received()), 2)

    def test_cp1252_file_keeps_its_exact_bytes(self):
        data = "sku;name;qty\r\nMUG-1;Tasse café \u2018Noël\u2019;4\r\n".encode(
            "cp1252"
        )
        self.drop_file("stock-1.csv", data)
        exchange = self.backend._sftp_poll()
        self.assertEqual(exchange.raw_body_charset, "latin-1")
        self.assertEqual(exchange._get_raw_bytes(), data)
        self.assertEqual(exchange.external_event_id, file_event_id("stock-1.csv", data))
        self.assertIn(
            "Tasse café \u2018Noël\u2019", exchange._get_raw_bytes().decode("cp1252")
        )

    def test_partial_files_are_not_polled(self):
        os.makedirs(self.server.path("archive"))
        self.drop_file(".orders-2.csv.part", ORDERS[:10])
        self.assertFalse(self.backend._sftp_poll())
        self.assertEqual(
            os.listdir(self.server.path("inbound")), [".orders-2.csv.part"]
        )

    def test_interrupted_upload_retried_is_one_complete_file(self):
        document = b"".join(
            b"line %06d of the shipment notice\n" % n for n in range(5000)
        )
        self.server.abort_writes_at = len(document) // 2
        with self.assertRaises(TransientError):
            self.backend._sftp_upload("desadv-1.edi", document)
        # the partner never sees a partial file under the document's name
        self.assertNotIn("desadv-1.edi", os.listdir(self.server.path("outbound")))

        self.assertTrue(self.backend._sftp_upload("desadv-1.edi", document))
        self.assertEqual(os.listdir(self.server.path("outbound")), ["desadv-1.edi"])
        with open(self.server.path("outbound", "desadv-1.edi"), "rb") as handle:
            self.assertEqual(handle.read(), document)

        # retried once more (its job's answer was lost): nothing new
        self.assertFalse(self.backend._sftp_upload("desadv-1.edi", document))
        self.assertEqual(os.listdir(self.server.path("outbound")), ["desadv-1.edi"])

    def test_unknown_host_key_refused(self):
        _key, other_line = new_host_key()
        self.backend.sftp_host_key = other_line
        self.drop_file("orders-3.csv", ORDERS)
        attempts = len(self.server.auth_attempts)
        with self.assertRaises(HostKeyRefused):
            self.backend._sftp_poll()
        # refused before any credential was sent, nothing stored
        self.assertEqual(len(self.server.auth_attempts), attempts)
        self.assertFalse(self.received())

        self.backend.sftp_host_key = False
        with self.assertRaises(HostKeyRefused):
            self.backend._sftp_upload("x.edi", b"x")
        self.assertEqual(os.listdir(self.server.path("outbound")), [])

    def test_cron_goes_on_after_a_failing_backend(self):
        refused = self.backend.copy({"name": "Other partner"})
        refused.sftp_host_key = new_host_key()[1]
        self.drop_file("orders-4.csv", ORDERS)
        os.makedirs(self.server.path("archive"))
        self.env["distribution.backend"]._cron_sftp_poll()
        self.assertFalse(refused.sftp_last_poll)
        self.assertTrue(self.backend.sftp_last_poll)
        self.assertEqual(self.received().external_ref, "orders-4.csv")


@tagged("-at_install", "post_install")
class TestSftpDemo(TransactionCase):
    def test_demo_backend_paused_and_not_polled(self):
        load_demo(self.env, SFTP_DEMO)
        backend = self.env.ref("distribution_connector_sftp.demo_backend_sftp_partner")
        self.assertTrue(backend.paused)
        self.assertTrue(backend.sftp_host.endswith(".invalid"))
        # the cron skips it: nothing is called, nothing is stored
        self.env["distribution.backend"]._cron_sftp_poll()
        self.assertFalse(backend.sftp_last_poll)
