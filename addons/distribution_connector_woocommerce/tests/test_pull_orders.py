import json
from datetime import datetime

from odoo.tests.common import HttpCase, TransactionCase, tagged

from odoo.addons.distribution_connector.errors import PermanentError

from ..adapters.woocommerce_mapping import resource_event_id
from .common import WooCommerceOutboundMixin, WooCommerceTestMixin, fixture

ORDERS = "/wp-json/wc/v3/orders"


def order(order_id, modified="2025-03-22T19:28:08"):
    payload = fixture("order.json")
    payload.update(id=order_id, number=str(order_id), date_modified_gmt=modified)
    return payload


@tagged("-at_install", "post_install")
class TestPullOrders(WooCommerceOutboundMixin, TransactionCase):
    """Reconciliation pulls orders page by page from a fake shop."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpOutbound()

    def add_page(self, orders, total_pages, total=None):
        self.server.add(
            "GET",
            ORDERS,
            json_body=orders,
            headers={
                "X-WP-Total": str(total if total is not None else len(orders)),
                "X-WP-TotalPages": str(total_pages),
            },
        )

    def test_three_pages_followed_by_x_wp_totalpages(self):
        pages = [
            [order(n) for n in range(1, 101)],
            [order(n) for n in range(101, 201)],
            [order(n) for n in range(201, 231)],
        ]
        for page in pages:
            self.add_page(page, 3, total=230)
        pulled = list(self.adapter.pull_orders(datetime(2025, 3, 20, 8, 30, 15, 999)))
        calls = self.server.calls("GET", ORDERS)
        self.assertEqual([c.query["page"] for c in calls], [["1"], ["2"], ["3"]])
        self.assertEqual(
            calls[0].query,
            {
                "modified_after": ["2025-03-20T08:30:15"],
                "dates_are_gmt": ["true"],
                "per_page": ["100"],
                "page": ["1"],
                "orderby": ["id"],
                "order": ["asc"],
            },
        )
        self.assertEqual(len(pulled), 230)
        first = pulled[0]
        self.assertEqual(
            (first["topic"], first["external_ref"], first["payload"]["id"]),
            ("order.updated", "1", 1),
        )
        self.assertEqual(first["event_id"], resource_event_id(order(1)))
        self.assertEqual(len({p["event_id"] for p in pulled}), 230)
        # the topic is one the adapter handles, as the inbox expects
        self.assertEqual(self.adapter.canonical_kind(first["topic"]), "order")

    def test_pages_are_fetched_as_they_are_consumed(self):
        self.add_page([order(1)], 2)
        self.add_page([order(2)], 2)
        pulled = self.adapter.pull_orders(datetime(2025, 3, 20))
        next(pulled)
        self.assertEqual(len(self.server.calls("GET", ORDERS)), 1)
        self.assertEqual(len(list(pulled)), 1)
        self.assertEqual(len(self.server.calls("GET", ORDERS)), 2)

    def test_empty_result(self):
        self.add_page([], 0)
        self.assertEqual(list(self.adapter.pull_orders(datetime(2025, 3, 20))), [])
        self.assertEqual(len(self.server.calls("GET", ORDERS)), 1)

    def test_without_the_header_a_full_page_may_have_a_next_one(self):
        self.server.add("GET", ORDERS, json_body=[order(n) for n in range(1, 101)])
        self.server.add("GET", ORDERS, json_body=[order(101)])
        pulled = list(self.adapter.pull_orders(datetime(2025, 3, 20)))
        self.assertEqual(len(pulled), 101)
        self.assertEqual(len(self.server.calls("GET", ORDERS)), 2)

    def test_malformed_answers_are_permanent_errors(self):
        answers = [
            {"body": b"<html>maintenance</html>"},
            {"json_body": {"id": 1}},
            {"json_body": [{"number": "1"}]},
            {"json_body": [order(1)], "headers": {"X-WP-TotalPages": "many"}},
        ]
        for answer in answers:
            self.server.add("GET", ORDERS, **answer)
            error = self.failing(
                PermanentError, self.adapter.pull_orders, datetime(2025, 3, 20)
            )
            self.assertEqual(error.kind, "permanent", answer)


@tagged("-at_install", "post_install")
class TestPulledOrderCollapses(WooCommerceTestMixin, HttpCase):
    """A pulled order is the event its webhook delivered."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpWooCommerce()

    def test_pulled_event_id_is_the_webhook_event_id(self):
        payload = order(727)
        body, headers = self.woo_delivery(self.SECRET, payload, topic="order.updated")
        answer = self.url_open(
            self.webhook_path(self.backend, "woocommerce"), data=body, headers=headers
        ).json()
        exchange = self.env["distribution.exchange"].browse(answer["exchange_id"])
        # as the shop's list endpoint would answer it: other bytes, same order
        listed = json.loads(json.dumps(payload, indent=1))
        self.assertEqual(exchange.external_event_id, resource_event_id(listed))
