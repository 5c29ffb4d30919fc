from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_connector.errors import PermanentError

from ..adapters.amazon_mapping import map_order
from .common import amazon_order, fixture


def payload(order=None, items=None, address=True):
    return {
        "Order": order or amazon_order(),
        "OrderItems": items
        if items is not None
        else fixture("order_items.json")["payload"]["OrderItems"],
        "ShippingAddress": fixture("order_address.json")["payload"]["ShippingAddress"]
        if address
        else None,
    }


@tagged("-at_install", "post_install")
class TestMapping(TransactionCase):
    """The pulled pieces of an Amazon order -> the canonical order."""

    def test_unshipped_order(self):
        order = map_order(payload())
        self.assertEqual(order["external_id"], "902-3159896-1390916")
        self.assertEqual(order["status"], "paid")
        self.assertEqual(order["currency"], "EUR")
        self.assertEqual(order["updated_at"], "2025-03-01T09:20:00Z")
        self.assertEqual(order["total"], 41.4)
        self.assertEqual(
            order["lines"],
            [
                {
                    "external_id": "68828574383266",
                    "sku": "MUG-BLUE",
                    "name": "Blue mug",
                    "quantity": 2,
                    # ItemPrice is for the whole quantity
                    "unit_price": 12,
                    "taxes": [{"rate": 20.0}],
                },
                {
                    "external_id": "68828574383267",
                    "sku": "MUG-RED",
                    "name": "Red mug",
                    "quantity": 1,
                    "unit_price": 8.5,
                    "discount_amount": 1,
                    "taxes": [{"rate": 20.0}],
                },
            ],
        )
        self.assertEqual(
            order["shipping"],
            [
                {
                    "code": "Shipping",
                    "name": "Shipping MUG-RED",
                    "price": 3,
                    "taxes": [{"rate": 20.0}],
                }
            ],
        )
        self.assertEqual(order["shipping_address"]["country_code"], "DE")
        self.assertEqual(order["customer"]["name"], "Erika Mustermann")
        self.assertNotIn("note", order)
        self.assertEqual(
            order["channel_data"],
            {
                "fulfillment_channel": "MFN",
                "marketplace_id": "A1PA6795UKMFR9",
                "is_prime": True,
                "is_business_order": False,
                "earliest_ship_date": "2025-03-01T23:00:00Z",
                "latest_ship_date": "2025-03-03T22:59:59Z",
            },
        )

    def test_statuses(self):
        for status, expected in (
            ("PartiallyShipped", "paid"),
            ("Canceled", "cancelled"),
        ):
            order = map_order(payload(amazon_order(OrderStatus=status)))
            self.assertEqual(order["status"], expected, status)
        with self.assertRaises(PermanentError) as caught:
            map_order(payload(amazon_order(OrderStatus="Pending")))
        self.assertEqual(caught.exception.kind, "invalid_payload")

    def test_business_order_and_gift_wrap(self):
        order = amazon_order(
            IsBusinessOrder=True,
            # BuyerTaxInfo as the Orders API v0 model documents it
            BuyerInfo={
                "BuyerEmail": "einkauf@muster.example",
                "BuyerTaxInfo": {
                    "CompanyLegalName": "Muster GmbH",
                    "TaxingRegion": "DE",
                    "TaxClassifications": [
                        {"Name": "VATNumber", "Value": "DE123456789"}
                    ],
                },
            },
        )
        items = fixture("order_items.json")["payload"]["OrderItems"][:1]
        items[0]["BuyerInfo"] = {
            "GiftWrapPrice": {"CurrencyCode": "EUR", "Amount": "2.50"},
            "GiftWrapTax": {"CurrencyCode": "EUR", "Amount": "0.50"},
        }
        canonical = map_order(payload(order, items))
        self.assertEqual(canonical["customer"]["company_name"], "Muster GmbH")
        self.assertEqual(canonical["customer"]["vat"], "DE123456789")
        self.assertEqual(canonical["customer"]["email"], "einkauf@muster.example")
        self.assertTrue(canonical["channel_data"]["is_business_order"])
        self.assertEqual(
            canonical["shipping"],
            [
                {
                    "code": "GiftWrap",
                    "name": "Gift wrap MUG-BLUE",
                    "price": 2.5,
                    "taxes": [{"rate": 20.0}],
                }
            ],
        )

    def test_malformed(self):
        items = fixture("order_items.json")["payload"]["OrderItems"]
        items[1]["ItemPrice"]["CurrencyCode"] = "GBP"
        with self.assertRaises(PermanentError) as caught:
            map_order(payload(items=items))
        self.assertEqual(caught.exception.json_path, "$.OrderItems[1].ItemPrice")
        items = fixture("order_items.json")["payload"]["OrderItems"]
        del items[0]["SellerSKU"]
        with self.assertRaises(PermanentError) as caught:
            map_order(payload(items=items))
        self.assertEqual(caught.exception.json_path, "$.OrderItems[0].SellerSKU")
