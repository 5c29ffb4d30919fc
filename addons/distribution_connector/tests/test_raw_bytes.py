"""The inbox keeps the exact bytes of every body: UTF-8 as text, anything
else losslessly (``raw_body_charset``), read back by ``_get_raw_bytes``."""

from odoo.exceptions import UserError
from odoo.tests.common import TransactionCase, tagged

from .common import DistributionTestMixin

#: a 3PL's stock file written by a Windows tool: cp1252, "é" is 0xe9,
#: "€" 0x80 and a typographic apostrophe 0x92, none valid UTF-8
CP1252_CSV = (
    "sku;name;qty\r\nMUG-1;Tasse café \u2018Noël\u2019;4\r\nEUR-1;Bon 5€;1\r\n".encode(
        "cp1252"
    )
)


@tagged("-at_install", "post_install")
class TestRawBytes(DistributionTestMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpDistribution()
        cls.Exchange = cls.env["distribution.exchange"].sudo()

    def insert(self, body, event_id):
        exchange, created = self.Exchange._insert_inbound(
            self.backend,
            "file",
            None,
            event_id,
            None,
            body,
            "application/octet-stream",
            {},
            dispatch=False,
        )
        self.assertTrue(created)
        exchange.invalidate_recordset()
        return exchange

    def test_utf8_body_is_stored_as_it_is(self):
        body = '{"name": "Tasse café", "note": "Noël ✓"}'.encode()
        exchange = self.insert(body, "utf8")
        self.assertEqual(exchange.raw_body_charset, "utf-8")
        self.assertEqual(exchange.raw_body, body.decode("utf-8"))
        self.assertEqual(exchange._get_raw_bytes(), body)

    def test_cp1252_file_keeps_its_exact_bytes(self):
        self.assertRaises(UnicodeDecodeError, CP1252_CSV.decode, "utf-8")
        exchange = self.insert(CP1252_CSV, "cp1252")
        self.assertEqual(exchange.raw_body_charset, "latin-1")
        self.assertNotIn("\ufffd", exchange.raw_body)
        self.assertEqual(exchange._get_raw_bytes(), CP1252_CSV)
        # decoded with the partner's encoding, the names are right
        self.assertIn(
            "Tasse café \u2018Noël\u2019", exchange._get_raw_bytes().decode("cp1252")
        )

    def test_every_byte_but_nul_round_trips(self):
        body = bytes(range(1, 256)) * 3
        exchange = self.insert(body, "all-bytes")
        self.assertEqual(exchange.raw_body_charset, "latin-1")
        self.assertEqual(exchange._get_raw_bytes(), body)

    def test_body_with_nul_bytes_is_kept_in_base64(self):
        # a UTF-16 file, or a binary dropped in the wrong folder
        body = "sku;qty\r\nMUG-1;4\r\n".encode("utf-16")
        exchange = self.insert(body, "utf16")
        self.assertEqual(exchange.raw_body_charset, "base64")
        self.assertEqual(exchange._get_raw_bytes(), body)

    def test_how_a_body_is_stored_never_changes(self):
        exchange = self.insert(CP1252_CSV, "frozen")
        with self.assertRaises(UserError):
            exchange.write({"raw_body_charset": "utf-8"})
        self.assertEqual(exchange._get_raw_bytes(), CP1252_CSV)
