"""Order pulls for reconciliation, page after page of the REST orders endpoint."""

from datetime import datetime

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_connector.errors import PermanentError
from odoo.addons.distribution_connector.tests.common import ChannelSetUpMixin

from .common import ORDERS_PATH, FakeShopifyMixin


@tagged("-at_install", "post_install")
class TestPullOrders(ChannelSetUpMixin, FakeShopifyMixin, TransactionCase):
    def page(self, ids, next_cursor=None):
        orders = [
            self.order_fixture(id=order_id, updated_at="2025-03-01T05:00:00-05:00")
            for order_id in ids
        ]
        headers = {}
        if next_cursor:
            url = f"{self.server.url}{ORDERS_PATH}"
            headers["Link"] = (
                f'<{url}?limit=250&page_info=prev-{next_cursor}>; rel="previous", '
                f'<{url}?limit=250&page_info={next_cursor}>; rel="next"'
            )
        self.server.add(
            "GET", ORDERS_PATH, json_body={"orders": orders}, headers=headers
        )

    def test_three_pages_yield_every_order_once(self):
        self.page([1, 2, 3], next_cursor="cursor-2")
        self.page([4, 5], next_cursor="cursor-3")
        self.page([6])
        pulled = list(self.adapter().pull_orders(datetime(2025, 3, 1, 8, 0, 0)))
        self.assertEqual(
            [p["external_ref"] for p in pulled], ["1", "2", "3", "4", "5", "6"]
        )
        self.assertEqual(
            pulled[0],
            {
                "topic": "orders/updated",
                "event_id": "pull:1:2025-03-01T05:00:00-05:00",
                "external_ref": "1",
                "payload": pulled[0]["payload"],
            },
        )
        self.assertEqual(pulled[0]["payload"]["line_items"][0]["sku"], "MUG-BLUE")
        first, second, third = self.server.calls("GET", ORDERS_PATH)
        self.assertEqual(
            first.query,
            {
                "updated_at_min": ["2025-03-01T08:00:00+00:00"],
                "status": ["any"],
                "limit": ["250"],
            },
        )
        self.assertEqual(second.query, {"limit": ["250"], "page_info": ["cursor-2"]})
        self.assertEqual(third.query, {"limit": ["250"], "page_info": ["cursor-3"]})
        self.assertEqual(
            first.headers["x-shopify-access-token"], "shpat_access-token-0123456789"
        )
        adapter = self.backend._get_adapter()
        for pulled_order in pulled:
            self.assertEqual(adapter.canonical_kind(pulled_order["topic"]), "order")
            adapter.to_canonical("order", pulled_order["payload"])

    def test_an_order_seen_twice_is_yielded_once(self):
        self.page([1, 2], next_cursor="cursor-2")
        self.page([2, 3])
        pulled = list(self.adapter().pull_orders(datetime(2025, 3, 1)))
        self.assertEqual([p["external_ref"] for p in pulled], ["1", "2", "3"])

    def test_pages_that_do_not_advance_stop(self):
        self.page([1], next_cursor="same")
        self.page([2], next_cursor="same")
        error = self.failing(
            PermanentError, self.adapter().pull_orders, datetime(2025, 3, 1)
        )
        self.assertIn("do not advance", error.message)
        self.assertEqual(len(self.server.calls("GET", ORDERS_PATH)), 2)

    def test_malformed_pages_are_permanent(self):
        for answer in (
            {"order": []},
            {"orders": [{"id": "abc", "updated_at": "x"}]},
            {"orders": [{"id": 1}]},
            {"orders": "none"},
        ):
            with self.subTest(answer=answer):
                self.server.scripts.clear()
                self.server.add("GET", ORDERS_PATH, json_body=answer)
                self.failing(
                    PermanentError, self.adapter().pull_orders, datetime(2025, 3, 1)
                )
        self.server.add("GET", ORDERS_PATH, body=b"<html>oops</html>")
        self.failing(PermanentError, self.adapter().pull_orders, datetime(2025, 3, 1))
