"""Fulfillments with tracking, against a FakeServer playing Shopify."""

import copy

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_connector.errors import PermanentError
from odoo.addons.distribution_connector.tests.common import ChannelSetUpMixin

from .common import GRAPHQL_PATH, FakeShopifyMixin, cost, fixture

SHIPMENT = {
    "order_external_id": "5810000001001",
    "carrier": "UPS",
    "tracking_number": "1Z999AA10123456784",
    "tracking_url": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
    "lines": [
        {"sku": "MUG-BLUE", "quantity": 2, "line_external_id": "13000000000001"},
        {
            "sku": "variant:40000000000002",
            "quantity": 1,
            "line_external_id": "13000000000002",
        },
    ],
}


class FakeFulfillments:
    """An order's fulfillment orders; fulfillments lower what remains."""

    def __init__(self):
        self.answer = fixture("graphql_fulfillment_orders.json")
        self.created = []

    def lines(self):
        for node in self.answer["data"]["order"]["fulfillmentOrders"]["nodes"]:
            yield from node["lineItems"]["nodes"]

    def __call__(self, recorded):
        body = recorded.json()
        if "fulfillmentOrders(" in body["query"]:
            return 200, copy.deepcopy(self.answer), {}
        mutation = (
            "fulfillmentCreateV2"
            if "fulfillmentCreateV2(" in body["query"]
            else ("fulfillmentCreate")
        )
        fulfillment = body["variables"]["fulfillment"]
        remaining = {line["id"]: line for line in self.lines()}
        for group in fulfillment["lineItemsByFulfillmentOrder"]:
            for item in group["fulfillmentOrderLineItems"]:
                remaining[item["id"]]["remainingQuantity"] -= item["quantity"]
        self.created.append(fulfillment)
        data = {
            mutation: {
                "fulfillment": {
                    "id": f"gid://shopify/Fulfillment/{len(self.created)}",
                    "status": "SUCCESS",
                },
                "userErrors": [],
            }
        }
        return 200, {"data": data, "extensions": cost()}, {}


@tagged("-at_install", "post_install")
class TestFulfillment(ChannelSetUpMixin, FakeShopifyMixin, TransactionCase):
    def setUp(self):
        super().setUp()
        self.shopify = FakeFulfillments()
        self.server.route("POST", GRAPHQL_PATH, self.shopify)

    def test_fulfillment_with_tracking(self):
        result = self.adapter().export_fulfillment(SHIPMENT)
        self.assertEqual(result["external_id"], "gid://shopify/Fulfillment/1")
        (sent,) = self.shopify.created
        self.assertEqual(
            sent["trackingInfo"],
            {
                "number": "1Z999AA10123456784",
                "url": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
                "company": "UPS",
            },
        )
        self.assertFalse(sent["notifyCustomer"])
        self.assertEqual(
            sent["lineItemsByFulfillmentOrder"],
            [
                {
                    "fulfillmentOrderId": "gid://shopify/FulfillmentOrder/6600000000001",
                    "fulfillmentOrderLineItems": [
                        {
                            "id": "gid://shopify/FulfillmentOrderLineItem/6700000000001",
                            "quantity": 2,
                        },
                        {
                            "id": "gid://shopify/FulfillmentOrderLineItem/6700000000002",
                            "quantity": 1,
                        },
                    ],
                }
            ],
        )
        query = self.graphql_calls()[-1].json()["query"]
        self.assertIn("fulfillmentCreateV2(fulfillment:", query, "2025-01 names")
        self.assertIn("FulfillmentV2Input!", query)

    def test_newer_api_version_uses_fulfillment_create(self):
        self.backend.shopify_api_version = "2025-04"
        self.server.route("POST", "/admin/api/2025-04/graphql.json", self.shopify)
        result = self.adapter().export_fulfillment(SHIPMENT)
        self.assertEqual(result["external_id"], "gid://shopify/Fulfillment/1")
        query = self.server.calls("POST", "/admin/api/2025-04/graphql.json")[-1].json()[
            "query"
        ]
        self.assertIn("fulfillmentCreate(fulfillment:", query)
        self.assertIn("FulfillmentInput!", query)

    def test_partial_shipment_then_the_rest_then_nothing(self):
        first = dict(SHIPMENT, lines=[dict(SHIPMENT["lines"][0], quantity=1)])
        self.adapter().export_fulfillment(first)
        self.adapter().export_fulfillment(SHIPMENT)
        self.assertEqual(
            [
                [
                    item["quantity"]
                    for item in f["lineItemsByFulfillmentOrder"][0][
                        "fulfillmentOrderLineItems"
                    ]
                ]
                for f in self.shopify.created
            ],
            [[1], [1, 1]],
        )
        # a repeated export finds nothing left and sends nothing
        calls = len(self.graphql_calls())
        result = self.adapter().export_fulfillment(SHIPMENT)
        self.assertIsNone(result["external_id"])
        self.assertEqual(len(self.graphql_calls()), calls + 1, "only the lookup")
        self.assertEqual(len(self.shopify.created), 2)

    def test_matching_by_sku_without_line_ids(self):
        shipment = dict(
            SHIPMENT, lines=[{"sku": "MUG-BLUE", "quantity": 2}], tracking_url=None
        )
        self.adapter().export_fulfillment(shipment)
        (sent,) = self.shopify.created
        self.assertEqual(
            sent["trackingInfo"], {"number": "1Z999AA10123456784", "company": "UPS"}
        )

    def test_unknown_sku_is_refused(self):
        shipment = dict(SHIPMENT, lines=[{"sku": "MUG-GREEN", "quantity": 1}])
        error = self.failing(
            PermanentError, self.adapter().export_fulfillment, shipment
        )
        self.assertEqual(error.key, "MUG-GREEN")
        self.assertEqual(self.shopify.created, [])

    def test_user_errors_are_permanent(self):
        self.server.add(
            "POST", GRAPHQL_PATH, json_body=fixture("graphql_fulfillment_orders.json")
        )
        self.server.add(
            "POST",
            GRAPHQL_PATH,
            json_body={
                "data": {
                    "fulfillmentCreateV2": {
                        "fulfillment": None,
                        "userErrors": [
                            {
                                "field": ["fulfillment"],
                                "message": "Fulfillment order is on hold.",
                            }
                        ],
                    }
                }
            },
        )
        error = self.failing(
            PermanentError, self.adapter().export_fulfillment, SHIPMENT
        )
        self.assertIn("on hold", error.message)

    def test_unknown_order_and_malformed_answers(self):
        self.server.add("POST", GRAPHQL_PATH, json_body={"data": {"order": None}})
        error = self.failing(
            PermanentError, self.adapter().export_fulfillment, SHIPMENT
        )
        self.assertIn("does not know", error.message)
        broken = fixture("graphql_fulfillment_orders.json")
        broken["data"]["order"]["fulfillmentOrders"]["nodes"][0]["lineItems"]["nodes"][
            0
        ]["remainingQuantity"] = "two"
        self.server.add("POST", GRAPHQL_PATH, json_body=broken)
        self.failing(PermanentError, self.adapter().export_fulfillment, SHIPMENT)
        error = self.failing(
            PermanentError,
            self.adapter().export_fulfillment,
            dict(SHIPMENT, order_external_id="#1001"),
        )
        self.assertEqual(error.kind, "invalid_payload")
