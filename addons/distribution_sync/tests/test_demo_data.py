import os
from collections import Counter

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_connector.tests.common import (
    KEYS_ENV,
    TEST_KEY,
    encryption_keys,
    load_demo,
)

#: the demo files of this addon, for the demo tests of the addons above it
SYNC_DEMO = "distribution_sync/demo/distribution_demo.xml"


def exchanges_by_state(backend):
    exchanges = backend.env["distribution.exchange"].search(
        [("backend_id", "=", backend.id)]
    )
    return Counter(exchanges.mapped("state"))


def open_exceptions_by_type(backend):
    exceptions = backend.env["distribution.exception"].search(
        [("backend_id", "=", backend.id), ("state", "=", "open")]
    )
    return Counter(exceptions.mapped("type"))


@tagged("-at_install", "post_install")
class TestDemoData(TransactionCase):
    """The web shop's demo (the test database has none: loaded here): its
    events went through the inbox and the flows, and left what they made."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.environ.get(KEYS_ENV):
            cls.enterClassContext(encryption_keys(TEST_KEY))
        load_demo(cls.env, SYNC_DEMO)
        cls.shop = cls.env.ref("distribution_sync.demo_backend_webshop")

    def orders(self):
        return self.env["sale.order"].search(
            [("distribution_backend_id", "=", self.shop.id)]
        )

    def test_the_shop_is_a_paused_generic_backend_sending_nothing(self):
        self.assertEqual(self.shop.adapter, "generic_json")
        self.assertTrue(self.shop.paused)
        self.assertTrue(
            self.shop.api_base_url.startswith("https://api.webshop.invalid")
        )
        outbound = self.env["distribution.exchange"].search(
            [("backend_id", "=", self.shop.id), ("direction", "=", "out")]
        )
        self.assertFalse(outbound)
        calls = self.env["distribution.call.log"].search(
            [("backend_id", "=", self.shop.id)]
        )
        self.assertFalse(calls)

    def test_orders_imported_by_the_order_flow(self):
        orders = self.orders()
        states = {o.distribution_external_id: o.state for o in orders}
        self.assertEqual(
            states,
            {
                "WS-1001": "sale",
                "WS-1002": "sale",
                "WS-1003": "cancel",
                "WS-1004": "sale",
            },
        )
        # the shop's own SKU of the red mug, through its SKU mapping
        ws_1004 = orders.filtered(lambda o: o.distribution_external_id == "WS-1004")
        self.assertEqual(
            ws_1004.order_line.product_id.mapped("default_code"),
            ["DS-MUG-RED", "DIST-SHIPPING"],
        )
        # the 3PL's warehouse serves the orders it has every line of
        ws_1001 = orders.filtered(lambda o: o.distribution_external_id == "WS-1001")
        self.assertEqual(ws_1001.warehouse_id.code, "RNO")
        self.assertEqual(ws_1001.amount_total, 54.0)

    def test_exchanges_in_each_state(self):
        self.assertEqual(
            exchanges_by_state(self.shop),
            {"done": 6, "error": 4, "ignored": 1, "received": 2},
        )
        duplicate = self.env["distribution.exchange"].search(
            [("backend_id", "=", self.shop.id), ("external_ref", "=", "WS-1004")]
        )
        self.assertEqual(duplicate.duplicate_count, 1)
        self.assertEqual(self.shop.health_pending_count, 2)
        self.assertEqual(self.shop.health_duplicate_count, 1)
        self.assertGreater(self.shop.health_failure_rate, 0)
        # the orders left received wait for the backend's dispatcher job
        dispatcher = self.env["distribution.exchange"]._dispatcher_identity_key(
            self.shop
        )
        jobs = self.env["queue.job"].search(
            [("identity_key", "=", dispatcher), ("state", "=", "pending")]
        )
        self.assertEqual(len(jobs), 1)

    def test_open_exceptions_of_several_types(self):
        self.assertEqual(
            open_exceptions_by_type(self.shop),
            {
                "unknown_sku": 1,
                "currency_mismatch": 1,
                "invalid_payload": 2,
                "settlement_mismatch": 1,
                "settlement_unmatched": 1,
            },
        )
        invalid = self.env["distribution.exception"].search(
            [("backend_id", "=", self.shop.id), ("json_path", "=", "$.customer")]
        )
        self.assertIn("does not match its schema", invalid.message)
        self.assertIn('"external_id": "WS-1007"', invalid.exchange_id.raw_body)
        ignored = self.env["distribution.exception"].search(
            [("backend_id", "=", self.shop.id), ("state", "=", "ignored")]
        )
        self.assertEqual(ignored.key, "TEST-SKU")
        self.assertIn("test order", ignored.ignore_reason)
        self.assertEqual(ignored.exchange_id.state, "ignored")

    def test_a_settlement_matched_against_posted_invoices(self):
        settlement = self.env["distribution.settlement"].search(
            [("backend_id", "=", self.shop.id)]
        )
        self.assertEqual(settlement.name, "PAYOUT-2026-0116")
        self.assertEqual(settlement.state, "exceptions")
        self.assertEqual(
            settlement.line_ids.sorted("sequence").mapped("match_state"),
            ["matched", "mismatch", "no_invoice", "fee"],
        )
