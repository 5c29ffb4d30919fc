from odoo.tests.common import TransactionCase

from odoo.addons.distribution_connector.errors import PermanentError
from odoo.addons.distribution_sync.tools.schemas import validate

from ..adapters.woocommerce import sign, wp_decode_entities
from ..adapters.woocommerce_mapping import map_refund_returns, resource_event_id
from .common import WooCommerceTestMixin, fixture


class TestMapping(WooCommerceTestMixin, TransactionCase):
    """WooCommerce v3 payloads -> canonical objects that pass the schemas."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpWooCommerce()
        cls.adapter = cls.backend._get_adapter()

    def canonical(self, payload, kind="order"):
        data = self.adapter.to_canonical(kind, payload)
        validate(kind, data)
        return data

    def test_documented_order_maps_to_a_valid_canonical_order(self):
        order = self.canonical(fixture("order.json"))
        self.assertEqual(order["external_id"], "727")
        self.assertEqual(order["name"], "727")
        self.assertEqual(order["currency"], "USD")
        self.assertIs(order["taxes_included"], False)
        self.assertEqual(order["status"], "paid")
        self.assertEqual(order["created_at"], "2025-03-22T19:28:02Z")
        self.assertEqual(order["updated_at"], "2025-03-22T19:28:08Z")
        self.assertEqual(order["total"], 52.32)
        self.assertEqual(order["note"], "Leave it at the back door")
        self.assertEqual(
            order["customer"],
            {
                "external_id": "26",
                "name": "John Doe",
                "email": "john.doe@example.com",
                "phone": "(555) 555-5555",
            },
        )
        self.assertEqual(
            order["billing_address"],
            {
                "name": "John Doe",
                "street": "969 Market",
                "city": "San Francisco",
                "zip": "94103",
                "state_code": "CA",
                "country_code": "US",
                "phone": "(555) 555-5555",
                "email": "john.doe@example.com",
            },
        )
        self.assertEqual(
            order["shipping_address"],
            {
                "name": "Jane Doe",
                "company_name": "Doe Workshop",
                "street": "1 Mission Street",
                "street2": "Unit 4",
                "city": "San Francisco",
                "zip": "94105",
                "state_code": "CA",
                "country_code": "US",
            },
        )

    def test_lines_prices_discounts_and_taxes(self):
        lines = self.canonical(fixture("order.json"))["lines"]
        tax = {"name": "Sales tax 20%", "rate": 20.0}
        self.assertEqual(
            lines,
            [
                {
                    "external_id": "315",
                    "sku": "WOO-MUG-BLUE",
                    "name": "Blue mug",
                    "quantity": 2,
                    "unit_price": 12.0,
                    "discount_amount": 2.4,
                    "taxes": [tax],
                },
                {
                    "external_id": "316",
                    # no SKU: the variation id, to map with a SKU mapping
                    "sku": "variation:23",
                    "name": "Ship Your Idea \u2013 Color: Black, Size: M",
                    "quantity": 1,
                    "unit_price": 12.0,
                    "taxes": [tax],
                },
            ],
        )

    def test_shipping_lines(self):
        shipping = self.canonical(fixture("order.json"))["shipping"]
        self.assertEqual(
            shipping,
            [
                {
                    "code": "flat_rate",
                    "name": "Flat Rate",
                    "price": 10.0,
                    "taxes": [{"name": "Sales tax 20%", "rate": 20.0}],
                }
            ],
        )

    def test_simple_product_without_sku_falls_back_to_the_product_id(self):
        payload = fixture("order.json")
        payload["line_items"][0]["sku"] = ""
        self.assertEqual(self.canonical(payload)["lines"][0]["sku"], "product:93")

    def test_guest_without_names_and_virtual_order_without_shipping(self):
        payload = fixture("order.json")
        payload["customer_id"] = 0
        payload["billing"].update(first_name="", last_name="", phone="")
        payload["shipping"] = {key: "" for key in payload["shipping"]}
        payload["shipping_lines"] = []
        order = self.canonical(payload)
        self.assertEqual(
            order["customer"],
            {"name": "john.doe@example.com", "email": "john.doe@example.com"},
        )
        self.assertNotIn("shipping_address", order)
        self.assertEqual(order["shipping"], [])

    def test_malformed_email_is_left_out_rather_than_rejecting_the_order(self):
        payload = fixture("order.json")
        payload["billing"]["email"] = "not an email"
        order = self.canonical(payload)
        self.assertNotIn("email", order["customer"])
        self.assertNotIn("email", order["billing_address"])

    def test_prices_including_taxes(self):
        payload = fixture("order.json")
        payload["prices_include_tax"] = True
        self.assertIs(self.canonical(payload)["taxes_included"], True)

    def test_statuses(self):
        expected = {
            "pending": "open",
            "on-hold": "open",
            "failed": "open",
            "processing": "paid",
            "completed": "paid",
            "refunded": "paid",
            "cancelled": "cancelled",
            "some-custom-status": "open",
        }
        for status, canonical in expected.items():
            payload = fixture("order.json")
            payload["status"] = status
            self.assertEqual(self.canonical(payload)["status"], canonical, status)

    def test_cancelled_update_is_a_cancellation_object(self):
        payload = fixture("order.json")
        payload["status"] = "cancelled"
        cancellation = self.canonical(payload, "order_cancellation")
        self.assertEqual(
            cancellation,
            {
                "external_id": "727",
                "cancelled_at": "2025-03-22T19:28:08Z",
                "reason": "Order status cancelled in WooCommerce.",
            },
        )

    def test_tax_rates_of_orders_before_woocommerce_3_7_come_from_the_amounts(self):
        payload = fixture("order_before_3_7.json")
        self.assertFalse([tax for tax in payload["tax_lines"] if "rate_percent" in tax])
        order = self.canonical(payload)
        standard = {"name": "Sales tax", "rate": 20.0}
        reduced = {"name": "Reduced rate", "rate": 5.5}
        self.assertEqual(
            [line["taxes"] for line in order["lines"]], [[standard], [reduced]]
        )
        self.assertEqual(order["shipping"][0]["taxes"], [standard])

    def test_tax_rate_with_more_decimals_than_the_prices(self):
        # 8.875 % on 100.00: 8.875, as WooCommerce keeps line taxes unrounded
        # when it rounds at subtotal
        payload = fixture("order.json")
        del payload["tax_lines"][0]["rate_percent"]
        payload["line_items"] = payload["line_items"][:1]
        payload["line_items"][0].update(subtotal="100.00", total="100.00")
        payload["line_items"][0]["taxes"] = [
            {"id": 75, "total": "8.875", "subtotal": "8.875"}
        ]
        payload["shipping_lines"] = []
        payload["tax_lines"][0].update(tax_total="8.88", shipping_tax_total="0.00")
        [line] = self.canonical(payload)["lines"]
        self.assertEqual(line["taxes"][0]["rate"], 8.875)

    def test_tax_rate_that_neither_percentage_nor_amounts_tell_is_rejected(self):
        # 0.10 of tax on 0.50 may be 19, 20 or 21 % once rounded
        payload = fixture("order.json")
        payload["tax_lines"][0]["rate_percent"] = None
        payload["tax_lines"][0].update(tax_total="0.10", shipping_tax_total="0.00")
        payload["line_items"] = payload["line_items"][:1]
        payload["line_items"][0].update(subtotal="0.50", total="0.50")
        payload["line_items"][0]["taxes"] = [
            {"id": 75, "total": "0.1", "subtotal": "0.1"}
        ]
        payload["shipping_lines"] = []
        with self.assertRaises(PermanentError) as caught:
            self.adapter.to_canonical("order", payload)
        self.assertEqual(caught.exception.kind, "invalid_payload")
        self.assertEqual(caught.exception.json_path, "$.tax_lines[0].rate_percent")
        self.assertIn("do not tell it", caught.exception.message)

    def test_line_tax_of_an_unknown_rate_is_rejected(self):
        payload = fixture("order.json")
        payload["line_items"][1]["taxes"][0]["id"] = 99
        with self.assertRaisesRegex(PermanentError, "rate 99"):
            self.adapter.to_canonical("order", payload)

    def test_malformed_orders_are_permanent_errors(self):
        for broken in (
            [],
            {"number": "1"},
            dict(fixture("order.json"), line_items="x"),
            dict(fixture("order.json"), total="lots"),
        ):
            with self.assertRaises(PermanentError):
                self.adapter.to_canonical("order", broken)
        payload = fixture("order.json")
        payload["line_items"] = []
        with self.assertRaisesRegex(PermanentError, r"\$\.lines"):
            self.canonical(payload)

    def test_unsupported_kind(self):
        with self.assertRaises(PermanentError) as caught:
            self.adapter.to_canonical("stock_snapshot", fixture("order.json"))
        self.assertEqual(caught.exception.kind, "unsupported_topic")

    def test_refunds_become_returns_only_when_their_lines_are_known(self):
        payload = fixture("order.json")
        # as in an order.updated payload: id, reason and total, no lines
        payload["refunds"] = [{"id": 726, "reason": "", "total": "-12.96"}]
        self.assertEqual(map_refund_returns(payload), [])
        refund = fixture("order_refund.json")
        payload["refunds"] = [refund]
        returns = map_refund_returns(payload)
        for data in returns:
            validate("return", data)
        self.assertEqual(
            returns,
            [
                {
                    "external_id": "726",
                    "order_external_id": "727",
                    "created_at": "2025-03-24T20:07:11Z",
                    "reason": "Broken in transit",
                    "refund_amount": 12.96,
                    "currency": "USD",
                    "lines": [{"sku": "WOO-MUG-BLUE", "quantity": 1}],
                }
            ],
        )

    def test_event_id_is_resource_modification_and_digest(self):
        payload = fixture("order.json")
        event_id = resource_event_id(payload)
        self.assertTrue(event_id.startswith("727:2025-03-22T19:28:08:"))
        # the links name the site, not the order: they do not count
        payload["_links"] = {}
        self.assertEqual(resource_event_id(payload), event_id)
        payload["status"] = "completed"
        self.assertNotEqual(resource_event_id(payload), event_id)

    def test_signature_is_base64_hmac_sha256(self):
        # echo -n '{"id":1}' | openssl dgst -sha256 -hmac secret -binary | base64
        self.assertEqual(
            sign("secret", b'{"id":1}'),
            "A971iWIMgT8Zj9A9eWfikrFj7wQ16/Qwcc4OlRl2PLc=",
        )

    def test_secret_entities_are_decoded_like_woocommerce_does(self):
        self.assertEqual(
            wp_decode_entities("a&amp;b&lt;c&gt;d&quot;e&#039;f&amp;lt;"),
            "a&b<c>d\"e'f&lt;",
        )
