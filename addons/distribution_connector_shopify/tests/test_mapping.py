"""Documented Shopify payloads -> canonical objects that match the schemas."""

from odoo.tests.common import TransactionCase

from odoo.addons.distribution_connector.errors import PermanentError
from odoo.addons.distribution_sync.tools.schemas import validate

from .common import ShopifyTestMixin, fixture


class TestMapping(ShopifyTestMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpShopify()
        cls.adapter = cls.backend._get_adapter()

    def canonical(self, kind, payload):
        data = self.adapter.to_canonical(kind, payload)
        validate(kind, data)
        return data

    def test_order(self):
        order = self.canonical("order", fixture("orders_create.json"))
        self.assertEqual(
            {k: v for k, v in order.items() if not isinstance(v, (dict, list))},
            {
                "external_id": "5810000001001",
                "name": "#1001",
                "created_at": "2025-03-01T04:30:00-05:00",
                "updated_at": "2025-03-01T05:00:00-05:00",
                "currency": "USD",
                "taxes_included": False,
                "status": "paid",
                "note": "Leave at the door",
                "total": 42,
            },
        )
        self.assertEqual(
            order["customer"],
            {
                "external_id": "7010000000001",
                "name": "Ada Lovelace",
                "email": "ada@example.com",
                "phone": "+12125550100",
            },
        )
        self.assertEqual(
            order["shipping_address"],
            {
                "name": "Ada Lovelace",
                "street": "12 Analytical Row",
                "city": "New York",
                "zip": "10001",
                "state_code": "NY",
                "country_code": "US",
                "phone": "+12125550100",
            },
        )
        self.assertEqual(
            order["lines"],
            [
                {
                    "external_id": "13000000000001",
                    "sku": "MUG-BLUE",
                    "name": "Mug - Blue",
                    "quantity": 2,
                    "unit_price": 12,
                    "discount_amount": 2.4,
                    "taxes": [{"name": "NY State Tax", "rate": 20}],
                },
                {
                    "external_id": "13000000000002",
                    "sku": "variant:40000000000002",
                    "name": "Mug - Red",
                    "quantity": 1,
                    "unit_price": 8.5,
                    "taxes": [{"name": "NY State Tax", "rate": 20}],
                },
            ],
        )
        self.assertEqual(
            order["shipping"],
            [
                {
                    "code": "Standard",
                    "name": "Standard Shipping",
                    "price": 4.9,
                    "taxes": [{"name": "NY State Tax", "rate": 20}],
                }
            ],
        )

    def test_order_status_and_odd_rates(self):
        payload = fixture("orders_create.json")
        payload["financial_status"] = "pending"
        payload["line_items"][0]["tax_lines"] = [
            {"rate": 0.075, "price": "1.62", "title": "Sales tax"},
            {"rate": 0.0, "price": "0.00", "title": "City tax"},
        ]
        order = self.canonical("order", payload)
        self.assertEqual(order["status"], "open")
        self.assertEqual(
            order["lines"][0]["taxes"],
            [{"name": "Sales tax", "rate": 7.5}, {"name": "City tax", "rate": 0}],
        )
        payload["cancelled_at"] = "2025-03-02T09:15:00-05:00"
        self.assertEqual(self.canonical("order", payload)["status"], "cancelled")

    def test_order_of_a_guest_without_customer(self):
        payload = fixture("orders_create.json")
        payload["customer"] = None
        payload["billing_address"]["province_code"] = "JP-13"
        payload["billing_address"]["country_code"] = "JP"
        order = self.canonical("order", payload)
        self.assertEqual(order["customer"]["name"], "Ada Lovelace")
        self.assertEqual(order["customer"]["email"], "ada@example.com")
        self.assertNotIn("external_id", order["customer"])
        self.assertEqual(order["billing_address"]["state_code"], "13")

    def test_custom_line_item_and_removed_lines(self):
        payload = fixture("orders_create.json")
        payload["line_items"][1].update(sku=None, variant_id=None, title="Gift wrap")
        payload["line_items"][0]["quantity"] = 0
        payload["shipping_lines"][0]["is_removed"] = True
        order = self.canonical("order", payload)
        self.assertEqual([line["sku"] for line in order["lines"]], ["custom:Gift wrap"])
        self.assertEqual(order["shipping"], [])

    def test_cancellation(self):
        data = self.canonical("order_cancellation", fixture("orders_cancelled.json"))
        self.assertEqual(
            data,
            {
                "external_id": "5810000001001",
                "cancelled_at": "2025-03-02T09:15:00-05:00",
                "reason": "customer",
            },
        )

    def test_refund_is_a_return(self):
        data = self.canonical("return", fixture("refunds_create.json"))
        self.assertEqual(
            data,
            {
                "external_id": "9100000000001",
                "order_external_id": "5810000001001",
                "created_at": "2025-03-10T11:00:00-04:00",
                "reason": "Arrived chipped",
                "refund_amount": 23.16,
                "currency": "USD",
                "lines": [
                    {"sku": "MUG-BLUE", "quantity": 1, "restock": True},
                    {"sku": "variant:40000000000002", "quantity": 1, "restock": False},
                ],
            },
        )

    def test_refund_of_money_only_is_not_a_return(self):
        payload = fixture("refunds_create.json")
        payload["refund_line_items"] = []
        with self.assertRaisesRegex(PermanentError, "no goods come back"):
            self.adapter.to_canonical("return", payload)

    def test_malformed_payloads_name_the_json_path(self):
        cases = [
            ("$.line_items[0].price", lambda p: p["line_items"][0].update(price="n/a")),
            ("$.id", lambda p: p.pop("id")),
            ("$.line_items", lambda p: p.update(line_items={"a": 1})),
            (
                "$.line_items[0].tax_lines[0].rate",
                lambda p: p["line_items"][0]["tax_lines"][0].update(rate=20),
            ),
            ("$.updated_at", lambda p: p.update(updated_at="yesterday")),
            (
                "$.shipping_address.country_code",
                lambda p: p["shipping_address"].update(country_code="USA"),
            ),
            (
                "$.line_items[1].discount_allocations[0].amount",
                lambda p: p["line_items"][1].update(
                    discount_allocations=[{"amount": "-1.00"}]
                ),
            ),
        ]
        for json_path, damage in cases:
            with self.subTest(json_path=json_path):
                payload = fixture("orders_create.json")
                damage(payload)
                with self.assertRaises(PermanentError) as caught:
                    self.adapter.to_canonical("order", payload)
                self.assertEqual(caught.exception.kind, "invalid_payload")
                self.assertEqual(caught.exception.json_path, json_path)
        with self.assertRaises(PermanentError):
            self.adapter.to_canonical("order", ["not", "an", "order"])

    def test_topics_and_references(self):
        adapter = self.adapter
        self.assertEqual(adapter.canonical_kind("orders/paid"), "order")
        self.assertEqual(
            adapter.canonical_kind("orders/cancelled"), "order_cancellation"
        )
        self.assertEqual(adapter.canonical_kind("refunds/create"), "return")
        self.assertIsNone(adapter.canonical_kind("products/update"))
        self.assertEqual(
            adapter.resolve_topic("order", {"x-shopify-topic": "orders/updated"}),
            "orders/updated",
        )
        self.assertEqual(adapter.resolve_topic("refunds-create", {}), "refunds/create")
        self.assertEqual(
            adapter.external_reference(
                "refunds/create", fixture("refunds_create.json")
            ),
            "5810000001001",
        )
        self.assertEqual(
            adapter.external_reference("orders/create", fixture("orders_create.json")),
            "5810000001001",
        )
